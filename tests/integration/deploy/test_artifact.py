"""The artifact is checked before it leaves: a corrupt or misnamed wheel never reaches the
workspace (its version would be burnt: the good rebuild is refused as other bytes)."""

from __future__ import annotations

import pytest

from support.deployws import Workspace, cli, error_line, whl
from support.wheels import tamper_dist

pytestmark = pytest.mark.usefixtures("ws_env")


@pytest.mark.parametrize(
    ("how", "expect"),
    [
        ("altered", "tsff/cli.py does not match its RECORD hash (the file was altered)"),
        ("crc", "tsff-1.3.0-py3-none-any.whl"),
        ("version", "METADATA says version 91.3.0, the file name and the manifest say 1.3.0"),
        ("escape", "file name '../tsff-1.3.0-py3-none-any.whl' is not a bare file name"),
    ],
)
def test_a_bad_wheel_is_refused_before_any_request(
    ws: Workspace, capsys: pytest.CaptureFixture[str], how: str, expect: str
) -> None:
    dist = ws.dist("1.3.0")
    tamper_dist(dist, how)
    ws.emu.clear_log()
    assert cli(ws, "deploy", "--dist", str(dist)) == 2
    line = error_line(capsys)
    assert expect in line, line
    assert ws.emu.requests == []  # nothing sent: no folder, no lock, no upload
    assert not ws.emu.file_exists(whl("1.3.0"))
    # and the good build of the same version still deploys
    assert cli(ws, "deploy", "--dist", str(ws.dist("1.3.0"))) == 0

"""The wheel check deploy and publish run before any upload (wheelship.building.integrity)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.wheels import make_dist, tamper_dist
from wheelship.building.integrity import bare_name, check_wheel
from wheelship.errors import ArtifactError


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("tsff-1.0-py3-none-any.whl", True),
        ("../tsff-1.0-py3-none-any.whl", False),
        ("dist/tsff-1.0-py3-none-any.whl", False),
        ("dist\\tsff.whl", False),
        (".hidden.whl", False),
        ("..", False),
        ("", False),
        (" tsff.whl", False),
        ("c:tsff.whl", False),
    ],
)
def test_bare_names(name: str, ok: bool) -> None:
    assert bare_name(name) is ok


def wheel_of(dist: Path) -> Path:
    return next(dist.glob("*.whl"))


def test_an_intact_wheel_passes(tmp_path: Path) -> None:
    check_wheel(wheel_of(make_dist(tmp_path / "d", "tsff", "1.3.0")), "tsff", "1.3.0")


@pytest.mark.parametrize(
    ("how", "expect"),
    [
        ("altered", r"tsff/cli\.py does not match its RECORD hash"),
        ("crc", r"tsff-1\.3\.0-py3-none-any\.whl"),
        ("version", r"METADATA says version 91\.3\.0"),
    ],
)
def test_a_spoiled_wheel_is_refused(tmp_path: Path, how: str, expect: str) -> None:
    dist = make_dist(tmp_path / "d", "tsff", "1.3.0")
    tamper_dist(dist, how)
    with pytest.raises(ArtifactError, match=expect) as info:
        check_wheel(wheel_of(dist), "tsff", "1.3.0")
    assert info.value.exit_code == 2
    assert info.value.fix == "rebuild with 'wheelship build' and deploy or publish that build"


def test_a_wheel_of_another_version_or_not_a_zip(tmp_path: Path) -> None:
    wheel = wheel_of(make_dist(tmp_path / "d", "tsff", "1.3.0"))
    with pytest.raises(ArtifactError, match=r"is not a wheel of tsff 1\.4\.0"):
        check_wheel(wheel, "tsff", "1.4.0")
    wheel.write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match="is not a readable zip archive"):
        check_wheel(wheel, "tsff", "1.3.0")

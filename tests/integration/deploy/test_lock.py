"""The workspace lock of a target: one deploy at a time, from anywhere; plan and status show it."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from support.deployws import ART, LOCK_NAME, Workspace, cli, error_line, unchanged
from wheelship.deploy import workflow
from wheelship.deploy.report import status_text as report_text

pytestmark = pytest.mark.usefixtures("ws_env")
LOCK = f"{ART}/{LOCK_NAME}"
PIPELINE = "https://gitlab.example.com/other/project/-/jobs/77"


def hold(ws: Workspace, **over: Any) -> dict[str, Any]:
    """Put a lock file there as another deploy would have written it."""
    info: dict[str, Any] = {
        "target": "prod",
        "holder": PIPELINE,
        "host": "runner-7",
        "pid": 4242,
        "started": time.time(),
        "ttl": 7200,
        "token": "other-deploy",
        "command": "deploy",
        "version": "1.2.5",
    }
    info.update(over)
    ws.emu.put_file(LOCK, json.dumps(info).encode())
    ws.emu.clear_log()
    return info


def test_a_held_lock_makes_deploy_wait_then_exit_with_one_line(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.config(lock={"wait": 1})
    hold(ws)
    started = time.monotonic()
    assert cli(ws, "deploy", "--dist", str(ws.dist("1.3.0"))) == 1
    assert 1 <= time.monotonic() - started < 20
    captured = capsys.readouterr()
    line = [x for x in captured.err.splitlines() if x.startswith("error:")]
    assert len(line) == 1
    assert line[0].startswith(
        f"error: target prod is locked by {PIPELINE} (deploy 1.2.5, host runner-7, since "
    )
    assert line[0].endswith(
        "— wait for that deploy to finish and run again (raise lock.wait to wait longer); "
        "if it is gone, 'wheelship deploy --force-unlock' removes the lock"
    )
    assert f"waiting for the lock of prod: held by {PIPELINE}" in captured.err
    # nothing changed, and the other deploy's lock is still there
    writes = {f"{r.method} {r.path}" for r in ws.emu.requests if r.method != "GET"}
    assert writes == {f"PUT /api/2.0/fs/files{LOCK}"}  # the attempts to take it
    assert json.loads(ws.emu.read_file(LOCK))["token"] == "other-deploy"


def test_plan_and_status_show_a_held_lock(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    hold(ws)
    assert cli(ws, "plan", "--dist", str(ws.dist("1.3.0"))) == 0
    out = capsys.readouterr()
    assert f"target prod is locked by {PIPELINE} (deploy 1.2.5" in out.err + out.out
    assert f"target prod is locked by {PIPELINE}" in (ws.root / "out" / "plan.md").read_text()
    assert cli(ws, "status") == 0
    assert f"note: target prod is locked by {PIPELINE}" in capsys.readouterr().out
    assert [r for r in ws.emu.requests if r.method != "GET"] == []


@pytest.mark.parametrize(
    "stale",
    [
        {"started": time.time() - 3 * 3600},  # older than its TTL
        {"host": socket.gethostname(), "pid": 2**22 + 12345},  # this host, process gone
    ],
    ids=["ttl", "dead-process"],
)
def test_a_stale_lock_is_taken_over(
    ws: Workspace, capsys: pytest.CaptureFixture[str], stale: dict[str, Any]
) -> None:
    hold(ws, **stale)
    assert cli(ws, "deploy", "--dist", str(ws.dist("1.3.0"))) == 0
    assert "taking over a stale lock" in capsys.readouterr().err
    assert not ws.emu.file_exists(LOCK)  # released at the end


def test_force_unlock_removes_a_live_lock(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.config(lock={"wait": 0})
    hold(ws)
    assert cli(ws, "deploy", "--dist", str(ws.dist("1.3.0")), "--force-unlock") == 0
    assert f"--force-unlock: removing the lock of {PIPELINE}" in capsys.readouterr().err
    assert not ws.emu.file_exists(LOCK)


def test_a_refused_deploy_releases_its_lock(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.config(smoke={"job": "no-such-job"})
    ws.emu.clear_log()
    assert cli(ws, "deploy", "--dist", str(ws.dist("1.3.0"))) == 2
    assert "no job named 'no-such-job'" in error_line(capsys)
    unchanged(ws)


def test_two_deploys_of_different_versions_at_once_never_leave_two_versions_live(
    workspace_factory: Callable[..., Workspace],
) -> None:
    """Both start together; the second waits for the first, then deploys its own version. The
    emulator checks after every change that no cluster ever has two versions."""
    ws = workspace_factory(clock_speed=50)
    ws.config(
        keep=5,
        clusters={"mode": "automated", "tags": {"tsff": "prod"}, "restart": "always", "wait": 600},
    )
    dists = {v: ws.dist(v) for v in ("1.3.0", "1.4.0")}
    outcomes: dict[str, Any] = {}
    go = threading.Barrier(2)

    def deploy(version: str) -> None:
        go.wait()
        try:
            outcomes[version] = workflow.run_deploy(
                ws.settings(version, dist=dists[version], out=ws.root / f"out-{version}"),
                ws.knobs(),
            )
        except Exception as exc:
            outcomes[version] = exc

    threads = [threading.Thread(target=deploy, args=(v,)) for v in dists]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(not isinstance(o, Exception) for o in outcomes.values()), outcomes
    ws.emu.settle()
    st = workflow.run_status(ws.settings(), ws.knobs())
    assert len(st.live) == 1 and st.live[0] in dists, report_text(st)
    assert not ws.emu.file_exists(LOCK)

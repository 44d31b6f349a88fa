"""Bad input: one clear line, the right exit code, and the workspace unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.deployws import ART, Workspace, cli, error_line, unchanged, whl
from support.net import free_port
from support.wheels import make_wheel

pytestmark = pytest.mark.usefixtures("ws_env")


def run(
    ws: Workspace,
    capsys: pytest.CaptureFixture[str],
    command: str,
    *extra: str,
    dist: Path | None = None,
) -> tuple[int, str]:
    if command in {"deploy", "plan"}:
        extra = ("--dist", str(dist or ws.dist("1.3.0")), *extra)
    return cli(ws, command, *extra), error_line(capsys)


def test_unknown_cluster_id(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    ws.config(clusters={"mode": "automated", "ids": ["0101-000000-nope0000"]})
    code, line = run(ws, capsys, "deploy")
    assert code == 2
    assert (
        line
        == "error: unknown cluster id '0101-000000-nope0000' in clusters.ids — check the id in the Compute UI, or remove it from wheelship.yml"
    )
    unchanged(ws)


def test_unknown_job_id(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    ws.config(jobs={"select": "listed", "ids": [999]})
    code, line = run(ws, capsys, "deploy")
    assert code == 2
    assert (
        line
        == "error: unknown job id 999 in jobs.ids — check the id in the Jobs UI, or remove it from wheelship.yml"
    )
    unchanged(ws)


def test_unknown_smoke_job(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    ws.config(smoke={"job": "no-such-job"})
    code, line = run(ws, capsys, "deploy")
    assert code == 2
    assert (
        line
        == "error: targets.prod.smoke.job: no job named 'no-such-job' — check the job name, or use its id"
    )
    unchanged(ws)


def test_existing_version_with_other_bytes_is_never_overwritten(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    other = make_wheel(ws.root / "other", "tsff", "1.3.0", payload=b"rebuilt")
    ws.emu.put_file(whl("1.3.0"), other.read_bytes())
    ws.emu.clear_log()
    code, line = run(ws, capsys, "deploy")
    assert code == 2
    assert line.startswith(f"error: {whl('1.3.0')} already exists with different bytes (")
    assert line.endswith("— a released version is never overwritten: release a new version")
    unchanged(ws)
    assert ws.emu.read_file(whl("1.3.0")) == other.read_bytes()


def test_unreachable_host(
    ws: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("DATABRICKS_HOST", f"http://127.0.0.1:{port}")
    code, line = run(ws, capsys, "plan")
    assert code == 1
    assert line == (
        f"error: plan: list jobs: cannot reach http://127.0.0.1:{port}: connection refused — "
        "check the workspace URL (host: / DATABRICKS_HOST) and the network"
    )


def test_invalid_token(
    ws: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-wrong-token")
    code, line = run(ws, capsys, "status")
    assert code == 1
    assert "Invalid access token" in line and "check the credentials for" in line
    assert "dapi-wrong-token" not in line


def test_token_without_any_permission(
    ws: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.deployws import NOBODY

    monkeypatch.setenv("DATABRICKS_TOKEN", NOBODY)
    code, line = run(ws, capsys, "deploy")
    assert code == 2  # refused at the first write: the lock file
    assert line.startswith(f"error: the deploy identity may not write to {ART} ")
    assert ": PERMISSION_DENIED: " in line
    unchanged(ws)


def test_missing_folder_is_created(ws: Workspace) -> None:
    from wheelship.deploy import workflow

    ws.config(artifacts="/Volumes/ml/tsff/wheels/new-folder")
    plan, _ = workflow.run_deploy(ws.settings("1.3.0"), ws.knobs())
    # the lock file, the deploy's first write, made the folder
    assert plan.upload is not None and not plan.upload.create_folder
    assert ws.emu.file_exists(f"{ART}/new-folder/tsff-1.3.0-py3-none-any.whl")
    assert ws.emu.invariants() == []

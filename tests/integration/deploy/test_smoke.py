"""The smoke run is not confused by a run of the job that is already active: it waits for its own
run when the job queues, and says precisely why when the workspace skipped it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from support.deployws import Workspace
from wheelship.deploy import workflow
from wheelship.errors import DatabricksError

SMOKE = 105
pytestmark = pytest.mark.usefixtures("ws_env")


def start_other_run(ws: Workspace, seconds: float) -> int:
    """Someone else's run of the smoke job, running for ``seconds`` of simulated time."""
    durations = ws.emu.durations
    normal = durations.run_execute
    durations.run_execute = seconds
    run_id = int(ws.post("/api/2.2/jobs/run-now", {"job_id": SMOKE})["run_id"])
    ws.emu.advance(durations.run_setup + 1)
    durations.run_execute = normal
    return run_id


def test_a_skipped_smoke_run_is_reported_precisely(
    workspace_factory: Callable[..., Workspace],
) -> None:
    ws = workspace_factory(clock_speed=0)
    ws.config(keep=5, clusters={"mode": "off"}, smoke={"job": "tsff-smoke", "timeout": 600})
    ws.post(
        "/api/2.2/jobs/update",
        {"job_id": SMOKE, "new_settings": {"max_concurrent_runs": 1, "queue": {"enabled": False}}},
    )
    other = start_other_run(ws, 1e6)
    with pytest.raises(DatabricksError) as info:
        workflow.run_deploy(ws.settings(), ws.knobs())
    text = str(info.value)
    assert "was SKIPPED: job 105 (tsff-smoke) was already running run " + str(other) in text
    assert "enable queue on the smoke job" in text
    runs = ws.emu.runs(SMOKE)
    assert {r["run_id"] for r in runs} >= {other}  # the other run was left alone


def test_a_queued_smoke_run_waits_for_its_own_run(
    workspace_factory: Callable[..., Workspace], capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace_factory(clock_speed=20)
    ws.config(keep=5, clusters={"mode": "off"}, smoke={"job": "tsff-smoke", "timeout": 600})
    ws.post("/api/2.2/jobs/update", {"job_id": SMOKE, "new_settings": {"max_concurrent_runs": 1}})
    other = start_other_run(ws, 40)
    _plan, result = workflow.run_deploy(ws.settings(), ws.knobs())
    assert result.smoke is not None and result.smoke["result"] == "SUCCESS"
    assert result.smoke["run_id"] != other
    assert f"is queued behind run {other}" in capsys.readouterr().err

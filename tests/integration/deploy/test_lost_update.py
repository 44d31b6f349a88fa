"""No lost updates, no half-done job phase: a job edited between wheelship's read and its write
keeps the edit; a job phase that fails for good puts back the jobs it had already repointed."""

from __future__ import annotations

from typing import Any

import pytest

from support.deployws import Workspace, whl
from wheelship.databricks import jobs as jobs_api
from wheelship.deploy import references, workflow
from wheelship.errors import DatabricksError

pytestmark = pytest.mark.usefixtures("ws_env")


def edit_job(ws: Workspace, job_id: int, new_settings: dict[str, Any]) -> None:
    """Another user edits the job (through the API, as the UI does)."""
    ws.post("/api/2.2/jobs/update", {"job_id": job_id, "new_settings": new_settings})


def test_an_edit_made_after_the_plan_read_the_job_is_kept(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.config(keep=5, clusters={"mode": "off"})
    original = workflow.planning.plan

    def plan_then_someone_edits(*args: Any, **kw: Any) -> Any:
        result = original(*args, **kw)
        train = next(t for t in ws.emu.job_settings(101)["tasks"] if t["task_key"] == "train")
        edit_job(ws, 101, {"tasks": [{**train, "timeout_seconds": 7200, "max_retries": 2}]})
        return result

    monkeypatch.setattr(workflow.planning, "plan", plan_then_someone_edits)
    _plan, result = workflow.run_deploy(ws.settings(), ws.knobs())
    train = next(t for t in ws.emu.job_settings(101)["tasks"] if t["task_key"] == "train")
    assert train["timeout_seconds"] == 7200 and train["max_retries"] == 2  # the edit survived
    assert references.referenced_versions(ws.emu.job_settings(101), "tsff") == {"1.3.0"}
    step = next(s for s in result.steps if s.step == "repoint job" and s.obj.startswith("101 "))
    assert step.detail.endswith("planned again: the job changed since it was read")
    # the others were not edited: planned once
    assert all(
        "planned again" not in s.detail for s in result.steps if not s.obj.startswith("101 ")
    )


def test_a_job_phase_that_fails_for_good_puts_the_repointed_jobs_back(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.config(keep=5, clusters={"mode": "off"})
    before = ws.emu.jobs()
    real_update = jobs_api.update
    calls = []

    def update(client: Any, job_id: int, new_settings: Any) -> None:
        calls.append(job_id)
        if len(calls) == 3:  # the third job: the workspace refuses for good
            ws.emu.add_fault("403", endpoint="POST /api/2.2/jobs/update", count=1)
        real_update(client, job_id, new_settings)

    monkeypatch.setattr(jobs_api, "update", update)
    with pytest.raises(DatabricksError) as info:
        workflow.run_deploy(ws.settings(concurrency=1), ws.knobs())
    assert "2 of 2 job(s) already repointed were put back" in str(info.value)
    assert ws.emu.jobs() == before  # every job on 1.2.0, as before: no mixed versions
    assert ws.emu.file_exists(whl("1.3.0"))  # the upload stays (nothing references it)
    report = (ws.root / "out" / "deploy-report.md").read_text()
    assert report.count("restore job") == 2

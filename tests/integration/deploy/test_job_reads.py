"""How the deploy reads each job right before writing it, and back afterwards.

The plan's read records which ``jobs/list`` page held which job. The job phase reads again only
the pages that hold a job to change, each right before its jobs' updates; the read-back after
the changes reads only the pages of the selected jobs. Nothing relies on the pages standing
still: a job they no longer show, a page that cannot be read again, or a read older than
``FRESH_FOR`` falls back to ``jobs/get``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from support.deployws import Workspace, other_teams_jobs, seed_jobs
from wheelship.databricks import jobs as jobs_api
from wheelship.deploy import apply, references, workflow
from wheelship.errors import DatabricksError, NotConverged


def lists(ws: Workspace) -> list[Any]:
    return [r for r in ws.emu.requests if r.path == "/api/2.2/jobs/list"]


def gets(ws: Workspace) -> list[int]:
    return [int(r.query["job_id"][0]) for r in ws.emu.requests if r.path == "/api/2.2/jobs/get"]


def all_on(ws: Workspace, version: str) -> bool:
    return all(
        references.referenced_versions(s, "tsff") in (set(), {version})
        for s in ws.emu.jobs().values()
    )


@pytest.fixture
def crowded(workspace_factory: Callable[..., Workspace]) -> Workspace:
    """The seed jobs (the oldest) behind 250 newer jobs of other teams: three list pages, the
    jobs to change on the last one."""
    ws = workspace_factory(jobs=[*seed_jobs(), *other_teams_jobs(250)])
    ws.config(clusters={"mode": "off"})
    return ws


def test_only_the_page_that_holds_the_jobs_is_read_again(crowded: Workspace) -> None:
    ws = crowded
    plan, result = workflow.run_deploy(ws.settings("1.3.0"), ws.knobs())
    changed = {j.job_id for j in plan.jobs}
    assert len(changed) >= 3 and all_on(ws, "1.3.0")
    assert result.job_reads == "pages"
    assert gets(ws) == []  # every changed job was written from its page
    pages = lists(ws)
    # the plan's read: 3 pages; the page with the jobs, right before their updates; the same
    # page again after them (the read-back)
    assert len(pages) == 3 + 1 + 1
    assert pages[3].query == pages[4].query == pages[2].query
    assert 0 <= result.oldest_read <= apply.FRESH_FOR
    assert ws.emu.invariants() == []
    # the report says how fresh the reads were
    report = json.loads((ws.root / "out" / "deploy-report.json").read_text())
    assert report["job_reads"] == "pages" and report["oldest_read"] == result.oldest_read
    md = (ws.root / "out" / "deploy-report.md").read_text()
    assert "every changed job was written from a read at most" in md


def test_a_read_older_than_fresh_for_is_taken_again_with_get(
    crowded: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = crowded
    monkeypatch.setattr(apply, "FRESH_FOR", 0.0)  # every page read is already too old
    plan, _result = workflow.run_deploy(ws.settings("1.3.0"), ws.knobs())
    assert sorted(gets(ws)) == sorted(j.job_id for j in plan.jobs)
    assert all_on(ws, "1.3.0")


def test_jobs_created_meanwhile_shift_the_pages_and_nothing_is_missed(
    workspace_factory: Callable[..., Workspace], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jobs created between the plan's read and the writes shift every page of the list (it
    is newest first): the jobs to change, last on the first page, move to the second, which
    held nothing to change; each is read with jobs/get right before its write, and the
    read-back, which reads the first page again, gets them too."""
    ws = workspace_factory(
        jobs=[*other_teams_jobs(100, first=1), *seed_jobs()[:2], *other_teams_jobs(98)]
    )
    ws.config(clusters={"mode": "off"})
    original = workflow.planning.plan
    made: list[int] = []

    def plan_then_others_create_jobs(*args: Any, **kw: Any) -> Any:
        result = original(*args, **kw)
        if not made:
            for i in range(3):
                made.append(
                    ws.post("/api/2.2/jobs/create", other_teams_jobs(1, 9000 + i)[0]["settings"])[
                        "job_id"
                    ]
                )
        return result

    monkeypatch.setattr(workflow.planning, "plan", plan_then_others_create_jobs)
    plan, result = workflow.run_deploy(ws.settings("1.3.0"), ws.knobs())
    assert sorted(j.job_id for j in plan.jobs) == [101, 102]
    assert result.job_reads == "pages"
    assert sorted(gets(ws)) == [101, 101, 102, 102]  # before the write, and in the read-back
    assert all_on(ws, "1.3.0")
    assert {v["id"] for v in result.versions if v["kind"] == "job"} == {"101", "102"}
    assert ws.emu.invariants() == []


def test_a_page_that_cannot_be_read_again_falls_back_to_get(
    crowded: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = crowded

    def refused(client: Any, token: str | None) -> list[dict[str, Any]]:
        raise DatabricksError("INVALID_PARAMETER_VALUE: the page token expired", "list again")

    monkeypatch.setattr(jobs_api, "read_page", refused)
    plan, result = workflow.run_deploy(ws.settings("1.3.0"), ws.knobs())
    assert sorted(gets(ws)) == sorted(j.job_id for j in plan.jobs)
    assert any("could not be read again" in w for w in result.warnings)
    assert all_on(ws, "1.3.0")


def test_jobs_spread_over_many_pages_are_read_with_get(
    workspace_factory: Callable[..., Workspace],
) -> None:
    """Two jobs to change on two different pages: two pages one after another take longer
    than two gets at once, so the deploy gets them."""
    old = seed_jobs()[:1]
    ws = workspace_factory(
        jobs=[*old, *other_teams_jobs(150), *[{**j, "job_id": 102} for j in seed_jobs()[1:2]]]
    )
    ws.config(clusters={"mode": "off"})
    plan, result = workflow.run_deploy(ws.settings("1.3.0"), ws.knobs())
    assert sorted(j.job_id for j in plan.jobs) == [101, 102]
    assert result.job_reads == "get"
    assert sorted(gets(ws)) == [101, 102]
    assert all_on(ws, "1.3.0")


def test_a_selected_job_edited_back_after_its_write_fails_the_check(
    crowded: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read-back reads the selected jobs after their writes: someone putting a job back on
    the old version right after wheelship wrote it makes the deploy fail, naming the job."""
    ws = crowded
    real = jobs_api.update
    before = {101: ws.emu.job_settings(101)}

    def update(client: Any, job_id: int, new_settings: Any) -> None:
        real(client, job_id, new_settings)
        if job_id == 101:
            ws.post("/api/2.2/jobs/reset", {"job_id": 101, "new_settings": before[101]})

    monkeypatch.setattr(jobs_api, "update", update)
    with pytest.raises(NotConverged) as info:
        workflow.run_deploy(ws.settings("1.3.0"), ws.knobs())
    assert "job 101 (tsff-train) references 1.2.0" in str(info.value)

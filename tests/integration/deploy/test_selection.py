"""What a deploy may select: empty selections are refused before any change; jobs deployed by a
bundle or defined in git are named, skipped when a filter matched them, refused when named."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from support.deployws import Workspace, cli, error_line, seed_jobs, unchanged, whl
from wheelship.deploy import workflow

pytestmark = pytest.mark.usefixtures("ws_env")


def test_a_job_selection_that_matches_nothing_is_refused_before_any_change(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.config(jobs={"names": ["tsff-trian"]})  # a typo
    ws.emu.clear_log()
    assert cli(ws, "deploy", "--dist", str(ws.dist("1.3.0"))) == 2
    assert error_line(capsys) == (
        "error: targets.prod.jobs: the selection matches no job that references tsff "
        "(names tsff-trian) — fix the selection (a job named here must exist and be visible "
        "to the deploy identity), or set jobs.allow_empty: true to deploy to clusters only"
    )
    unchanged(ws)
    assert not ws.emu.file_exists(whl("1.3.0"))


def test_a_cluster_group_that_matches_nothing_is_refused(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.config(clusters={"mode": "automated", "tags": {"tsff": "prdo"}})
    ws.emu.clear_log()
    assert cli(ws, "deploy", "--dist", str(ws.dist("1.3.0"))) == 2
    assert error_line(capsys).startswith(
        "error: targets.prod.clusters: the automated group matches no all-purpose cluster — "
    )
    unchanged(ws)


def test_allow_empty_deploys_anyway(ws: Workspace) -> None:
    ws.config(jobs={"names": ["nothing-*"], "allow_empty": True}, clusters={"mode": "off"})
    plan, _ = workflow.run_deploy(ws.settings(), ws.knobs())
    assert plan.upload is not None and plan.jobs == ()


def bundled() -> list[dict[str, Any]]:
    """The seed's jobs; 101 is deployed by a bundle, 102 is defined in git."""
    jobs = seed_jobs()
    jobs[0]["settings"]["deployment"] = {
        "kind": "BUNDLE",
        "metadata_file_path": "/Workspace/Users/ci/.bundle/tsff/prod/state/metadata.json",
    }
    jobs[0]["settings"]["edit_mode"] = "UI_LOCKED"
    jobs[1]["settings"]["git_source"] = {
        "git_url": "https://gitlab.example.com/ml/tsff.git",
        "git_provider": "gitLab",
        "git_branch": "main",
        "job_source": {
            "job_config_path": "jobs/score.yml",
            "import_from_git_branch": "main",
            "dirty_state": "NOT_SYNCED",
        },
    }
    return jobs


def test_managed_jobs_matched_by_a_filter_are_skipped_and_named(
    workspace_factory: Callable[..., Workspace],
) -> None:
    ws = workspace_factory(jobs=bundled())
    ws.config(keep=5)
    before = {j: ws.emu.job_settings(j) for j in (101, 102)}
    plan = workflow.run_plan(ws.settings(), ws.knobs())
    assert [(s.id, s.reason.split(" (")[0]) for s in plan.skipped] == [
        ("101", "deployed by a Databricks Asset Bundle"),
        ("102", "defined in git"),
    ]
    md = (ws.root / "out" / "plan.md").read_text()
    assert (
        "## Skipped" in md and "job 101 (tsff-train): deployed by a Databricks Asset Bundle" in md
    )
    plan, result = workflow.run_deploy(ws.settings(), ws.knobs())
    assert [j.job_id for j in plan.jobs] == [103, 105]
    assert {j: ws.emu.job_settings(j) for j in (101, 102)} == before  # untouched
    assert any("change its wheel reference there" in w for w in plan.warnings)
    # they stay on 1.2.0: drift, reported, not a failure of the deploy
    assert any(
        p.startswith("job 101 (tsff-train): deployed by a Databricks") for p in result.pending
    )
    st = workflow.run_status(ws.settings(), ws.knobs())
    assert st.drift


def test_a_managed_job_named_by_id_is_refused(
    workspace_factory: Callable[..., Workspace],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws = workspace_factory(jobs=bundled())
    for key, value in ws.env.items():
        monkeypatch.setenv(key, value)
    ws.config(jobs={"select": "listed", "ids": [101, 103]})
    ws.emu.clear_log()
    assert cli(ws, "deploy", "--dist", str(ws.dist("1.3.0"))) == 2
    line = error_line(capsys)
    assert line.startswith("error: job 101 (tsff-train) is deployed by a Databricks Asset Bundle")
    assert line.endswith("or set jobs.managed: rewrite if you mean it")
    unchanged(ws)


def test_the_opt_in_rewrites_managed_jobs(workspace_factory: Callable[..., Workspace]) -> None:
    ws = workspace_factory(jobs=bundled())
    ws.config(keep=5, jobs={"managed": "rewrite"})
    plan, _ = workflow.run_deploy(ws.settings(), ws.knobs())
    assert [j.job_id for j in plan.jobs] == [101, 102, 103, 105] and plan.skipped == ()
    # the bundle metadata is kept as it was (only the references changed)
    assert json.dumps(ws.emu.job_settings(101)["deployment"]).count("BUNDLE") == 1

"""No half-done deploys from permissions, in a shared workspace: the deploy identity manages some
jobs and clusters, may only view others, cannot see some at all, and one job belongs to a bundle.
Before the first change the deploy finds every problem (Permissions API, SCIM Me) and refuses,
naming each; with ``skip_denied`` it leaves those objects as they are and reports them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from support.deployws import CLUSTERS, DEPLOYER, LOCK_NAME, Workspace, shared_workspace, whl
from wheelship.deploy import workflow
from wheelship.errors import AccessDenied

IDLE, BUSY, TERM, ADMIN, OTHER = CLUSTERS
pytestmark = pytest.mark.usefixtures("ws_env")


def as_deployer(ws: Workspace) -> Any:
    return ws.knobs(environ={**ws.env, "DATABRICKS_TOKEN": DEPLOYER})


@pytest.fixture
def shared(workspace_factory: Callable[..., Workspace]) -> Workspace:
    ws = workspace_factory(**shared_workspace(), clock_speed=50)
    ws.config(
        keep=5,
        clusters={"mode": "automated", "tags": {"tsff": "prod"}, "restart": "always", "wait": 600},
    )
    return ws


def test_every_problem_is_found_before_the_first_change(shared: Workspace) -> None:
    ws = shared
    before = ws.snapshot()
    ws.emu.clear_log()
    with pytest.raises(AccessDenied) as info:
        workflow.run_deploy(ws.settings(), as_deployer(ws))
    text = str(info.value)
    assert text.startswith("the deploy identity deployer@example.com may not make 2 change(s)")
    assert "job 103 (tsff-serverless) needs CAN_MANAGE, the identity has CAN_VIEW" in text
    assert f"cluster {BUSY} (ml-busy) needs CAN_MANAGE, the identity has CAN_RESTART" in text
    assert text.endswith("(reported as drift); nothing was changed")
    assert info.value.exit_code == 2
    assert ws.snapshot() == before
    writes = {r.path for r in ws.emu.requests if r.method != "GET"}
    assert all(p.endswith(LOCK_NAME) for p in writes)  # the lock only, taken and released
    assert not ws.emu.file_exists(whl("1.3.0"))


def test_skip_denied_leaves_them_as_drift_and_names_each(shared: Workspace) -> None:
    ws = shared
    ws.config(
        keep=5,
        skip_denied=True,
        clusters={"mode": "automated", "tags": {"tsff": "prod"}, "restart": "always", "wait": 600},
    )
    plan, result = workflow.run_deploy(ws.settings(), as_deployer(ws))
    skipped = {s.label: s.reason for s in plan.skipped}
    assert set(skipped) == {
        "job 103 (tsff-serverless)",
        f"cluster {BUSY} (ml-busy)",
        "job 108 (tsff-bundled)",
    }
    assert skipped["job 103 (tsff-serverless)"].startswith("the deploy identity may not change it")
    # the job log names each object skip_denied left behind, not only the report
    denied = [w for w in plan.warnings if "skipped (skip_denied)" in w]
    assert sorted(w.split(" skipped")[0] for w in denied) == [
        f"cluster {BUSY} (ml-busy)",
        "job 103 (tsff-serverless)",
    ]
    # every object the deploy changed is on 1.3.0 alone; the skipped ones on 1.2.0, named
    on = {v["id"]: v["versions"] for v in result.versions}
    assert on["101"] == on["102"] == on["105"] == ["1.3.0"] and on[IDLE] == ["1.3.0"]
    assert on["103"] == on["108"] == ["1.2.0"] and on[BUSY] == ["1.2.0"]
    assert {p.split(":")[0] for p in result.pending} >= {
        "job 103 (tsff-serverless)",
        f"cluster {BUSY} (ml-busy)",
        "job 108 (tsff-bundled)",
    }
    # the job it cannot see is untouched and was never a candidate
    assert "107" not in on
    assert whl("1.2.0") in str(ws.emu.job_settings(107))
    assert ws.emu.invariants() == []


def test_plan_and_status_say_what_a_non_admin_means_for_retention(shared: Workspace) -> None:
    ws = shared
    ws.config(keep=5, skip_denied=True, clusters={"mode": "off"})
    plan = workflow.run_plan(ws.settings(), as_deployer(ws))
    # the plan is what deploy will do: the job it may not change is left alone, and named
    assert 103 not in {j.job_id for j in plan.jobs}
    assert "job 103 (tsff-serverless)" in [s.label for s in plan.skipped]
    assert (
        "job 103 (tsff-serverless) skipped (skip_denied): the deploy identity may not change it "
        "(needs CAN_MANAGE, has CAN_VIEW) — it stays on its version (drift)" in plan.warnings
    )
    note = next(w for w in plan.warnings if "is not a workspace admin" in w)
    assert note.startswith("the deploy identity deployer@example.com is not a workspace admin")
    assert "min_age_days" in note
    st = workflow.run_status(ws.settings(), as_deployer(ws))
    assert any("is not a workspace admin" in n for n in st.notes)
    admin_plan = workflow.run_plan(ws.settings(), ws.knobs())
    assert not any("workspace admin" in w for w in admin_plan.warnings)

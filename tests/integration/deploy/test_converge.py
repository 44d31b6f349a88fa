"""Converge or fail: a deploy (or a rerun that finds nothing to change) exits 0 only when every
selected job references only the new version and every automated cluster has it INSTALLED with
no other version loaded; the report says which object is on which version."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from support.deployws import CLUSTERS, Workspace, cli, error_line, seed_clusters
from wheelship.deploy import workflow
from wheelship.errors import DatabricksError

IDLE = CLUSTERS[0]
OLD = "0101-000000-oldrt0001"
pytestmark = pytest.mark.usefixtures("ws_env")
ALWAYS = {"mode": "automated", "tags": {"tsff": "prod"}, "restart": "always", "wait": 600}


def with_old_runtime() -> list[dict[str, Any]]:
    """The seed's clusters plus one on Databricks Runtime 12.2: wheels from a volume need 13.3,
    so the new version FAILS to install there after the restart."""
    old = {
        "cluster_id": OLD,
        "cluster_name": "ml-old-runtime",
        "state": "RUNNING",
        "spark_version": "12.2.x-scala2.12",
        "custom_tags": {"tsff": "prod"},
        "libraries": [],
    }
    return [*seed_clusters(), old]


def test_a_failed_install_fails_the_deploy_and_every_rerun_with_its_message(
    workspace_factory: Callable[..., Workspace],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws = workspace_factory(clusters=with_old_runtime(), clock_speed=100)
    for key, value in ws.env.items():
        monkeypatch.setenv(key, value)
    ws.config(keep=5, clusters=ALWAYS)
    dist = str(ws.dist("1.3.0"))
    assert cli(ws, "deploy", "--dist", dist) == 1
    first = error_line(capsys)
    assert "FAILED" in first and OLD in first and "13.3" in first
    # the report makes the state explicit: which object is on which version after the failure
    report = json.loads((ws.root / "out" / "deploy-report.json").read_text())
    on = {v["id"]: v["versions"] for v in report["versions"]}
    assert on["101"] == ["1.3.0"] and on[IDLE] == ["1.3.0"]
    assert any(OLD in p and "FAILED" in p for p in report["problems"])
    ws.emu.settle()
    # the rerun has nothing to send, and still fails: the install FAILED
    assert cli(ws, "deploy", "--dist", dist) == 1
    again = error_line(capsys)
    assert "FAILED" in again and OLD in again and "13.3" in again
    report = json.loads((ws.root / "out" / "deploy-report.json").read_text())
    assert report["outcome"] == "failed"


def test_a_rerun_after_an_interrupted_restart_waits_for_the_cluster(
    workspace_factory: Callable[..., Workspace],
) -> None:
    """The first deploy gives up while the cluster restarts (as after a kill, or a short wait);
    the rerun has nothing to send but waits until the new version is INSTALLED."""
    ws = workspace_factory(clock_speed=5)
    one = {**ALWAYS, "ids": [IDLE], "tags": {}}
    ws.config(keep=5, clusters={**one, "wait": 1})
    dist = ws.dist("1.3.0")
    with pytest.raises(DatabricksError, match="did not settle within the wait"):
        workflow.run_deploy(ws.settings(dist=dist), ws.knobs())
    assert ws.emu.cluster_state(IDLE) in {"RESTARTING", "PENDING"}
    ws.config(keep=5, clusters=one)
    plan, result = workflow.run_deploy(ws.settings(dist=dist), ws.knobs())
    assert not plan.changes_anything and [c.cluster_id for c in plan.settling_clusters] == [IDLE]
    waits = [s for s in result.steps if s.step == "wait for cluster"]
    assert [(s.obj.split()[0], s.outcome, s.detail) for s in waits] == [(IDLE, "done", "INSTALLED")]
    assert ws.emu.cluster_state(IDLE) == "RUNNING"
    assert [x["status"] for x in ws.emu.cluster_libraries(IDLE)] == ["INSTALLED"]
    assert result.problems == [] and result.versions


def test_the_report_says_which_object_is_on_which_version(ws: Workspace) -> None:
    ws.config(keep=5)  # restart if-idle: the busy cluster keeps 1.2.0 loaded (deferred)
    ws.start_busy_run()
    _plan, result = workflow.run_deploy(ws.settings(), ws.knobs())
    on = {v["id"]: v["versions"] for v in result.versions}
    assert on["101"] == on["102"] == on["103"] == on["105"] == ["1.3.0"]
    assert on[IDLE] == ["1.3.0"]
    assert any(
        "stays loaded until its next restart (restart: if-idle)" in p for p in result.pending
    )
    assert any("installs at the next start" in p for p in result.pending)
    md = (ws.root / "out" / "deploy-report.md").read_text()
    assert "## Which object is on which version" in md and "## Pending" in md


def test_a_cluster_restarted_again_before_the_check_is_waited_for(
    workspace_factory: Callable[..., Workspace], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart the workspace carries out late (its answer was lost, the retry found the
    cluster settled) leaves the cluster RESTARTING when the target is read back: the deploy
    waits for it, within the cluster's ``wait``, instead of failing a target that converges."""
    ws = workspace_factory(clock_speed=50)
    ws.config(keep=5, clusters={**ALWAYS, "ids": [IDLE], "tags": {}})
    original = workflow.read_snapshot
    restarted: list[str] = []

    def late_restart(*args: Any, **kw: Any) -> Any:
        if kw.get("artifacts") is False and not restarted:
            ws.post("/api/2.1/clusters/restart", {"cluster_id": IDLE})
            restarted.append(ws.emu.cluster_state(IDLE))
        return original(*args, **kw)

    monkeypatch.setattr(workflow, "read_snapshot", late_restart)
    _plan, result = workflow.run_deploy(ws.settings(), ws.knobs())
    assert restarted == ["RESTARTING"]
    assert result.problems == []
    assert ws.emu.cluster_state(IDLE) == "RUNNING"
    assert [x["status"] for x in ws.emu.cluster_libraries(IDLE)] == ["INSTALLED"]

"""Canary deploys against the emulator: the canary goes first and is smoke-run; the rest follows
only when that succeeds; a failing canary is rolled back and nothing else changes."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from support.deployws import ART, CLUSTERS, Workspace, cli, error_line, mutations, whl
from wheelship.deploy import references, workflow

IDLE, BUSY, TERM, ADMIN, OTHER = CLUSTERS
pytestmark = pytest.mark.usefixtures("ws_env")

CANARY = {"jobs": ["tsff-smoke", 101], "clusters": ["ml-idle"], "smoke": "tsff-smoke"}


def versions(settings: dict[str, Any]) -> set[str]:
    return references.referenced_versions(settings, "tsff")


def installed(ws: Workspace, cluster: str) -> list[tuple[str, str]]:
    return sorted((x["library"]["whl"], x["status"]) for x in ws.emu.cluster_libraries(cluster))


def break_smoke_job(ws: Workspace) -> None:
    """The canary's smoke job gets a task that fails (its entry point's package is missing)."""
    check = {
        "task_key": "check",
        "job_cluster_key": "main",
        "python_wheel_task": {"package_name": "tsff-checks", "entry_point": "check"},
        "depends_on": [{"task_key": "smoke"}],
    }
    resp = requests.post(
        f"{ws.emu.url}/api/2.2/jobs/update",
        json={"job_id": 105, "new_settings": {"tasks": [check]}},
        headers={"Authorization": f"Bearer {ws.emu.token}"},
        timeout=10,
    )
    resp.raise_for_status()


def test_a_passing_canary_goes_first_then_the_rest_follows(ws: Workspace) -> None:
    ws.config(canary=CANARY)
    ws.emu.clear_log()

    _plan, result = workflow.run_deploy(ws.settings("1.3.0"), ws.knobs())

    for job_id in (101, 102, 103, 105):
        assert versions(ws.emu.job_settings(job_id)) == {"1.3.0"}, job_id
    assert installed(ws, IDLE) == [(whl("1.3.0"), "INSTALLED")]
    # Order: the canary's jobs and cluster, then its smoke run, then everything else.
    order = [
        (r.method, r.path, (r.json() or {}).get("job_id") or (r.json() or {}).get("cluster_id"))
        for r in ws.emu.requests
        if r.method == "POST"
        and r.path.rsplit("/", 1)[-1] in {"update", "install", "uninstall", "run-now", "restart"}
    ]
    smoke_at = order.index(("POST", "/api/2.2/jobs/run-now", 105))
    first = {obj for _m, _p, obj in order[:smoke_at]}
    assert first == {101, 105, IDLE}
    later = {obj for _m, _p, obj in order[smoke_at + 1 :]}
    assert {102, 103, BUSY}.issubset(later) and not later & {101, IDLE}
    # The wave-1 plan and report are kept; the top-level report is the second wave's.
    wave1 = json.loads((ws.root / "out" / "canary" / "deploy-report.json").read_text())
    assert wave1["outcome"] == "deployed" and wave1["smoke"]["result"] == "SUCCESS"
    assert wave1["plan"]["deletions"] == []
    top = json.loads((ws.root / "out" / "deploy-report.json").read_text())
    assert top["outcome"] == "deployed" and top["error"] is None
    assert {j["job_id"] for j in top["plan"]["jobs"]} == {102, 103}
    assert result.smoke is None  # the target has no smoke job of its own


def test_a_failing_canary_is_rolled_back_and_nothing_else_changes(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.config(canary=CANARY)
    break_smoke_job(ws)
    before_jobs = copy.deepcopy(ws.emu.jobs())
    before_clusters = {c: installed(ws, c) for c in CLUSTERS}
    ws.emu.clear_log()

    assert cli(ws, "deploy", "--dist", str(ws.dist("1.3.0"))) == 1
    line = error_line(capsys)
    assert line.startswith("error: canary of tsff 1.3.0 on prod failed: deploy: smoke run 105")
    assert line.endswith(
        "ModuleNotFoundError: No module named 'tsff_checks' — package tsff-checks is not "
        "installed on the task's compute; rolled back to 1.2.0 — nothing but the canary was "
        "changed; see deploy-report.md and canary/deploy-report.md, fix the cause and deploy again"
    )

    # Every job — the canary's too — is exactly as before; so is every cluster.
    assert ws.emu.jobs() == before_jobs
    assert installed(ws, IDLE) == [(whl("1.2.0"), "INSTALLED")]
    for cluster in (BUSY, TERM, ADMIN, OTHER):
        assert installed(ws, cluster) == before_clusters[cluster], cluster
    # Nothing but the canary was ever touched.
    touched = {
        (r.json() or {}).get("job_id") or (r.json() or {}).get("cluster_id")
        for r in ws.emu.requests
        if r.method == "POST" and not r.path.endswith(("/runs/get", "/run-now"))
    }
    assert touched - {None} <= {101, 105, IDLE}, touched
    assert not [m for m in mutations(ws) if m.startswith("DELETE")]
    # The new wheel stays (same bytes next time); retention deleted nothing.
    assert set(ws.emu.files(ART)) == {whl(v) for v in ("1.0.0", "1.1.0", "1.2.0", "1.3.0")}
    report = json.loads((ws.root / "out" / "deploy-report.json").read_text())
    assert report["outcome"] == "failed" and "rolled back to 1.2.0" in report["error"]
    assert "smoke run 105" in report["error"]
    rollback = json.loads(
        (ws.root / "out" / "canary" / "rollback" / "deploy-report.json").read_text()
    )
    assert rollback["action"] == "rollback" and rollback["outcome"] == "deployed"


def test_the_plan_shows_the_two_waves(ws: Workspace) -> None:
    ws.config(canary=CANARY)
    workflow.run_plan(ws.settings("1.3.0"), ws.knobs())
    md = (ws.root / "out" / "plan.md").read_text()
    assert "## Canary: 2 job(s) and 1 cluster(s) first" in md
    wave1, _, wave2 = md.partition("Wave 2 (the rest)")
    assert "repoint job 101 (tsff-train)" in wave1 and "smoke run 105 (tsff-smoke)" in wave1
    assert "repoint job 102 (tsff-score)" in wave2.split("## ")[0]
    assert "goes back to 1.2.0" in md
    data = json.loads((ws.root / "out" / "plan.json").read_text())
    assert {j["job_id"] for j in data["waves"]["canary"]["jobs"]} == {101, 105}
    assert {j["job_id"] for j in data["waves"]["rest"]["jobs"]} == {102, 103}
    assert data["waves"]["rest"]["upload"] is None
    assert ws.emu.invariants() == []


@pytest.mark.parametrize(
    ("canary", "message"),
    [
        (
            {"jobs": ["unrelated-etl"], "smoke": "tsff-smoke"},
            "canary.jobs: job 'unrelated-etl' is not one",
        ),
        ({"clusters": ["ml-admin-only"], "smoke": "tsff-smoke"}, "is in manual mode"),
        (
            {"clusters": ["nope"], "smoke": "tsff-smoke"},
            "cluster 'nope' is not one of the clusters",
        ),
    ],
)
def test_a_canary_outside_the_target_is_refused_before_anything_changes(
    workspace_factory: Callable[..., Workspace],
    canary: dict[str, Any],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws = workspace_factory()
    for key, value in ws.env.items():
        monkeypatch.setenv(key, value)
    ws.config(
        canary=canary,
        clusters=[
            {"mode": "automated", "tags": {"tsff": "prod"}, "restart": "if-idle"},
            {"mode": "manual", "names": ["ml-admin-only"]},
        ],
    )
    ws.emu.clear_log()
    assert cli(ws, "deploy", "--dist", str(ws.dist("1.3.0"))) == 2
    assert message in error_line(capsys)
    assert mutations(ws) == []

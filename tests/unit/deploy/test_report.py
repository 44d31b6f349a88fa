"""Plan, report and runbook rendering."""

from __future__ import annotations

import json
from pathlib import Path

from support.planning import RELEASE, snapshot, target
from wheelship import log
from wheelship.deploy import plan as p
from wheelship.deploy import report, runbook
from wheelship.deploy.apply import ApplyResult, ClusterOutcome, StepResult


def manual_plan() -> p.Plan:
    t = target(clusters={"mode": "manual", "tags": {"tsff": "prod"}})
    snap = snapshot()
    clusters = tuple(
        c.__class__(**{**c.__dict__, "access_mode": "USER_ISOLATION"})
        if c.cluster_id == "idle"
        else c
        for c in snap.clusters
    )
    return p.plan(t, RELEASE, snap.__class__(**{**snap.__dict__, "clusters": clusters}))


def test_plan_markdown_lists_everything() -> None:
    plan = p.plan(target(smoke={"job": 4}), RELEASE, snapshot())
    md = report.plan_markdown(plan)
    assert md.startswith("# wheelship deploy plan: tsff 1.3.0 → prod")
    assert (
        "| 1 (tsff-train) | tasks[main].libraries[0].whl | tsff-1.2.0-py3-none-any.whl | tsff-1.3.0-py3-none-any.whl |"
        in md
    )
    assert "| busy (busy) | RUNNING | automated | 1.2.0 | 1.3.0 | 1.2.0 | pending |" in md
    assert "- delete `tsff-1.1.0-py3-none-any.whl`" in md
    assert "## Smoke run: job 4 (tsff-smoke)" in md
    assert "1. upload /Volumes/ml/tsff/wheels/tsff-1.3.0-py3-none-any.whl" in md
    assert report.plan_summary(plan) == (
        "tsff 1.3.0 on prod: upload 1 wheel, repoint 3 job(s), update 3 cluster(s) (1 restart(s)), delete 1 old wheel(s)"
    )


def test_write_plan_files(tmp_path: Path) -> None:
    plan = p.plan(target(), RELEASE, snapshot())
    js, md = report.write_plan(plan, tmp_path / "out")
    assert json.loads(js.read_text())["version"] == "1.3.0"
    assert md.read_text().startswith("# wheelship deploy plan")


def test_deploy_report_redacts_as_a_last_guard(tmp_path: Path) -> None:
    log.register_secret("dapi-report-secret")
    plan = p.plan(target(), RELEASE, snapshot())
    result = ApplyResult(
        steps=[StepResult("repoint job", "1 (tsff-train)", "done", "1 reference(s)", 0.2)],
        clusters=[
            ClusterOutcome(
                "idle",
                "idle",
                "INSTALLED",
                True,
                [
                    {
                        "library": {"whl": "/x/tsff-1.3.0-py3-none-any.whl"},
                        "status": "INSTALLED",
                        "messages": [],
                    }
                ],
            )
        ],
        warnings=["echo dapi-report-secret"],
        seconds=1.5,
        requests=12,
    )
    js, md = report.write_deploy_report(plan, result, tmp_path)
    data = json.loads(js.read_text())
    assert data["outcome"] == "deployed" and data["requests"] == 12
    assert "dapi-report-secret" not in js.read_text() + md.read_text()
    text = md.read_text()
    assert "| idle (idle) | INSTALLED | yes | 1.3.0: INSTALLED |  |" in text
    assert "# Deploy of tsff 1.3.0 to prod: deployed" in text


def test_runbook_has_everything_an_admin_needs() -> None:
    plan = manual_plan()
    md = runbook.runbook_markdown(plan)
    data = runbook.runbook_json(plan)
    assert f"- sha256: `{'a' * 64}` (1,000 bytes)" in md
    assert "| idle (idle) | RUNNING | USER_ISOLATION | 1.2.0 | 1.3.0 | 1.2.0 | yes |" in md
    assert "| off (off) | TERMINATED | — | 1.2.0 | 1.3.0 | 1.2.0 | no |" in md
    idle = next(c for c in data["clusters"] if c["cluster_id"] == "idle")
    assert [c["path"] for c in idle["api_calls"]] == [
        "/api/2.0/libraries/uninstall",
        "/api/2.0/libraries/install",
        "/api/2.1/clusters/restart",
        "/api/2.0/libraries/cluster-status?cluster_id=idle",
    ]
    assert idle["api_calls"][1]["body"] == {
        "cluster_id": "idle",
        "libraries": [{"whl": "/Volumes/ml/tsff/wheels/tsff-1.3.0-py3-none-any.whl"}],
    }
    assert '"$DATABRICKS_HOST/api/2.0/libraries/install"' in md and "Bearer $DATABRICKS_TOKEN" in md
    assert (
        "**Install new** → Library source **Volumes** → path `/Volumes/ml/tsff/wheels/tsff-1.3.0-py3-none-any.whl`"
        in md
    )
    assert data["policy_alternative"]["body"]["libraries"] == [
        {"whl": "/Volumes/ml/tsff/wheels/tsff-1.3.0-py3-none-any.whl"}
    ]
    assert data["standard_access_mode"]["clusters"] == ["idle"]
    assert "GRANT READ VOLUME ON VOLUME ml.tsff.wheels" in md
    assert "## Alternative: the cluster policy's libraries" in md


def test_status_text_flags_drift() -> None:
    st = p.Status(
        "prod",
        "https://h",
        "tsff",
        (
            p.ObjectStatus("job", "1", "a", ("1.3.0",)),
            p.ObjectStatus("cluster", "c", "b", ("1.2.0",), "RUNNING"),
        ),
        ("1.3.0", "1.2.0"),
    )
    text = report.status_text(st)
    assert "live: 1.3.0, 1.2.0  — DRIFT: more than one version is live" in text
    assert "cluster c (b)  1.2.0  [RUNNING]" in text

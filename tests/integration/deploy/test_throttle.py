"""A workspace that throttles an endpoint without a published limit: the client learns a pace
from the first 429s instead of hammering it, and the deploy finishes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from support.deployws import JOB_CLUSTER, Workspace, whl
from wheelship.deploy import references, workflow


def job(i: int) -> dict[str, Any]:
    return {
        "job_id": 300 + i,
        "settings": {
            "name": f"tsff-{i:02d}",
            "job_clusters": JOB_CLUSTER,
            "tasks": [
                {
                    "task_key": "t",
                    "job_cluster_key": "main",
                    "python_wheel_task": {"package_name": "tsff", "entry_point": "tsff"},
                    "libraries": [{"whl": whl("1.2.0")}],
                }
            ],
        },
    }


def test_throttled_updates_are_paced_not_hammered(
    workspace_factory: Callable[..., Workspace],
) -> None:
    ws = workspace_factory(
        jobs=[job(i) for i in range(60)],
        rate_limits={"POST /api/2.2/jobs/update": {"rate": 20, "burst": 5}},
    )
    ws.config(clusters={"mode": "off"})
    plan, result = workflow.run_deploy(ws.settings("1.3.0"), ws.knobs())
    assert len(plan.jobs) == 60
    for i in range(60):
        assert references.referenced_versions(ws.emu.job_settings(300 + i), "tsff") == {"1.3.0"}
    updates = [r for r in ws.emu.requests if r.path == "/api/2.2/jobs/update"]
    throttled = [r for r in updates if r.status == 429]
    assert len(updates) - len(throttled) == 60
    # The first burst of 429s (the calls in flight when the limit bit) teaches the pace;
    # afterwards hardly any request is wasted.
    assert len(throttled) <= 30, len(throttled)
    # 60 updates, each after a read of the job (no lost update), the 429s, and the reads of
    # the plan and of the check after the changes
    assert result.requests_total <= 2 * 60 + len(throttled) + 20
    assert ws.emu.invariants() == []

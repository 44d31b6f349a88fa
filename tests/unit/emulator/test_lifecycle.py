"""The state machines on a frozen clock, without HTTP."""

from __future__ import annotations

from typing import Any

from wheelship.emulator import lifecycle
from wheelship.emulator.state import Cluster, Workspace

VOL = "/Volumes/main/ops/a"
V1 = f"{VOL}/pkg-1.0.0-py3-none-any.whl"
V2 = f"{VOL}/pkg-2.0.0-py3-none-any.whl"


def running(ws: Workspace, cluster_id: str = "c1") -> Cluster:
    cluster = Cluster(cluster_id=cluster_id, spec={"cluster_name": cluster_id}, state="RUNNING")
    ws.clusters[cluster_id] = cluster
    return cluster


def step(ws: Workspace, seconds: float) -> None:
    ws.clock.advance(seconds)
    ws.tick()


def statuses(cluster: Cluster) -> list[tuple[str, str]]:
    return [
        (s["library"].get("whl", "?"), s["status"]) for s in lifecycle.ordered_statuses(cluster)
    ]


def test_cluster_state_graph_with_durations(ws: Workspace) -> None:
    d = ws.durations
    cluster = Cluster(cluster_id="c", spec={})
    ws.clusters["c"] = cluster
    lifecycle.start_cluster(ws, cluster, ws.now())
    step(ws, d.cluster_start - 0.01)
    assert cluster.state == "PENDING"
    step(ws, 0.02)
    assert cluster.state == "RUNNING"
    lifecycle.restart_cluster(ws, cluster, ws.now())
    step(ws, d.cluster_restart)
    assert cluster.state == "RUNNING" and cluster.last_restarted_time
    lifecycle.terminate_cluster(ws, cluster, ws.now(), "me")
    assert cluster.state == "TERMINATING"
    step(ws, d.cluster_terminate)
    assert cluster.state == "TERMINATED" and cluster.terminated_time


def test_library_states_and_duplicate_detection(ws: Workspace) -> None:
    ws.put_bytes(V1, b"1")
    ws.put_bytes(V2, b"2")
    cluster = running(ws)
    lifecycle.install_libraries(ws, cluster, [{"whl": V1}], ws.now())
    assert statuses(cluster) == [(V1, "PENDING")]
    step(ws, ws.durations.library_resolve)
    assert statuses(cluster) == [(V1, "INSTALLING")]
    step(ws, ws.durations.library_install)
    assert statuses(cluster) == [(V1, "INSTALLED")]
    lifecycle.install_libraries(ws, cluster, [{"whl": V2}], ws.now())
    step(ws, 60)
    assert statuses(cluster) == [(V1, "INSTALLED"), (V2, "FAILED")]
    assert "ERROR_DUPLICATE_INSTALLATION" in cluster.libraries[1].messages[0]
    lifecycle.uninstall_libraries(ws, cluster, [{"whl": V1}])
    # installing again cancels the pending removal
    lifecycle.install_libraries(ws, cluster, [{"whl": V1}], ws.now())
    assert statuses(cluster) == [(V1, "INSTALLED"), (V2, "FAILED")]


def test_terminated_cluster_queues_and_restart_drops_removed(ws: Workspace) -> None:
    ws.put_bytes(V1, b"1")
    ws.put_bytes(V2, b"2")
    cluster = running(ws)
    lifecycle.install_libraries(ws, cluster, [{"whl": V1}], ws.now())
    step(ws, 60)
    lifecycle.terminate_cluster(ws, cluster, ws.now(), "me")
    step(ws, 60)
    assert statuses(cluster) == [(V1, "PENDING")]
    lifecycle.uninstall_libraries(ws, cluster, [{"whl": V1}])
    lifecycle.install_libraries(ws, cluster, [{"whl": V2}], ws.now())
    assert statuses(cluster) == [(V2, "PENDING"), (V1, "UNINSTALL_ON_RESTART")]
    lifecycle.start_cluster(ws, cluster, ws.now())
    step(ws, 600)
    assert statuses(cluster) == [(V2, "INSTALLED")]


def test_missing_and_invalid_wheels_fail(ws: Workspace) -> None:
    cluster = running(ws)
    ws.put_bytes(f"{VOL}/not-a-wheel.whl", b"x")
    lifecycle.install_libraries(
        ws, cluster, [{"whl": V1}, {"whl": f"{VOL}/not-a-wheel.whl"}], ws.now()
    )
    step(ws, 60)
    assert [s for _, s in statuses(cluster)] == ["FAILED", "FAILED"]
    assert "FileNotFoundException" in cluster.libraries[0].messages[0]
    assert "not a valid wheel filename" in cluster.libraries[1].messages[0]


def _run(ws: Workspace, settings: dict[str, Any]) -> Any:
    return lifecycle.new_run(
        ws, 1, settings, "me", only=None, job_parameters=[], overriding={}, idempotency_token=None
    )


def wheel_task(key: str, whl: str = V1, **extra: Any) -> dict[str, Any]:
    return {
        "task_key": key,
        "python_wheel_task": {"package_name": "pkg", "entry_point": "main"},
        "libraries": [{"whl": whl}],
        **extra,
    }


def test_run_phases_and_success(ws: Workspace) -> None:
    ws.put_bytes(V1, b"1")
    run = _run(ws, {"tasks": [wheel_task("a")]})
    assert run.life_cycle_state == "PENDING"
    step(ws, ws.durations.run_setup)
    assert run.life_cycle_state == "RUNNING"
    step(ws, ws.durations.run_execute)
    assert run.life_cycle_state == "TERMINATING"
    step(ws, ws.durations.run_cleanup)
    assert (run.life_cycle_state, run.result_state, run.code) == (
        "TERMINATED",
        "SUCCESS",
        "SUCCESS",
    )


def test_run_failures_and_upstream(ws: Workspace) -> None:
    run = _run(
        ws,
        {
            "tasks": [
                wheel_task("a"),
                {"task_key": "b", "depends_on": [{"task_key": "a"}], "notebook_task": {}},
            ]
        },
    )
    step(ws, 3600)
    assert (run.result_state, run.code) == ("FAILED", "LIBRARY_INSTALLATION_ERROR")
    assert [t.result_state for t in run.tasks] == ["FAILED", "UPSTREAM_FAILED"]
    serverless = _run(
        ws,
        {
            "tasks": [
                {
                    "task_key": "s",
                    "environment_key": "e",
                    "python_wheel_task": {"package_name": "pkg", "entry_point": "m"},
                }
            ],
            "environments": [{"environment_key": "e", "spec": {"dependencies": [V2]}}],
        },
    )
    step(ws, 3600)
    assert serverless.code == "LIBRARY_INSTALLATION_ERROR"
    ws.put_bytes(V2, b"2")
    fine = _run(ws, serverless.settings)
    step(ws, 3600)
    assert fine.result_state == "SUCCESS"


def test_existing_cluster_with_other_version_loaded_fails_the_task(ws: Workspace) -> None:
    ws.put_bytes(V1, b"1")
    ws.put_bytes(V2, b"2")
    cluster = running(ws)
    lifecycle.install_libraries(ws, cluster, [{"whl": V1}], ws.now())
    step(ws, 60)
    run = _run(ws, {"tasks": [wheel_task("a", V2, existing_cluster_id="c1")]})
    step(ws, 3600)
    assert run.code == "LIBRARY_INSTALLATION_ERROR"
    assert "ERROR_DUPLICATE_INSTALLATION" in run.message
    # the cluster's own library provides the package
    ok = _run(ws, {"tasks": [{**wheel_task("b", V1, existing_cluster_id="c1"), "libraries": []}]})
    step(ws, 3600)
    assert ok.result_state == "SUCCESS"


def test_max_concurrent_runs_skip_without_queue(ws: Workspace) -> None:
    ws.put_bytes(V1, b"1")
    first = _run(ws, {"tasks": [wheel_task("a")], "max_concurrent_runs": 1})
    second = _run(ws, {"tasks": [wheel_task("a")], "max_concurrent_runs": 1})
    assert first.life_cycle_state == "PENDING"
    assert second.life_cycle_state == "SKIPPED" and second.code == "MAX_CONCURRENT_RUNS_EXCEEDED"


def test_cluster_terminated_under_a_run_fails_it(ws: Workspace) -> None:
    ws.put_bytes(V1, b"1")
    cluster = running(ws)
    run = _run(ws, {"tasks": [wheel_task("a", existing_cluster_id="c1")]})
    lifecycle.terminate_cluster(ws, cluster, ws.now(), "me")
    step(ws, 3600)
    assert (run.life_cycle_state, run.code) == ("INTERNAL_ERROR", "CLUSTER_ERROR")

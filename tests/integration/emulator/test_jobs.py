"""Jobs 2.1/2.2 and runs on the wire, on a frozen simulated clock."""

from __future__ import annotations

import copy
from typing import Any

from support.emulator_api import Api, error_of
from wheelship.emulator import Emulator

VOL = "/Volumes/main/ops/artifacts"
WHEEL = f"{VOL}/pkg-1.0.0-py3-none-any.whl"
CLUSTER = "0101-000000-shared01"


def wheel_task(key: str, wheel: str = WHEEL, **extra: Any) -> dict[str, Any]:
    return {
        "task_key": key,
        "existing_cluster_id": CLUSTER,
        "python_wheel_task": {"package_name": "pkg", "entry_point": "main"},
        "libraries": [{"whl": wheel}],
        **extra,
    }


SETTINGS: dict[str, Any] = {
    "name": "etl",
    "tasks": [wheel_task("ingest")],
    "tags": {"team": "data"},
}
SEED: dict[str, Any] = {
    "files": [{"path": WHEEL, "content": "wheel"}],
    "clusters": [{"cluster_id": CLUSTER, "cluster_name": "shared", "state": "RUNNING"}],
    "jobs": [{"job_id": 11, "settings": SETTINGS}],
}


def test_create_get_with_service_defaults(client: Api) -> None:
    job_id = client.post("/api/2.2/jobs/create", SETTINGS).json()["job_id"]
    got = client.get("/api/2.2/jobs/get", job_id=job_id).json()
    assert got["job_id"] == job_id
    assert got["creator_user_name"] == "admin@example.com"
    settings = got["settings"]
    assert settings["name"] == "etl" and settings["tags"] == {"team": "data"}
    assert settings["max_concurrent_runs"] == 1
    assert settings["queue"] == {"enabled": True}  # 2.2 queues by default
    assert settings["tasks"][0]["libraries"] == [{"whl": WHEEL}]
    legacy = client.post("/api/2.1/jobs/create", SETTINGS).json()["job_id"]
    assert "queue" not in client.get("/api/2.1/jobs/get", job_id=legacy).json()["settings"]
    assert "next_page_token" not in got


def test_unknown_job_and_bad_settings(client: Api) -> None:
    assert error_of(client.get("/api/2.2/jobs/get", job_id=999)) == (
        400,
        "INVALID_PARAMETER_VALUE",
        "Job 999 does not exist.",
    )
    assert error_of(client.post("/api/2.2/jobs/reset", {"job_id": 999, "new_settings": SETTINGS}))[
        :2
    ] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )
    dup = {"name": "d", "tasks": [wheel_task("a"), wheel_task("a")]}
    assert "not unique" in error_of(client.post("/api/2.2/jobs/create", dup))[2]
    dangling = {"name": "d", "tasks": [{"task_key": "a", "job_cluster_key": "nope"}]}
    assert error_of(client.post("/api/2.2/jobs/create", dangling))[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )
    no_entry = {
        "name": "d",
        "tasks": [{"task_key": "a", "python_wheel_task": {"package_name": "p"}}],
    }
    assert error_of(client.post("/api/2.2/jobs/create", no_entry))[2] == (
        "Missing required field: tasks.a.python_wheel_task.entry_point"
    )
    assert error_of(client.post("/api/2.2/jobs/create", {"tasks": "nope"}))[:2] == (
        400,
        "MALFORMED_REQUEST",
    )
    assert error_of(client.get("/api/2.2/jobs/get", job_id="abc"))[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_reset_replaces_everything(emu: Emulator, client: Api) -> None:
    new = {"name": "etl", "tasks": [wheel_task("ingest", f"{VOL}/pkg-2.0.0-py3-none-any.whl")]}
    assert client.post("/api/2.2/jobs/reset", {"job_id": 11, "new_settings": new}).json() == {}
    settings = emu.job_settings(11)
    assert "tags" not in settings
    assert settings["tasks"][0]["libraries"] == [{"whl": f"{VOL}/pkg-2.0.0-py3-none-any.whl"}]
    assert emu.invariants() == [
        "job 11 (etl): task ingest.libraries[0] references missing file "
        f"{VOL}/pkg-2.0.0-py3-none-any.whl"
    ]


def test_update_merges_keyed_arrays_and_removes_fields(emu: Emulator, client: Api) -> None:
    client.post(
        "/api/2.2/jobs/update", {"job_id": 11, "new_settings": {"tasks": [wheel_task("report")]}}
    )
    assert [t["task_key"] for t in emu.job_settings(11)["tasks"]] == ["ingest", "report"]
    replaced = wheel_task("ingest", max_retries=3)
    client.post(
        "/api/2.2/jobs/update",
        {"job_id": 11, "new_settings": {"tasks": [replaced], "name": "etl2"}},
    )
    settings = emu.job_settings(11)
    assert settings["name"] == "etl2"
    assert settings["tasks"][0]["max_retries"] == 3
    client.post(
        "/api/2.2/jobs/update", {"job_id": 11, "fields_to_remove": ["tags", "tasks/report"]}
    )
    settings = emu.job_settings(11)
    assert "tags" not in settings
    assert [t["task_key"] for t in settings["tasks"]] == ["ingest"]


def test_get_pages_arrays_over_100_on_2_2_only(client: Api) -> None:
    tasks = [wheel_task(f"t{i:03d}") for i in range(250)]
    job_id = client.post("/api/2.2/jobs/create", {"name": "big", "tasks": tasks}).json()["job_id"]
    first = client.get("/api/2.2/jobs/get", job_id=job_id).json()
    assert len(first["settings"]["tasks"]) == 100
    second = client.get(
        "/api/2.2/jobs/get", job_id=job_id, page_token=first["next_page_token"]
    ).json()
    assert second["settings"]["tasks"][0]["task_key"] == "t100"
    third = client.get(
        "/api/2.2/jobs/get", job_id=job_id, page_token=second["next_page_token"]
    ).json()
    assert len(third["settings"]["tasks"]) == 50
    assert "next_page_token" not in third  # absent, never "", on the last page
    whole = client.get("/api/2.1/jobs/get", job_id=job_id).json()
    assert len(whole["settings"]["tasks"]) == 250 and "next_page_token" not in whole
    listed = client.get("/api/2.2/jobs/list", name="BIG", expand_tasks="true").json()["jobs"][0]
    assert len(listed["settings"]["tasks"]) == 100 and listed["has_more"] is True


def test_list_paging_name_filter_and_offsets(client: Api) -> None:
    ids = [
        client.post("/api/2.2/jobs/create", {"name": f"job-{i}"}).json()["job_id"] for i in range(5)
    ]
    page = client.get("/api/2.2/jobs/list", limit=2).json()
    assert page["has_more"] is True and len(page["jobs"]) == 2
    assert "tasks" not in page["jobs"][0]["settings"]
    seen = [j["job_id"] for j in page["jobs"]]
    while "next_page_token" in page:
        page = client.get("/api/2.2/jobs/list", limit=2, page_token=page["next_page_token"]).json()
        seen += [j["job_id"] for j in page.get("jobs", [])]
    assert sorted(seen) == sorted([*ids, 11])
    by_offset = client.get("/api/2.1/jobs/list", limit=2, offset=4).json()
    assert [j["job_id"] for j in by_offset["jobs"]] == seen[4:6]
    assert by_offset["has_more"] is False
    assert [j["job_id"] for j in client.get("/api/2.2/jobs/list", name="Job-3").json()["jobs"]] == [
        ids[3]
    ]
    assert error_of(client.get("/api/2.2/jobs/list", limit=101))[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_run_now_succeeds_and_records_the_cluster(emu: Emulator, client: Api) -> None:
    run = client.post("/api/2.2/jobs/run-now", {"job_id": "11"}).json()  # legacy CLI: string id
    assert run["number_in_job"] == 1
    got = client.get("/api/2.2/jobs/runs/get", run_id=run["run_id"]).json()
    assert got["state"]["life_cycle_state"] == "PENDING"
    assert got["tasks"][0]["cluster_instance"]["cluster_id"] == CLUSTER
    active = client.get("/api/2.2/jobs/runs/list", active_only="true").json()["runs"]
    assert [(r["run_id"], r["cluster_instance"]["cluster_id"]) for r in active] == [
        (run["run_id"], CLUSTER)
    ]
    emu.advance(emu.durations.run_setup)
    assert (
        client.get("/api/2.2/jobs/runs/get", run_id=run["run_id"]).json()["state"][
            "life_cycle_state"
        ]
        == "RUNNING"
    )
    emu.settle()
    done = client.get("/api/2.2/jobs/runs/get", run_id=run["run_id"]).json()
    assert done["state"]["life_cycle_state"] == "TERMINATED"
    assert done["state"]["result_state"] == "SUCCESS"
    assert done["status"]["termination_details"]["code"] == "SUCCESS"
    assert done["end_time"] >= done["start_time"]
    assert client.get("/api/2.2/jobs/runs/list", active_only="true").json() == {"has_more": False}
    completed = client.get("/api/2.2/jobs/runs/list", completed_only="true", job_id=11).json()
    assert [r["run_id"] for r in completed["runs"]] == [run["run_id"]]


def test_run_with_missing_wheel_fails_with_library_installation_error(
    emu: Emulator, client: Api
) -> None:
    emu.delete_file(WHEEL)
    run_id = client.post("/api/2.2/jobs/run-now", {"job_id": 11}).json()["run_id"]
    emu.settle()
    got = client.get("/api/2.2/jobs/runs/get", run_id=run_id).json()
    assert got["state"]["life_cycle_state"] == "TERMINATED"
    assert got["state"]["result_state"] == "FAILED"
    assert got["status"]["termination_details"]["code"] == "LIBRARY_INSTALLATION_ERROR"
    assert WHEEL in got["state"]["state_message"]
    assert got["tasks"][0]["state"]["result_state"] == "FAILED"


def test_run_whose_package_is_not_installed_fails_at_run_time(emu: Emulator, client: Api) -> None:
    task = wheel_task("x")
    task["python_wheel_task"]["package_name"] = "other"
    job_id = client.post("/api/2.2/jobs/create", {"name": "wrong", "tasks": [task]}).json()[
        "job_id"
    ]
    run_id = client.post("/api/2.2/jobs/run-now", {"job_id": job_id}).json()["run_id"]
    emu.settle()
    got = client.get("/api/2.2/jobs/runs/get", run_id=run_id).json()
    assert got["status"]["termination_details"]["code"] == "RUN_EXECUTION_ERROR"
    assert "No module named 'other'" in got["state"]["state_message"]


def test_run_on_terminated_cluster_starts_it(emulator_factory, make_api) -> None:  # type: ignore[no-untyped-def]
    seed = copy.deepcopy(SEED)
    seed["clusters"][0]["state"] = "TERMINATED"
    emu = emulator_factory(seed, clock_speed=0)
    client = make_api(emu, emu.token)
    run_id = client.post("/api/2.2/jobs/run-now", {"job_id": 11}).json()["run_id"]
    assert emu.cluster_state(CLUSTER) == "PENDING"
    emu.settle()
    assert emu.cluster_state(CLUSTER) == "RUNNING"
    assert (
        client.get("/api/2.2/jobs/runs/get", run_id=run_id).json()["state"]["result_state"]
        == "SUCCESS"
    )


def test_concurrent_runs_queue_and_cancel(emu: Emulator, client: Api) -> None:
    first = client.post("/api/2.2/jobs/run-now", {"job_id": 11}).json()["run_id"]
    second = client.post("/api/2.2/jobs/run-now", {"job_id": 11}).json()["run_id"]
    queued = client.get("/api/2.2/jobs/runs/get", run_id=second).json()
    assert queued["state"]["life_cycle_state"] == "QUEUED"
    assert client.post("/api/2.2/jobs/runs/cancel", {"run_id": first}).json() == {}
    emu.advance(emu.durations.run_cleanup)
    cancelled = client.get("/api/2.2/jobs/runs/get", run_id=first).json()
    assert cancelled["state"]["result_state"] == "CANCELED"
    assert cancelled["status"]["termination_details"]["code"] == "USER_CANCELED"
    assert (
        client.get("/api/2.2/jobs/runs/get", run_id=second).json()["state"]["life_cycle_state"]
        == "PENDING"
    )
    emu.settle()
    assert (
        client.get("/api/2.2/jobs/runs/get", run_id=second).json()["state"]["result_state"]
        == "SUCCESS"
    )
    assert error_of(client.get("/api/2.2/jobs/runs/get", run_id=12345)) == (
        400,
        "INVALID_PARAMETER_VALUE",
        "Run 12345 does not exist.",
    )
    assert error_of(
        client.get("/api/2.2/jobs/runs/list", active_only="true", completed_only="true")
    )[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_delete_job(emu: Emulator, client: Api) -> None:
    assert client.post("/api/2.2/jobs/delete", {"job_id": 11}).json() == {}
    assert emu.jobs() == {}
    assert error_of(client.post("/api/2.2/jobs/delete", {"job_id": 11}))[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_update_is_partial_and_concurrency_limits_skip(emu: Emulator, client: Api) -> None:
    job_id = client.post("/api/2.1/jobs/create", SETTINGS).json()["job_id"]
    before = client.get("/api/2.1/jobs/get", job_id=job_id).json()["settings"]
    assert "queue" not in before
    update = {"job_id": job_id, "new_settings": {"max_concurrent_runs": 0}}
    assert client.post("/api/2.2/jobs/update", update).status_code == 200
    after = client.get("/api/2.1/jobs/get", job_id=job_id).json()["settings"]
    assert after == {**before, "max_concurrent_runs": 0}  # nothing else changed or appeared
    # "setting this value to 0 causes all new runs to be skipped" — even with a queue
    queued = {"job_id": job_id, "queue": {"enabled": True}}
    run_id = client.post("/api/2.1/jobs/run-now", queued).json()["run_id"]
    state = client.get("/api/2.1/jobs/runs/get", run_id=run_id).json()["state"]
    assert state["life_cycle_state"] == "SKIPPED"
    too_many = {"job_id": job_id, "new_settings": {"max_concurrent_runs": 1001}}
    assert error_of(client.post("/api/2.2/jobs/update", too_many))[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )

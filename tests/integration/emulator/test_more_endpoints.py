"""The less travelled endpoints and options: cluster edit/pin/sort, run-now options,
runs/get-output, task run ids, and ``serve()`` in-process."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests

from support.emulator_api import Api, error_of
from wheelship.emulator import Emulator
from wheelship.emulator.serve import EmulatorSettings, check, serve

VOL = "/Volumes/main/ops/a"
WHEEL = f"{VOL}/pkg-1.0.0-py3-none-any.whl"
SEED: dict[str, Any] = {
    "files": [{"path": WHEEL, "content": "w"}],
    "clusters": [
        {"cluster_id": "c-b", "cluster_name": "beta", "state": "RUNNING", "policy_id": "p1"},
        {"cluster_id": "c-a", "cluster_name": "Alpha", "state": "TERMINATED", "pinned": True},
        {
            "cluster_id": "c-j",
            "cluster_name": "job-cluster",
            "state": "TERMINATED",
            "cluster_source": "JOB",
        },
    ],
    "jobs": [
        {
            "job_id": 9,
            "settings": {
                "name": "multi",
                "parameters": [{"name": "env", "default": "dev"}],
                "tasks": [
                    {
                        "task_key": "a",
                        "new_cluster": {"spark_version": "15.4"},
                        "libraries": [{"whl": WHEEL}],
                        "python_wheel_task": {"package_name": "pkg", "entry_point": "main"},
                    },
                    {
                        "task_key": "b",
                        "depends_on": [{"task_key": "a"}],
                        "existing_cluster_id": "c-b",
                        "libraries": [{"whl": WHEEL}],
                        "python_wheel_task": {"package_name": "pkg", "entry_point": "main"},
                    },
                ],
            },
        }
    ],
}


def test_cluster_list_sort_filters_pin_edit_delete(emu: Emulator, client: Api) -> None:
    by_name = client.get("/api/2.1/clusters/list", **{"sort_by.field": "CLUSTER_NAME"}).json()[
        "clusters"
    ]
    assert [c["cluster_name"] for c in by_name] == ["Alpha", "beta", "job-cluster"]
    desc = client.get(
        "/api/2.1/clusters/list", **{"sort_by.field": "CLUSTER_NAME", "sort_by.direction": "DESC"}
    )
    assert [c["cluster_name"] for c in desc.json()["clusters"]] == ["job-cluster", "beta", "Alpha"]
    pinned = client.get("/api/2.1/clusters/list", **{"filter_by.is_pinned": "true"}).json()[
        "clusters"
    ]
    assert [c["cluster_id"] for c in pinned] == ["c-a"]
    jobs = client.get("/api/2.1/clusters/list", **{"filter_by.cluster_sources": "JOB"}).json()[
        "clusters"
    ]
    assert [c["cluster_id"] for c in jobs] == ["c-j"]
    policy = client.get("/api/2.1/clusters/list", **{"filter_by.policy_id": "p1"}).json()[
        "clusters"
    ]
    assert [c["cluster_id"] for c in policy] == ["c-b"]
    assert error_of(
        client.get("/api/2.1/clusters/list", **{"filter_by.cluster_states": "NAPPING"})
    )[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )
    client.post("/api/2.1/clusters/pin", {"cluster_id": "c-b"})
    client.post("/api/2.1/clusters/unpin", {"cluster_id": "c-a"})
    pinned = client.get("/api/2.1/clusters/list", **{"filter_by.is_pinned": "true"}).json()[
        "clusters"
    ]
    assert [c["cluster_id"] for c in pinned] == ["c-b"]
    assert (
        "job cluster" in error_of(client.post("/api/2.1/clusters/start", {"cluster_id": "c-j"}))[2]
    )
    # edit a running cluster: new spec, and it restarts
    edit = {
        "cluster_id": "c-b",
        "cluster_name": "beta2",
        "spark_version": "16.0",
        "custom_tags": {"t": "v"},
    }
    assert client.post("/api/2.1/clusters/edit", edit).json() == {}
    assert emu.cluster_state("c-b") == "RESTARTING"
    assert error_of(client.post("/api/2.1/clusters/edit", edit))[:2] == (400, "INVALID_STATE")
    emu.settle()
    got = client.get("/api/2.1/clusters/get", cluster_id="c-b").json()
    assert (got["cluster_name"], got["custom_tags"], got["state"]) == (
        "beta2",
        {"t": "v"},
        "RUNNING",
    )
    client.post("/api/2.1/clusters/permanent-delete", {"cluster_id": "c-j"})
    assert error_of(client.get("/api/2.1/clusters/get", cluster_id="c-j"))[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_run_now_options_and_outputs(emu: Emulator, client: Api) -> None:
    first = client.post(
        "/api/2.2/jobs/run-now",
        {"job_id": 9, "idempotency_token": "tok", "job_parameters": {"env": "prod"}},
    ).json()
    again = client.post("/api/2.2/jobs/run-now", {"job_id": 9, "idempotency_token": "tok"}).json()
    assert again == first
    run = client.get("/api/2.2/jobs/runs/get", run_id=first["run_id"]).json()
    assert run["job_parameters"] == [{"name": "env", "default": "dev", "value": "prod"}]
    assert [t["task_key"] for t in run["tasks"]] == ["a", "b"]
    assert run["cluster_instance"] == {"cluster_id": "c-b"}
    assert error_of(client.post("/api/2.2/jobs/run-now", {"job_id": 9, "only": ["zz"]}))[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert error_of(
        client.post("/api/2.2/jobs/run-now", {"job_id": 9, "job_parameters": {"nope": "x"}})
    )[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )
    emu.settle()
    assert error_of(client.get("/api/2.2/jobs/runs/get-output", run_id=first["run_id"]))[
        2
    ].startswith("Retrieving the output of runs with multiple tasks is not supported")
    task_run = run["tasks"][0]["run_id"]
    output = client.get("/api/2.2/jobs/runs/get-output", run_id=task_run).json()
    assert output["metadata"]["state"]["result_state"] == "SUCCESS" and "error" not in output
    single = client.get("/api/2.2/jobs/runs/get", run_id=task_run).json()
    assert (single["task_key"], single["job_id"]) == ("a", 9)
    only_b = client.post(
        "/api/2.2/jobs/run-now", {"job_id": 9, "only": ["b"], "queue": {"enabled": False}}
    ).json()
    emu.settle()
    got = client.get("/api/2.1/jobs/runs/get", run_id=only_b["run_id"]).json()
    assert [t["task_key"] for t in got["tasks"]] == ["b"] and got["state"][
        "result_state"
    ] == "SUCCESS"
    listed = client.get("/api/2.2/jobs/runs/list", job_id=9, expand_tasks="true", limit=1).json()
    assert len(listed["runs"]) == 1 and listed["has_more"] is True and "tasks" in listed["runs"][0]
    nxt = client.get(
        "/api/2.2/jobs/runs/list", job_id=9, limit=1, page_token=listed["next_page_token"]
    ).json()
    assert nxt["runs"][0]["run_id"] != listed["runs"][0]["run_id"] and "prev_page_token" in nxt
    emu.delete_file(WHEEL)
    failed = client.post("/api/2.2/jobs/run-now", {"job_id": 9, "only": ["a"]}).json()
    emu.settle()
    failed_task = client.get("/api/2.2/jobs/runs/get", run_id=failed["run_id"]).json()["tasks"][0][
        "run_id"
    ]
    assert (
        "FileNotFoundException"
        in client.get("/api/2.2/jobs/runs/get-output", run_id=failed_task).json()["error"]
    )


def test_serve_in_process_prints_and_stops(
    capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    stop = threading.Event()
    seen: dict[str, Any] = {}

    def ready(emu: Emulator) -> None:
        seen["status"] = requests.get(
            f"{emu.url}/api/2.1/clusters/list",
            headers={"Authorization": f"Bearer {emu.token}"},
            timeout=5,
        ).status_code
        stop.set()

    settings = EmulatorSettings(state_dir=tmp_path / "s", check_invariants=True)
    done = threading.Thread(
        target=lambda: seen.setdefault("rc", serve(settings, stop=stop, on_ready=ready))
    )
    done.start()
    done.join(30)
    assert seen == {"status": 200, "rc": 0}
    out, err = capsys.readouterr()
    assert out.startswith("url: http://127.0.0.1:") and "\ntoken: dapi" in out
    assert "state in" in err and "emulator stopped" in err
    assert check(settings) == []

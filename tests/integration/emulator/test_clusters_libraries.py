"""Clusters 2.0/2.1 and the Libraries status machine, on a frozen simulated clock."""

from __future__ import annotations

from typing import Any

from support.emulator_api import Api, error_of
from wheelship.emulator import Emulator

VOL = "/Volumes/main/ops/artifacts"
OLD = f"{VOL}/pkg-1.0.0-py3-none-any.whl"
NEW = f"{VOL}/pkg-1.1.0-py3-none-any.whl"
RUNNING = "0101-000000-running1"
STOPPED = "0101-000000-stopped1"
SEED: dict[str, Any] = {
    "files": [{"path": OLD, "content": "old"}, {"path": NEW, "content": "new"}],
    "clusters": [
        {
            "cluster_id": RUNNING,
            "cluster_name": "shared-etl",
            "state": "RUNNING",
            "custom_tags": {"deploy": "wheelship"},
            "libraries": [{"whl": OLD}],
        },
        {"cluster_id": STOPPED, "cluster_name": "adhoc", "state": "TERMINATED"},
    ],
}


def statuses(client: Api, cluster_id: str) -> list[tuple[str, str]]:
    body = client.get("/api/2.0/libraries/cluster-status", cluster_id=cluster_id).json()
    return [
        (s["library"].get("whl") or str(s["library"]), s["status"])
        for s in body.get("library_statuses", [])
    ]


def test_get_and_list_both_versions(client: Api) -> None:
    got = client.get("/api/2.1/clusters/get", cluster_id=RUNNING).json()
    assert got["state"] == "RUNNING"
    assert got["custom_tags"] == {"deploy": "wheelship"}
    assert got["default_tags"]["ClusterId"] == RUNNING
    assert got["spec"]["cluster_name"] == "shared-etl"
    legacy = client.get("/api/2.0/clusters/list").json()["clusters"]
    assert {c["cluster_id"] for c in legacy} == {RUNNING, STOPPED}
    page = client.get("/api/2.1/clusters/list", page_size=1).json()
    assert len(page["clusters"]) == 1 and "next_page_token" in page
    rest = client.get(
        "/api/2.1/clusters/list", page_size=1, page_token=page["next_page_token"]
    ).json()
    assert "next_page_token" not in rest
    assert {page["clusters"][0]["cluster_id"], rest["clusters"][0]["cluster_id"]} == {
        RUNNING,
        STOPPED,
    }
    running = client.get("/api/2.1/clusters/list", **{"filter_by.cluster_states": "RUNNING"}).json()
    assert [c["cluster_id"] for c in running["clusters"]] == [RUNNING]
    assert error_of(client.get("/api/2.0/clusters/get", cluster_id="0000-000000-missing0")) == (
        400,
        "INVALID_PARAMETER_VALUE",
        "Cluster 0000-000000-missing0 does not exist",
    )


def test_start_restart_delete_state_graph(emu: Emulator, client: Api) -> None:
    assert error_of(client.post("/api/2.1/clusters/start", {"cluster_id": RUNNING})) == (
        400,
        "INVALID_STATE",
        f"Cluster {RUNNING} is in unexpected state Running.",
    )
    assert error_of(client.post("/api/2.1/clusters/restart", {"cluster_id": STOPPED})) == (
        400,
        "INVALID_STATE",
        f"Cluster {STOPPED} is in unexpected state Terminated.",
    )
    assert client.post("/api/2.1/clusters/start", {"cluster_id": STOPPED}).json() == {}
    assert emu.cluster_state(STOPPED) == "PENDING"
    assert error_of(client.post("/api/2.1/clusters/start", {"cluster_id": STOPPED}))[2].endswith(
        "unexpected state Pending."
    )
    emu.advance(emu.durations.cluster_start)
    assert emu.cluster_state(STOPPED) == "RUNNING"
    client.post("/api/2.1/clusters/restart", {"cluster_id": STOPPED})
    assert emu.cluster_state(STOPPED) == "RESTARTING"
    emu.advance(emu.durations.cluster_restart)
    got = client.get("/api/2.1/clusters/get", cluster_id=STOPPED).json()
    assert got["state"] == "RUNNING" and "last_restarted_time" in got
    client.post("/api/2.0/clusters/delete", {"cluster_id": STOPPED})
    assert emu.cluster_state(STOPPED) == "TERMINATING"
    emu.advance(emu.durations.cluster_terminate)
    got = client.get("/api/2.1/clusters/get", cluster_id=STOPPED).json()
    assert got["state"] == "TERMINATED"
    assert got["termination_reason"]["code"] == "USER_REQUEST"


def test_create_cluster_comes_up(emu: Emulator, client: Api) -> None:
    created = client.post(
        "/api/2.1/clusters/create",
        {"cluster_name": "new", "spark_version": "15.4.x-scala2.12", "num_workers": 2},
    ).json()
    cluster_id = created["cluster_id"]
    assert emu.cluster_state(cluster_id) == "PENDING"
    emu.settle()
    assert emu.cluster_state(cluster_id) == "RUNNING"
    assert error_of(client.post("/api/2.1/clusters/create", {"cluster_name": "x"}))[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_install_on_running_cluster_walks_the_status_machine(emu: Emulator, client: Api) -> None:
    assert statuses(client, RUNNING) == [(OLD, "INSTALLED")]
    client.post(
        "/api/2.0/libraries/install",
        {"cluster_id": RUNNING, "libraries": [{"pypi": {"package": "requests==2.31.0"}}]},
    )
    assert statuses(client, RUNNING)[-1] == ("{'pypi': {'package': 'requests==2.31.0'}}", "PENDING")
    emu.advance(emu.durations.library_resolve)
    assert statuses(client, RUNNING)[-1][1] == "INSTALLING"
    emu.advance(emu.durations.library_install)
    assert statuses(client, RUNNING)[-1][1] == "INSTALLED"


def test_different_version_fails_as_duplicate_until_uninstall_and_restart(
    emu: Emulator, client: Api
) -> None:
    client.post("/api/2.0/libraries/install", {"cluster_id": RUNNING, "libraries": [{"whl": NEW}]})
    emu.settle()
    body = client.get("/api/2.0/libraries/cluster-status", cluster_id=RUNNING).json()
    failed = body["library_statuses"][1]
    assert failed["status"] == "FAILED"
    assert "ERROR_DUPLICATE_INSTALLATION" in failed["messages"][0]
    assert "pkg has been installed already" in failed["messages"][0]
    # the invariant sees both versions configured
    assert any("package pkg has 2 versions" in v for v in emu.invariants())
    # the right flow: uninstall the old one, restart, new one installs
    client.post(
        "/api/2.0/libraries/uninstall", {"cluster_id": RUNNING, "libraries": [{"whl": OLD}]}
    )
    assert statuses(client, RUNNING) == [(NEW, "FAILED"), (OLD, "UNINSTALL_ON_RESTART")]
    assert emu.invariants() == []
    client.post("/api/2.1/clusters/restart", {"cluster_id": RUNNING})
    emu.settle()
    assert statuses(client, RUNNING) == [(NEW, "INSTALLED")]


def test_uninstall_then_install_on_running_cluster_reinstalls_after_restart(
    emu: Emulator, client: Api
) -> None:
    client.post(
        "/api/2.0/libraries/uninstall", {"cluster_id": RUNNING, "libraries": [{"whl": OLD}]}
    )
    client.post("/api/2.0/libraries/install", {"cluster_id": RUNNING, "libraries": [{"whl": NEW}]})
    emu.settle()
    # the old version is still loaded until the restart
    assert statuses(client, RUNNING) == [(NEW, "FAILED"), (OLD, "UNINSTALL_ON_RESTART")]
    client.post("/api/2.1/clusters/restart", {"cluster_id": RUNNING})
    emu.advance(emu.durations.cluster_restart)
    assert statuses(client, RUNNING) == [(NEW, "PENDING")]
    emu.settle()
    assert statuses(client, RUNNING) == [(NEW, "INSTALLED")]


def test_install_on_terminated_cluster_is_queued(emu: Emulator, client: Api) -> None:
    client.post("/api/2.0/libraries/install", {"cluster_id": STOPPED, "libraries": [{"whl": NEW}]})
    emu.advance(3600)
    assert statuses(client, STOPPED) == [(NEW, "PENDING")]
    client.post("/api/2.1/clusters/start", {"cluster_id": STOPPED})
    emu.settle()
    assert statuses(client, STOPPED) == [(NEW, "INSTALLED")]


def test_missing_wheel_fails_installation(emu: Emulator, client: Api) -> None:
    missing = f"{VOL}/other-2.0.0-py3-none-any.whl"
    client.post(
        "/api/2.0/libraries/install", {"cluster_id": RUNNING, "libraries": [{"whl": missing}]}
    )
    assert any("missing file" in v for v in emu.invariants())
    emu.settle()
    entry = client.get("/api/2.0/libraries/cluster-status", cluster_id=RUNNING).json()[
        "library_statuses"
    ][1]
    assert entry["status"] == "FAILED"
    assert missing in entry["messages"][0]


def test_identical_install_is_a_no_op_and_all_statuses(client: Api) -> None:
    client.post("/api/2.0/libraries/install", {"cluster_id": RUNNING, "libraries": [{"whl": OLD}]})
    assert statuses(client, RUNNING) == [(OLD, "INSTALLED")]
    every = client.get("/api/2.0/libraries/all-cluster-statuses").json()["statuses"]
    assert [s["cluster_id"] for s in every] == [RUNNING]


def test_library_request_errors(client: Api) -> None:
    assert error_of(
        client.post(
            "/api/2.0/libraries/install", {"cluster_id": "nope", "libraries": [{"whl": OLD}]}
        )
    ) == (
        400,
        "INVALID_PARAMETER_VALUE",
        "Cluster nope does not exist",
    )
    assert error_of(client.get("/api/2.0/libraries/cluster-status", cluster_id="nope"))[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )
    bad = [{"whl": OLD, "jar": OLD}]
    assert error_of(
        client.post("/api/2.0/libraries/install", {"cluster_id": RUNNING, "libraries": bad})
    )[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )
    relative = [{"whl": "pkg.whl"}]
    assert error_of(
        client.post("/api/2.0/libraries/install", {"cluster_id": RUNNING, "libraries": relative})
    )[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert error_of(client.post("/api/2.0/libraries/install", {"cluster_id": RUNNING}))[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert error_of(
        client.post("/api/2.0/libraries/install", {"cluster_id": RUNNING, "libraries": "x"})
    )[:2] == (
        400,
        "MALFORMED_REQUEST",
    )

"""Identities and per-object access lists over raw HTTP: who sees and changes which job,
run and cluster, the Permissions API bodies, SCIM Me groups, and state that survives a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.emulator_api import Api, error_of
from wheelship.emulator import Emulator

CLUSTER = "0101-000000-shared01"
SP = "5f1d3c9e-0000-4000-8000-00000000b002"
SEED: dict[str, Any] = {
    "groups": ["runners"],
    "users": [
        {"user_name": "ann@example.com", "groups": ["runners"], "token": "dapi-ann"},
        {"user_name": "ben@example.com", "token": "dapi-ben", "display_name": "Ben"},
        {"user_name": "ops@example.com", "groups": ["admins"], "token": "dapi-ops"},
    ],
    "tokens": [{"name": "reader", "value": "dapi-reader-acl", "permission": "read-only"}],
    "service_principals": [
        {
            "application_id": SP,
            "display_name": "deployer",
            "permission": "user",
            "groups": ["runners"],
            "token": "dapi-sp",
        }
    ],
    "clusters": [
        {
            "cluster_id": CLUSTER,
            "cluster_name": "shared",
            "state": "RUNNING",
            "access_control_list": [{"group_name": "runners", "permission_level": "CAN_RESTART"}],
        }
    ],
    "jobs": [
        {
            "job_id": 7,
            "settings": {"name": "nightly", "tasks": [{"task_key": "t"}]},
            "creator_user_name": "ben@example.com",
            "access_control_list": [
                {"group_name": "runners", "permission_level": "CAN_MANAGE_RUN"},
                {"service_principal_name": SP, "permission_level": "CAN_MANAGE"},
            ],
        },
        {"job_id": 8, "settings": {"name": "admin-only", "tasks": [{"task_key": "t"}]}},
    ],
}
MakeApi = Callable[[Emulator, "str | None"], Api]


def test_seeded_access_lists_decide_what_each_identity_sees_and_does(
    emu: Emulator, make_api: MakeApi
) -> None:
    ann, ben, sp = (make_api(emu, t) for t in ("dapi-ann", "dapi-ben", "dapi-sp"))
    ops, reader = make_api(emu, "dapi-ops"), make_api(emu, "dapi-reader-acl")
    ids = {
        name: [j["job_id"] for j in c.get("/api/2.2/jobs/list").json().get("jobs", [])]
        for name, c in {"ann": ann, "ben": ben, "sp": sp, "ops": ops, "reader": reader}.items()
    }
    assert ids == {"ann": [7], "ben": [7], "sp": [7], "ops": [8, 7], "reader": [8, 7]}
    assert ben.get("/api/2.1/jobs/get", job_id=7).json()["run_as_user_name"] == "ben@example.com"
    # run: CAN_MANAGE_RUN via the group; update: only CAN_MANAGE (the service principal)
    run = ann.post("/api/2.1/jobs/run-now", {"job_id": 7})
    assert run.status_code == 200
    run_id = run.json()["run_id"]
    status, code, message = error_of(ann.post("/api/2.1/jobs/update", {"job_id": 7}))
    assert (status, code) == (403, "PERMISSION_DENIED")
    assert message == (
        "User ann@example.com does not have Manage or Owner or Admin permissions on job 7."
    )
    assert sp.post("/api/2.1/jobs/update", {"job_id": 7, "new_settings": {}}).status_code == 200
    assert error_of(sp.post("/api/2.1/jobs/delete", {"job_id": 8}))[0] == 403
    # runs follow their job's list
    assert [r["run_id"] for r in ann.get("/api/2.1/jobs/runs/list").json()["runs"]] == [run_id]
    assert "runs" not in make_api(emu, emu.token).get("/api/2.1/jobs/runs/list", job_id=8).json()
    assert ann.get("/api/2.1/jobs/runs/get", run_id=run_id).status_code == 200
    assert ann.post("/api/2.1/jobs/runs/cancel", {"run_id": run_id}).status_code == 200
    # read-only reads everything and changes nothing
    assert reader.get("/api/2.1/jobs/get", job_id=8).status_code == 200
    assert error_of(reader.post("/api/2.1/jobs/run-now", {"job_id": 7}))[0] == 403
    # clusters: CAN_RESTART restarts but does not manage libraries or edit
    assert [c["cluster_id"] for c in ann.get("/api/2.1/clusters/list").json()["clusters"]] == [
        CLUSTER
    ]
    assert ben.get("/api/2.1/clusters/list").json() == {}
    assert error_of(ben.get("/api/2.1/clusters/get", cluster_id=CLUSTER))[:2] == (
        403,
        "PERMISSION_DENIED",
    )
    assert ann.post("/api/2.1/clusters/restart", {"cluster_id": CLUSTER}).status_code == 200
    install = {"cluster_id": CLUSTER, "libraries": [{"pypi": {"package": "six"}}]}
    assert error_of(ann.post("/api/2.0/libraries/install", install))[0] == 403
    assert error_of(ann.post("/api/2.1/clusters/pin", {"cluster_id": CLUSTER}))[0] == 403
    assert ops.post("/api/2.1/clusters/pin", {"cluster_id": CLUSTER}).status_code == 200
    assert ann.get("/api/2.0/libraries/all-cluster-statuses").status_code == 200
    assert emu.internal_errors == []


def test_permissions_api_bodies(emu: Emulator, client: Api, make_api: MakeApi) -> None:
    got = client.get("/api/2.0/permissions/jobs/7").json()
    assert got == {
        "object_id": "/jobs/7",
        "object_type": "job",
        "access_control_list": [
            {
                "group_name": "runners",
                "all_permissions": [{"permission_level": "CAN_MANAGE_RUN", "inherited": False}],
            },
            {
                "service_principal_name": SP,
                "all_permissions": [{"permission_level": "CAN_MANAGE", "inherited": False}],
                "display_name": "deployer",
            },
            {
                "user_name": "ben@example.com",
                "all_permissions": [{"permission_level": "IS_OWNER", "inherited": False}],
                "display_name": "Ben",
            },
            {
                "group_name": "admins",
                "all_permissions": [
                    {
                        "permission_level": "CAN_MANAGE",
                        "inherited": True,
                        "inherited_from_object": ["/jobs/"],
                    }
                ],
            },
        ],
    }
    levels = client.get("/api/2.0/permissions/clusters/" + CLUSTER + "/permissionLevels").json()
    assert [lv["permission_level"] for lv in levels["permission_levels"]] == [
        "CAN_ATTACH_TO",
        "CAN_RESTART",
        "CAN_MANAGE",
    ]
    # PATCH adds, PUT replaces (keeping the job's owner)
    patch = client.session.patch(
        client.url("/api/2.0/permissions/jobs/8"),
        json={
            "access_control_list": [
                {"user_name": "ann@example.com", "permission_level": "CAN_VIEW"}
            ]
        },
        timeout=30,
    )
    assert patch.status_code == 200
    ann = make_api(emu, "dapi-ann")
    assert ann.get("/api/2.1/jobs/get", job_id=8).status_code == 200
    put = client.put("/api/2.0/permissions/jobs/8", data=b'{"access_control_list": []}').json()[
        "access_control_list"
    ]
    assert [e.get("user_name") or e.get("group_name") for e in put] == [
        "admin@example.com",
        "admins",
    ]
    assert error_of(ann.get("/api/2.1/jobs/get", job_id=8))[0] == 403
    bad = [
        ({"user_name": "ann@example.com", "permission_level": "CAN_FLY"}, "Invalid permission"),
        ({"group_name": "ghosts", "permission_level": "CAN_VIEW"}, "GroupName(ghosts)"),
        ({"group_name": "runners", "permission_level": "IS_OWNER"}, "cannot be the owner"),
    ]
    for entry, text in bad:
        answer = client.put(
            "/api/2.0/permissions/jobs/8", json={"access_control_list": [entry]}, data=None
        )
        status, code, message = error_of(answer)
        assert (status, code) == (400, "INVALID_PARAMETER_VALUE") and text in message
    assert error_of(client.get("/api/2.0/permissions/jobs/999"))[:2] == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert error_of(client.get("/api/2.0/permissions/jobs/7/owners"))[0] == 404


def test_scim_me_lists_direct_groups(emu: Emulator, make_api: MakeApi) -> None:
    me = make_api(emu, "dapi-sp").get("/api/2.0/preview/scim/v2/Me").json()
    assert me["applicationId"] == SP and [g["display"] for g in me["groups"]] == ["runners"]
    ops = make_api(emu, "dapi-ops").get("/api/2.0/preview/scim/v2/Me").json()
    assert [g["display"] for g in ops["groups"]] == ["admins"]


def test_access_lists_survive_a_restart(
    emulator_factory: Callable[..., Emulator], make_api: MakeApi, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    first = emulator_factory(SEED, state_dir=state, clock_speed=0)
    token = first.token
    make_api(first, token).put(
        "/api/2.0/permissions/jobs/8",
        json={
            "access_control_list": [
                {"user_name": "ann@example.com", "permission_level": "CAN_VIEW"}
            ]
        },
        data=None,
    )
    first.stop()
    again = emulator_factory(None, state_dir=state, clock_speed=0)
    assert again.resumed
    ann = make_api(again, "dapi-ann")
    assert [j["job_id"] for j in ann.get("/api/2.2/jobs/list").json()["jobs"]] == [8, 7]
    assert [g["display"] for g in ann.get("/api/2.0/preview/scim/v2/Me").json()["groups"]] == [
        "runners"
    ]


def test_seed_without_identities_keeps_one_admin_workspace(
    emulator_factory: Callable[..., Emulator], make_api: MakeApi
) -> None:
    emu = emulator_factory({"jobs": [{"settings": {"name": "a"}}]}, clock_speed=0)
    api = make_api(emu, emu.token)
    [job] = api.get("/api/2.2/jobs/list").json()["jobs"]
    assert api.post("/api/2.2/jobs/delete", {"job_id": job["job_id"]}).status_code == 200


VOL = "/Volumes/main/ops/artifacts"
UC_SEED: dict[str, Any] = {
    "users": [
        {"user_name": "ann@example.com", "groups": ["runners"], "token": "dapi-ann"},
        {"user_name": "ben@example.com", "token": "dapi-ben"},
        {"user_name": "ops@example.com", "groups": ["admins"], "token": "dapi-ops"},
    ],
    "service_principals": [
        {"application_id": SP, "permission": "user", "token": "dapi-sp", "secret": "s"}
    ],
    "grants": [
        {"on": "catalog main", "to": "runners", "privileges": ["USE CATALOG", "USE SCHEMA"]},
        {"on": "volume main.ops.artifacts", "to": "runners", "privileges": ["READ VOLUME"]},
        {"on": "catalog main", "to": SP, "privileges": ["USE_CATALOG"]},
        {"on": "volume main.ops.artifacts", "to": SP, "privileges": ["ALL PRIVILEGES"]},
    ],
    "files": [{"path": f"{VOL}/a.whl", "content": "a"}],
}


def test_volume_privileges_guard_the_files_api(
    emulator_factory: Callable[..., Emulator], make_api: MakeApi, tmp_path: Path
) -> None:
    emu = emulator_factory(UC_SEED, clock_speed=0, state_dir=tmp_path / "s")
    ann, ben, sp, ops = (make_api(emu, t) for t in ("dapi-ann", "dapi-ben", "dapi-sp", "dapi-ops"))
    admin = make_api(emu, emu.token)
    url = f"/api/2.0/fs/files{VOL}/a.whl"
    assert ann.get(url).content == b"a"
    assert error_of(ann.put(url, b"x")) == (
        403,
        "PERMISSION_DENIED",
        "User does not have WRITE VOLUME on Volume 'main.ops.artifacts'.",
    )
    assert error_of(ben.get(url))[2] == "User does not have USE CATALOG on Catalog 'main'."
    # ALL PRIVILEGES on the volume, but no USE SCHEMA on the way down
    assert error_of(sp.get(url))[2] == "User does not have USE SCHEMA on Schema 'main.ops'."
    # a workspace admin is no data owner; the seed's admin_user owns every securable
    assert error_of(ops.get(f"/api/2.0/fs/directories{VOL}"))[0] == 403
    assert admin.put(url, b"new").status_code == 204
    change = {"changes": [{"principal": SP, "add": ["USE_SCHEMA"]}]}
    patched = admin.session.patch(
        admin.url("/api/2.1/unity-catalog/permissions/schema/main.ops"), json=change, timeout=30
    )
    assert patched.json() == {
        "privilege_assignments": [{"principal": SP, "privileges": ["USE_SCHEMA"]}]
    }
    assert sp.put(url, b"sp").status_code == 204
    assert error_of(
        sp.session.patch(
            sp.url("/api/2.1/unity-catalog/permissions/schema/main.ops"), json=change, timeout=30
        )
    )[:2] == (403, "PERMISSION_DENIED")
    effective = admin.get(
        "/api/2.1/unity-catalog/effective-permissions/volume/main.ops.artifacts", principal=SP
    ).json()
    assert effective == {
        "privilege_assignments": [
            {
                "principal": SP,
                "privileges": [
                    {
                        "privilege": "USE_CATALOG",
                        "inherited_from_type": "CATALOG",
                        "inherited_from_name": "main",
                    },
                    {
                        "privilege": "USE_SCHEMA",
                        "inherited_from_type": "SCHEMA",
                        "inherited_from_name": "main.ops",
                    },
                    {"privilege": "ALL_PRIVILEGES"},
                ],
            }
        ]
    }
    assert admin.get("/api/2.1/unity-catalog/permissions/volume/main.ops.artifacts").json() == {
        "privilege_assignments": [
            {"principal": SP, "privileges": ["ALL_PRIVILEGES"]},
            {"principal": "runners", "privileges": ["READ_VOLUME"]},
        ]
    }
    bad = admin.session.patch(
        admin.url("/api/2.1/unity-catalog/permissions/volume/main.ops.artifacts"),
        json={"changes": [{"principal": "ghost", "add": ["READ_VOLUME"]}]},
        timeout=30,
    )
    assert error_of(bad)[2] == "Could not find principal with name ghost"
    emu.stop()
    again = emulator_factory(None, clock_speed=0, state_dir=tmp_path / "s")
    assert make_api(again, "dapi-sp").get(url).content == b"sp"  # grants survive a restart
    assert error_of(make_api(again, "dapi-ben").get(url))[0] == 403


def test_a_job_runs_as_its_run_as_identity_which_needs_read_volume(
    emulator_factory: Callable[..., Emulator], make_api: MakeApi
) -> None:
    wheel = f"{VOL}/pkg-1.0.0-py3-none-any.whl"
    task = {
        "task_key": "main",
        "existing_cluster_id": CLUSTER,
        "python_wheel_task": {"package_name": "pkg", "entry_point": "main"},
        "libraries": [{"whl": wheel}],
    }
    seed = {
        **UC_SEED,
        "grants": [
            {"on": "catalog main", "to": "users", "privileges": ["USE CATALOG", "USE SCHEMA"]},
            {"on": "volume main.ops.artifacts", "to": "runners", "privileges": ["READ VOLUME"]},
        ],
        "files": [{"path": wheel, "content": "wheel"}],
        "clusters": [{"cluster_id": CLUSTER, "state": "RUNNING"}],
        "jobs": [
            {
                "job_id": 1,
                "name": "as-ann",
                "tasks": [task],
                "run_as": {"user_name": "ann@example.com"},
            },
            {
                "job_id": 2,
                "name": "as-sp",
                "tasks": [task],
                "run_as": {"service_principal_name": SP},
            },
        ],
    }
    emu = emulator_factory(seed, clock_speed=0)
    api = make_api(emu, emu.token)
    assert api.get("/api/2.2/jobs/get", job_id=2).json()["run_as_user_name"] == SP
    runs = {
        job: api.post("/api/2.2/jobs/run-now", {"job_id": job}).json()["run_id"] for job in (1, 2)
    }
    emu.settle()
    ok, denied = (api.get("/api/2.2/jobs/runs/get", run_id=runs[j]).json() for j in (1, 2))
    assert ok["state"]["result_state"] == "SUCCESS"
    assert denied["status"]["termination_details"]["code"] == "LIBRARY_INSTALLATION_ERROR"
    assert denied["state"]["state_message"].endswith(
        "error message: PERMISSION_DENIED: User does not have READ VOLUME on Volume "
        "'main.ops.artifacts'."
    )


def test_only_admins_make_a_job_run_as_another_user(emu: Emulator, make_api: MakeApi) -> None:
    ann = make_api(emu, "dapi-ann")

    def create(run_as: dict[str, str]) -> Any:
        return ann.post("/api/2.2/jobs/create", {"name": "x", "run_as": run_as})

    assert create({"user_name": "ann@example.com"}).status_code == 200
    assert create({"service_principal_name": SP}).status_code == 200
    status, code, message = error_of(create({"user_name": "ben@example.com"}))
    assert (status, code) == (403, "PERMISSION_DENIED") and "only admins" in message
    assert error_of(create({"user_name": "a", "service_principal_name": SP}))[0] == 400

"""Conformance: the official databricks-sdk (pinned 0.162.0) drives every endpoint wheelship
uses and cannot tell the emulator from a workspace — results and error classes as documented.

Files API traffic: most tests set ``DATABRICKS_DISABLE_EXPERIMENTAL_FILES_API_CLIENT=true`` for
deterministic single PUT/GET requests; ``test_files_default_client_falls_back`` runs the SDK's
default client, whose multipart/presigned probes the emulator answers like a workspace without
those features (404 ENDPOINT_NOT_FOUND), and checks that it falls back to plain PUT/GET.
"""

from __future__ import annotations

import base64
import io
import os
import time
from pathlib import Path
from typing import Any

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from databricks.sdk.errors import (
    AlreadyExists,
    BadRequest,
    InternalError,
    InvalidParameterValue,
    InvalidState,
    NotFound,
    PermissionDenied,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from databricks.sdk.service import catalog as C
from databricks.sdk.service import jobs as J
from databricks.sdk.service.compute import (
    ClusterAccessControlRequest,
    ClusterPermissionLevel,
    Library,
    LibraryInstallStatus,
    PythonPyPiLibrary,
    State,
)
from databricks.sdk.service.workspace import ImportFormat, ObjectType

from wheelship.emulator import Emulator
from wheelship.emulator.auth import make_jwt

VOL = "/Volumes/main/ops/artifacts"
WHEEL = f"{VOL}/pkg-1.0.0-py3-none-any.whl"
WHEEL2 = f"{VOL}/pkg-1.1.0-py3-none-any.whl"
CLUSTER = "0101-000000-shared01"
STOPPED = "0101-000000-stopped1"
SP_ID = "5f1d3c9e-0000-4000-8000-00000000a001"
ISSUER = "https://gitlab.example.com"
SUBJECT = "project_path:data/forecast:ref_type:branch:ref:main"
HS_SECRET = "gitlab-signing-key-for-tests"
ALICE = "alice@example.com"  # a plain workspace user in group data-eng
BOB = "bob@example.com"  # a plain workspace user in no group
SEED: dict[str, Any] = {
    "files": [{"path": WHEEL, "content": "wheel-1.0"}, {"path": WHEEL2, "content": "wheel-1.1"}],
    "clusters": [
        {
            "cluster_id": CLUSTER,
            "cluster_name": "shared",
            "state": "RUNNING",
            "custom_tags": {"deploy": "yes"},
            "libraries": [{"whl": WHEEL}],
        },
        {"cluster_id": STOPPED, "cluster_name": "stopped", "state": "TERMINATED"},
    ],
    "tokens": [{"name": "reader", "value": "dapi-reader-conf", "permission": "read-only"}],
    "users": [
        {"user_name": ALICE, "groups": ["data-eng"], "token": "dapi-alice-conf"},
        {"user_name": BOB, "token": "dapi-bob-conf"},
    ],
    "service_principals": [
        {"application_id": SP_ID, "secret": "sp-secret", "display_name": "deployer"}
    ],
    "oidc_federation": [
        {
            "issuer": ISSUER,
            "audiences": ["acct-1"],
            "subject": SUBJECT,
            "service_principal": SP_ID,
            "hs256_secret": HS_SECRET,
        }
    ],
}


@pytest.fixture(autouse=True)
def _clean_sdk_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("DATABRICKS_", "ARM_", "GITLAB_CI")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))
    monkeypatch.setenv("DATABRICKS_DISABLE_EXPERIMENTAL_FILES_API_CLIENT", "true")


@pytest.fixture
def emu(emulator_factory) -> Emulator:  # type: ignore[no-untyped-def]
    # fast enough that the SDK's waiters (1 s polls) see clusters and runs finish
    return emulator_factory(SEED, clock_speed=200)  # type: ignore[no-any-return]


def client(emu: Emulator, **config: Any) -> WorkspaceClient:
    config.setdefault("token", emu.token)
    cfg = Config(host=emu.url, retry_timeout_seconds=15, http_timeout_seconds=10, **config)
    return WorkspaceClient(config=cfg)


@pytest.fixture
def w(emu: Emulator) -> WorkspaceClient:
    return client(emu)


# -- Files API --------------------------------------------------------------------------------
def test_files_round_trip(w: WorkspaceClient, emu: Emulator) -> None:
    path = f"{VOL}/new dir/pkg-2.0.0-py3-none-any.whl"
    w.files.upload(path, io.BytesIO(b"abc"), overwrite=True)
    meta = w.files.get_metadata(path)
    assert meta.content_length == 3
    assert meta.content_type == "application/octet-stream"
    assert meta.last_modified
    assert w.files.download(path).contents.read() == b"abc"
    w.files.create_directory(f"{VOL}/empty")
    w.files.get_directory_metadata(f"{VOL}/empty")
    names = {e.name: e for e in w.files.list_directory_contents(VOL)}
    assert set(names) == {
        "empty",
        "new dir",
        "pkg-1.0.0-py3-none-any.whl",
        "pkg-1.1.0-py3-none-any.whl",
    }
    assert names["empty"].is_directory and names["pkg-1.0.0-py3-none-any.whl"].file_size == 9
    w.files.delete_directory(f"{VOL}/empty")
    w.files.delete(path)
    assert not emu.file_exists(path)


def test_files_errors(w: WorkspaceClient) -> None:
    with pytest.raises(NotFound):
        w.files.download(f"{VOL}/missing.whl")
    with pytest.raises(NotFound):
        w.files.get_metadata(f"{VOL}/missing.whl")
    with pytest.raises(AlreadyExists):
        w.files.upload(WHEEL, io.BytesIO(b"x"), overwrite=False)
    with pytest.raises(BadRequest, match="not empty"):
        w.files.delete_directory(VOL)


def test_files_list_pages(w: WorkspaceClient) -> None:
    for i in range(7):
        w.files.upload(f"{VOL}/many/f{i}", io.BytesIO(b"x"))
    entries = list(w.files.list_directory_contents(f"{VOL}/many", page_size=3))
    assert [e.name for e in entries] == [f"f{i}" for i in range(7)]


def test_files_default_client_falls_back(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABRICKS_DISABLE_EXPERIMENTAL_FILES_API_CLIENT")
    w = client(emu)
    data = os.urandom(51 * 1024 * 1024)  # above the 50 MiB multipart threshold
    w.files.upload(f"{VOL}/big.bin", io.BytesIO(data), overwrite=True)
    assert emu.file_sha256(f"{VOL}/big.bin") == emu.blob_digest(data)
    assert w.files.download(WHEEL).contents.read() == b"wheel-1.0"
    probes = [r for r in emu.requests if r.status == 404]
    assert {r.endpoint.split(" ")[0] for r in probes} == {"POST"}
    assert all(r.fault is None for r in emu.requests)


# -- Workspace --------------------------------------------------------------------------------
def test_workspace_upload_import_status_list_download(w: WorkspaceClient, emu: Emulator) -> None:
    w.workspace.mkdirs("/Shared/libs")
    w.workspace.upload(
        "/Shared/libs/pkg-1.0.0-py3-none-any.whl",
        io.BytesIO(b"multipart"),
        format=ImportFormat.AUTO,
        overwrite=True,
    )
    w.workspace.import_(
        "/Shared/libs/notes.txt",
        content=base64.b64encode(b"json").decode(),
        format=ImportFormat.AUTO,
    )
    status = w.workspace.get_status("/Shared/libs/pkg-1.0.0-py3-none-any.whl")
    assert status.object_type == ObjectType.FILE and status.size == 9
    assert sorted(o.path for o in w.workspace.list("/Shared/libs")) == [
        "/Shared/libs/notes.txt",
        "/Shared/libs/pkg-1.0.0-py3-none-any.whl",
    ]
    with w.workspace.download("/Shared/libs/notes.txt") as fh:
        assert fh.read() == b"json"
    assert emu.read_file("/Workspace/Shared/libs/pkg-1.0.0-py3-none-any.whl") == b"multipart"
    with pytest.raises(ResourceAlreadyExists):
        w.workspace.import_("/Shared/libs/notes.txt", content="eA==", format=ImportFormat.AUTO)
    with pytest.raises(BadRequest):
        w.workspace.delete("/Shared/libs")
    w.workspace.delete("/Shared/libs", recursive=True)
    with pytest.raises(ResourceDoesNotExist):
        w.workspace.get_status("/Shared/libs")
    with pytest.raises(ResourceDoesNotExist, match="parent folder"):
        w.workspace.upload("/Shared/none/x.whl", io.BytesIO(b"x"), format=ImportFormat.AUTO)


# -- DBFS -------------------------------------------------------------------------------------
def test_dbfs_put_upload_status_read_delete(w: WorkspaceClient, emu: Emulator) -> None:
    w.dbfs.put(
        "dbfs:/FileStore/small.whl", contents=base64.b64encode(b"small").decode(), overwrite=True
    )
    big = os.urandom(3 * 1024 * 1024 + 17)
    w.dbfs.upload("dbfs:/FileStore/big.whl", io.BytesIO(big), overwrite=True)
    assert w.dbfs.get_status("dbfs:/FileStore/big.whl").file_size == len(big)
    with w.dbfs.download("dbfs:/FileStore/big.whl") as fh:
        assert fh.read() == big
    assert sorted(f.path for f in w.dbfs.list("dbfs:/FileStore")) == [
        "/FileStore/big.whl",
        "/FileStore/small.whl",
    ]
    assert w.dbfs.exists("dbfs:/FileStore/small.whl")
    with pytest.raises(ResourceAlreadyExists):
        w.dbfs.put("dbfs:/FileStore/small.whl", contents="eA==", overwrite=False)
    w.dbfs.mkdirs("dbfs:/FileStore/dir")
    w.dbfs.move_("dbfs:/FileStore/small.whl", "dbfs:/FileStore/dir/small.whl")
    w.dbfs.delete("dbfs:/FileStore", recursive=True)
    with pytest.raises(ResourceDoesNotExist):
        w.dbfs.get_status("dbfs:/FileStore/big.whl")
    assert emu.files("dbfs:") == {}


# -- Clusters and libraries -------------------------------------------------------------------
def test_clusters_list_get_start_restart_with_waiters(w: WorkspaceClient, emu: Emulator) -> None:
    assert {c.cluster_id for c in w.clusters.list()} == {CLUSTER, STOPPED}
    got = w.clusters.get(CLUSTER)
    assert got.state == State.RUNNING and got.custom_tags == {"deploy": "yes"}
    with pytest.raises(ResourceDoesNotExist):
        w.clusters.get("0000-000000-missing0")
    with pytest.raises(InvalidState, match="unexpected state Running"):
        w.clusters.start(CLUSTER)
    with pytest.raises(InvalidState, match="unexpected state Terminated"):
        w.clusters.restart(STOPPED)
    assert w.clusters.start(STOPPED).result().state == State.RUNNING
    assert w.clusters.restart(CLUSTER).result().state == State.RUNNING
    assert w.clusters.delete(STOPPED).result().state == State.TERMINATED
    w.clusters.ensure_cluster_is_running(STOPPED)
    assert emu.cluster_state(STOPPED) == "RUNNING"


def test_libraries_install_uninstall_restart(w: WorkspaceClient, emu: Emulator) -> None:
    w.libraries.uninstall(CLUSTER, [Library(whl=WHEEL)])
    w.libraries.install(
        CLUSTER, [Library(whl=WHEEL2), Library(pypi=PythonPyPiLibrary(package="requests==2.31.0"))]
    )
    statuses = {
        s.library.whl or s.library.pypi.package: s.status
        for s in w.libraries.cluster_status(CLUSTER)
    }
    assert statuses[WHEEL] == LibraryInstallStatus.UNINSTALL_ON_RESTART
    w.clusters.restart(CLUSTER).result()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        statuses = {
            s.library.whl or s.library.pypi.package: s.status
            for s in w.libraries.cluster_status(CLUSTER)
        }
        if set(statuses.values()) == {LibraryInstallStatus.INSTALLED}:
            break
        time.sleep(0.2)
    assert statuses == {
        WHEEL2: LibraryInstallStatus.INSTALLED,
        "requests==2.31.0": LibraryInstallStatus.INSTALLED,
    }
    every = w.libraries.all_cluster_statuses()
    assert [s.cluster_id for s in every] == [CLUSTER]
    with pytest.raises(InvalidParameterValue, match="does not exist"):
        list(w.libraries.cluster_status("0000-000000-missing0"))
    assert emu.invariants() == []


def test_dbfs_library_on_a_15_4_cluster_fails_with_the_services_message(
    w: WorkspaceClient, emu: Emulator
) -> None:
    assert w.clusters.get(CLUSTER).spark_version == "15.4.x-scala2.12"
    wheel = "dbfs:/FileStore/libs/pkg-2.0.0-py3-none-any.whl"
    w.dbfs.put(wheel, contents=base64.b64encode(b"wheel").decode(), overwrite=True)
    w.libraries.install(CLUSTER, [Library(whl=wheel)])
    expected = (
        "Error code: FEATURE_UNSUPPORTED_ON_COMPUTE_ERROR. Error message: "
        "com.databricks.api.base.DatabricksServiceException: BAD_REQUEST: DBFS library "
        "installations are not supported on DBR 15 or above."
    )
    deadline = time.monotonic() + 20
    status = None
    while time.monotonic() < deadline:
        status = next(s for s in w.libraries.cluster_status(CLUSTER) if s.library.whl == wheel)
        if status.status == LibraryInstallStatus.FAILED:
            break
        time.sleep(0.2)
    assert status is not None and status.status == LibraryInstallStatus.FAILED
    assert status.messages[0].endswith(expected)
    job_id = w.jobs.create(name="dbfs", tasks=[_task("main", wheel)]).job_id
    failed = w.jobs.run_now(job_id).result()
    assert failed.status.termination_details.code == (
        J.TerminationCodeCode.LIBRARY_INSTALLATION_ERROR
    )
    assert failed.state.state_message.startswith(
        f'Library installation failed for library due to user error for whl: "{wheel}"'
    )
    assert failed.state.state_message.endswith(expected)


# -- Jobs and runs ----------------------------------------------------------------------------
def _task(key: str, wheel: str = WHEEL) -> J.Task:
    return J.Task(
        task_key=key,
        existing_cluster_id=CLUSTER,
        python_wheel_task=J.PythonWheelTask(package_name="pkg", entry_point="main"),
        libraries=[Library(whl=wheel)],
    )


def test_jobs_create_get_list_reset_update(w: WorkspaceClient, emu: Emulator) -> None:
    job_id = w.jobs.create(name="etl", tasks=[_task(f"t{i}") for i in range(130)]).job_id
    got = w.jobs.get(job_id)  # two pages under 2.2, joined by the SDK
    assert len(got.settings.tasks) == 130
    listed = list(w.jobs.list(name="etl", expand_tasks=True))  # has_more -> jobs/get
    assert [j.job_id for j in listed] == [job_id] and len(listed[0].settings.tasks) == 130
    settings = got.settings
    settings.tasks = [_task("only", WHEEL2)]
    w.jobs.reset(job_id, settings)
    assert [t.task_key for t in w.jobs.get(job_id).settings.tasks] == ["only"]
    w.jobs.update(
        job_id,
        new_settings=J.JobSettings(tasks=[_task("second")], tags={"a": "b"}),
        fields_to_remove=["tasks/only"],
    )
    after = w.jobs.get(job_id).settings
    assert [t.task_key for t in after.tasks] == ["second"] and after.tags == {"a": "b"}
    with pytest.raises(ResourceDoesNotExist):
        w.jobs.get(123)
    w.jobs.delete(job_id)
    assert list(w.jobs.list()) == []
    assert emu.invariants() == []


def test_run_now_result_success_and_missing_wheel_failure(
    w: WorkspaceClient, emu: Emulator
) -> None:
    good = w.jobs.create(name="good", tasks=[_task("main")]).job_id
    run = w.jobs.run_now(good).result()
    assert run.state.life_cycle_state == J.RunLifeCycleState.TERMINATED
    assert run.state.result_state == J.RunResultState.SUCCESS
    assert run.tasks[0].cluster_instance.cluster_id == CLUSTER
    bad = w.jobs.create(
        name="bad", tasks=[_task("main", f"{VOL}/pkg-9.9.9-py3-none-any.whl")]
    ).job_id
    failed = w.jobs.run_now(bad).result()
    assert failed.state.result_state == J.RunResultState.FAILED
    assert (
        failed.status.termination_details.code == J.TerminationCodeCode.LIBRARY_INSTALLATION_ERROR
    )
    runs = list(w.jobs.list_runs(job_id=good, completed_only=True))
    assert [r.run_id for r in runs] == [run.run_id]
    assert w.jobs.get_run(run.run_id).state.result_state == J.RunResultState.SUCCESS


def test_active_runs_and_cancel(w: WorkspaceClient, emu: Emulator) -> None:
    emu.clock.speed = 0  # keep the run active while we look
    job_id = w.jobs.create(name="long", tasks=[_task("main")]).job_id
    run_id = w.jobs.run_now(job_id).run_id
    active = list(w.jobs.list_runs(active_only=True))
    assert [(r.run_id, r.cluster_instance.cluster_id) for r in active] == [(run_id, CLUSTER)]
    emu.clock.speed = 200
    cancelled = w.jobs.cancel_run(run_id).result()
    assert cancelled.state.result_state == J.RunResultState.CANCELED
    assert list(w.jobs.list_runs(active_only=True)) == []
    with pytest.raises(ResourceDoesNotExist):
        w.jobs.get_run(42)


def test_job_created_with_21_and_updated_with_22_keeps_no_queue_and_skips(
    w: WorkspaceClient, emu: Emulator
) -> None:
    body = {"name": "legacy", "tasks": [_task("main").as_dict()]}
    job_id = w.api_client.do("POST", "/api/2.1/jobs/create", body=body)["job_id"]
    w.jobs.update(job_id, new_settings=J.JobSettings(tags={"team": "x"}))  # SDK: 2.2
    settings = w.jobs.get(job_id).settings
    assert settings.queue is None and settings.tags == {"team": "x"}
    w.jobs.reset(job_id, settings)  # a 2.2 reset applies no create-time default either
    assert w.jobs.get(job_id).settings.queue is None
    emu.clock.speed = 0  # the first run stays active
    first = w.jobs.run_now(job_id).run_id
    second = w.jobs.get_run(w.jobs.run_now(job_id).run_id)
    assert second.state.life_cycle_state == J.RunLifeCycleState.SKIPPED
    assert "maximum concurrent runs" in second.state.state_message
    assert second.status.state == J.RunLifecycleStateV2State.TERMINATED
    assert (
        second.status.termination_details.code == J.TerminationCodeCode.MAX_CONCURRENT_RUNS_EXCEEDED
    )
    # a job created with 2.2 queues by default: the second run waits, then runs
    queued_job = w.jobs.create(name="queued", tasks=[_task("main")]).job_id
    assert w.jobs.get(queued_job).settings.queue.enabled is True
    w.jobs.run_now(queued_job)
    waiting = w.jobs.run_now(queued_job).run_id
    assert w.jobs.get_run(waiting).state.life_cycle_state == J.RunLifeCycleState.QUEUED
    emu.clock.speed = 200
    assert w.jobs.wait_get_run_job_terminated_or_skipped(waiting).state.result_state == (
        J.RunResultState.SUCCESS
    )
    assert w.jobs.get_run(first).state.result_state == J.RunResultState.SUCCESS


def test_bundle_git_source_run_as_and_requirements_round_trip(
    w: WorkspaceClient, emu: Emulator
) -> None:
    requirements = "/Workspace/Shared/etl/requirements.txt"
    emu.put_file(requirements, b"# pinned\npkg==1.0.0\n")
    metadata = "/Workspace/Users/admin@example.com/.bundle/etl/prod/state/metadata.json"
    job_id = w.jobs.create(
        name="bundled",
        tasks=[
            J.Task(
                task_key="main",
                existing_cluster_id=CLUSTER,
                python_wheel_task=J.PythonWheelTask(package_name="pkg", entry_point="main"),
                libraries=[Library(requirements=requirements)],
            )
        ],
        deployment=J.JobDeployment(kind=J.JobDeploymentKind.BUNDLE, metadata_file_path=metadata),
        edit_mode=J.JobEditMode.UI_LOCKED,
        git_source=J.GitSource(
            git_url="https://gitlab.example.com/data/etl.git",
            git_provider=J.GitProvider.GIT_LAB,
            git_branch="main",
        ),
        run_as=J.JobRunAs(service_principal_name=SP_ID),
    ).job_id
    created = w.jobs.get(job_id)
    settings = created.settings
    assert settings.deployment.kind == J.JobDeploymentKind.BUNDLE
    assert settings.deployment.metadata_file_path == metadata
    assert settings.edit_mode == J.JobEditMode.UI_LOCKED
    assert settings.git_source.git_provider == J.GitProvider.GIT_LAB
    assert settings.git_source.git_branch == "main"
    assert settings.run_as.service_principal_name == SP_ID and created.run_as_user_name == SP_ID
    assert settings.tasks[0].libraries == [Library(requirements=requirements)]
    # a UI-locked job still takes API updates (the lock is for the UI; bundles redeploy so)
    w.jobs.update(job_id, new_settings=J.JobSettings(edit_mode=J.JobEditMode.EDITABLE))
    updated = w.jobs.get(job_id).settings
    assert updated.edit_mode == J.JobEditMode.EDITABLE
    assert (updated.deployment, updated.git_source, updated.run_as) == (
        settings.deployment,
        settings.git_source,
        settings.run_as,
    )
    w.jobs.reset(job_id, settings)
    assert w.jobs.get(job_id).settings == settings
    [listed] = w.jobs.list(name="bundled")
    assert listed.settings.deployment == settings.deployment
    run = w.jobs.run_now(job_id).result()  # the requirements file provides pkg
    assert run.state.result_state == J.RunResultState.SUCCESS
    with pytest.raises(InvalidParameterValue, match="exactly one of git_branch"):
        w.jobs.update(
            job_id,
            new_settings=J.JobSettings(
                git_source=J.GitSource(git_url="x", git_provider=J.GitProvider.GIT_LAB)
            ),
        )


# -- Auth -------------------------------------------------------------------------------------
def test_current_user_and_permissions(emu: Emulator) -> None:
    assert client(emu).current_user.me().user_name == "admin@example.com"
    reader = client(emu, token="dapi-reader-conf")
    assert reader.clusters.get(CLUSTER).cluster_name == "shared"
    with pytest.raises(PermissionDenied):
        reader.clusters.restart(CLUSTER)
    with pytest.raises(PermissionDenied, match="Invalid access token"):
        client(emu, token="dapi-wrong").clusters.get(CLUSTER)


def _grant(level: J.JobPermissionLevel, **who: str) -> J.JobAccessControlRequest:
    return J.JobAccessControlRequest(permission_level=level, **who)


def test_second_principal_meets_403_and_sees_only_visible_jobs(
    w: WorkspaceClient, emu: Emulator
) -> None:
    alice = client(emu, token="dapi-alice-conf")
    bob = client(emu, token="dapi-bob-conf")
    shared = w.jobs.create(
        name="shared",
        tasks=[_task("main")],
        access_control_list=[_grant(J.JobPermissionLevel.CAN_VIEW, group_name="data-eng")],
    ).job_id
    private = w.jobs.create(name="private", tasks=[_task("main")]).job_id
    assert [j.job_id for j in alice.jobs.list()] == [shared]
    assert alice.jobs.get(shared).settings.name == "shared"
    with pytest.raises(PermissionDenied, match="View permissions on job"):
        alice.jobs.get(private)
    with pytest.raises(PermissionDenied, match="Manage or Owner or Admin"):
        alice.jobs.update(shared, new_settings=J.JobSettings(tags={"x": "y"}))
    with pytest.raises(PermissionDenied, match="Manage Run"):
        alice.jobs.run_now(shared)
    assert list(bob.jobs.list()) == []
    mine = bob.jobs.create(name="bob's").job_id  # any user may create; the creator owns it
    assert [j.job_id for j in bob.jobs.list()] == [mine]
    assert {j.job_id for j in w.jobs.list()} == {shared, private, mine}  # admins see all
    assert w.jobs.get(mine).run_as_user_name == BOB
    # clusters: visible only with a permission on them
    assert list(alice.clusters.list()) == []
    with pytest.raises(PermissionDenied):
        alice.clusters.get(CLUSTER)
    w.clusters.set_permissions(
        CLUSTER,
        access_control_list=[
            ClusterAccessControlRequest(
                group_name="data-eng", permission_level=ClusterPermissionLevel.CAN_ATTACH_TO
            )
        ],
    )
    assert [c.cluster_id for c in alice.clusters.list()] == [CLUSTER]
    with pytest.raises(PermissionDenied, match="Restart"):
        alice.clusters.restart(CLUSTER)
    with pytest.raises(PermissionDenied):
        alice.libraries.install(CLUSTER, [Library(whl=WHEEL2)])
    me = alice.current_user.me()
    assert me.user_name == ALICE and [g.display for g in me.groups] == ["data-eng"]
    assert [g.display for g in w.current_user.me().groups] == ["admins"]
    assert emu.internal_errors == []


def test_volume_privileges_through_the_sdk(
    emulator_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = emulator_factory(
        {**SEED, "grants": [{"on": "catalog main", "to": "users", "privileges": ["USE CATALOG"]}]},
        clock_speed=200,
    )
    w, alice = client(emu), client(emu, token="dapi-alice-conf")
    with pytest.raises(PermissionDenied, match=r"USE SCHEMA on Schema 'main\.ops'"):
        alice.files.download(WHEEL)
    w.grants.update(
        "schema",
        "main.ops",
        changes=[C.PermissionsChange(principal="data-eng", add=[C.Privilege.USE_SCHEMA])],
    )
    w.grants.update(
        "volume",
        "main.ops.artifacts",
        changes=[C.PermissionsChange(principal=ALICE, add=[C.Privilege.READ_VOLUME])],
    )
    assert alice.files.download(WHEEL).contents.read() == b"wheel-1.0"
    with pytest.raises(PermissionDenied, match="WRITE VOLUME"):
        alice.files.upload(WHEEL, io.BytesIO(b"x"), overwrite=True)
    got = w.grants.get("volume", "main.ops.artifacts")
    assert [(a.principal, a.privileges) for a in got.privilege_assignments] == [
        (ALICE, [C.Privilege.READ_VOLUME])
    ]
    effective = w.grants.get_effective("volume", "main.ops.artifacts", principal="users")
    [users] = effective.privilege_assignments
    assert [(p.privilege, p.inherited_from_name) for p in users.privileges] == [
        (C.Privilege.USE_CATALOG, "main")
    ]


def test_job_permissions_round_trip(w: WorkspaceClient, emu: Emulator) -> None:
    job_id = w.jobs.create(name="perms", tasks=[_task("main")]).job_id

    def levels() -> dict[str, list[tuple[str, bool]]]:
        got = w.jobs.get_permissions(str(job_id))
        assert got.object_id == f"/jobs/{job_id}" and got.object_type == "job"
        return {
            str(a.user_name or a.group_name or a.service_principal_name): [
                (p.permission_level.value, bool(p.inherited)) for p in a.all_permissions
            ]
            for a in got.access_control_list
        }

    assert levels() == {
        "admin@example.com": [("IS_OWNER", False)],
        "admins": [("CAN_MANAGE", True)],
    }
    w.jobs.set_permissions(
        str(job_id),
        access_control_list=[_grant(J.JobPermissionLevel.CAN_MANAGE, user_name=ALICE)],
    )
    assert levels() == {
        ALICE: [("CAN_MANAGE", False)],
        "admin@example.com": [("IS_OWNER", False)],  # a PUT without an owner keeps it
        "admins": [("CAN_MANAGE", True)],
    }
    alice = client(emu, token="dapi-alice-conf")
    alice.jobs.update(job_id, new_settings=J.JobSettings(tags={"by": "alice"}))
    alice.jobs.update_permissions(
        str(job_id), access_control_list=[_grant(J.JobPermissionLevel.CAN_VIEW, user_name=BOB)]
    )
    assert levels()[BOB] == [("CAN_VIEW", False)] and ALICE in levels()
    with pytest.raises(PermissionDenied, match="only admins can change the owner"):
        alice.jobs.set_permissions(
            str(job_id),
            access_control_list=[_grant(J.JobPermissionLevel.IS_OWNER, user_name=ALICE)],
        )
    w.jobs.update_permissions(
        str(job_id), access_control_list=[_grant(J.JobPermissionLevel.IS_OWNER, user_name=ALICE)]
    )
    assert levels()[ALICE] == [("IS_OWNER", False)] and "admin@example.com" not in levels()
    assert w.jobs.get(job_id).run_as_user_name == ALICE  # runs as its owner
    names = [
        lv.permission_level.value
        for lv in w.jobs.get_permission_levels(str(job_id)).permission_levels
    ]
    assert names == ["CAN_VIEW", "CAN_MANAGE_RUN", "CAN_MANAGE", "IS_OWNER"]
    with pytest.raises(InvalidParameterValue, match=r"UserName\(nobody@example.com\) does not"):
        w.jobs.set_permissions(
            str(job_id),
            access_control_list=[
                _grant(J.JobPermissionLevel.CAN_VIEW, user_name="nobody@example.com")
            ],
        )
    with pytest.raises(PermissionDenied):
        client(emu, token="dapi-bob-conf").jobs.set_permissions(str(job_id), access_control_list=[])
    cluster = w.clusters.get_permissions(CLUSTER)
    assert cluster.object_id == f"/clusters/{CLUSTER}"
    assert [
        lv.permission_level.value
        for lv in w.clusters.get_permission_levels(CLUSTER).permission_levels
    ] == [
        "CAN_ATTACH_TO",
        "CAN_RESTART",
        "CAN_MANAGE",
    ]


def test_oauth_m2m(emu: Emulator) -> None:
    w = client(emu, token=None, client_id=SP_ID, client_secret="sp-secret", auth_type="oauth-m2m")
    me = w.current_user.me()
    assert me.user_name == SP_ID
    assert w.clusters.get(CLUSTER).state == State.RUNNING
    tokens = {r.token for r in emu.requests if r.path.startswith("/api/")}
    assert tokens == {f"oauth:{SP_ID}"}
    assert any(r.path == "/oidc/v1/token" and r.status == 200 for r in emu.requests)
    bad = client(emu, token=None, client_id=SP_ID, client_secret="wrong", auth_type="oauth-m2m")
    with pytest.raises(ValueError, match="invalid_client"):
        bad.current_user.me()


def _id_token(**overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": "acct-1",
        "sub": SUBJECT,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return make_jwt(claims, HS_SECRET)


def test_env_oidc_token_exchange(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_OIDC_TOKEN", _id_token())
    w = client(emu, token=None, client_id=SP_ID, auth_type="env-oidc")
    assert w.current_user.me().user_name == SP_ID
    exchange = [r for r in emu.requests if r.path == "/oidc/v1/token"]
    assert exchange and exchange[-1].status == 200


def test_env_oidc_from_environment_only(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only DATABRICKS_HOST + DATABRICKS_OIDC_TOKEN: the SDK picks env-oidc by itself and sends
    the exchange without client_id (account-wide form)."""
    monkeypatch.setenv("DATABRICKS_HOST", emu.url)
    monkeypatch.setenv("DATABRICKS_OIDC_TOKEN", _id_token())
    w = WorkspaceClient(config=Config(retry_timeout_seconds=15))
    assert w.config.auth_type == "env-oidc"
    assert w.current_user.me().user_name == SP_ID


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"sub": "project_path:data/forecast:ref_type:branch:ref:feature"}, "subject"),
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "https://evil.example.com"}, "issuer"),
        ({"exp": 1}, "expired"),
    ],
)
def test_env_oidc_rejects_tokens_outside_the_policy(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, claims: dict[str, Any], reason: str
) -> None:
    monkeypatch.setenv("DATABRICKS_OIDC_TOKEN", _id_token(**claims))
    w = client(emu, token=None, client_id=SP_ID, auth_type="env-oidc")
    with pytest.raises(ValueError, match=reason):
        w.current_user.me()


# -- Errors and retries -----------------------------------------------------------------------
def _count(emu: Emulator, endpoint: str) -> int:
    return emu.counters.get(endpoint, 0)


def test_429_and_503_are_retried_with_retry_after(w: WorkspaceClient, emu: Emulator) -> None:
    emu.add_fault("429", endpoint="GET /api/2.1/clusters/get", count=2, retry_after=1)
    emu.add_fault("503", endpoint="GET /api/2.1/clusters/get", count=1)
    started = time.monotonic()
    assert w.clusters.get(CLUSTER).cluster_id == CLUSTER
    assert time.monotonic() - started >= 2.0  # honoured Retry-After: 1 twice
    statuses = [r.status for r in emu.requests if r.endpoint == "GET /api/2.1/clusters/get"]
    assert statuses == [429, 429, 503, 200]


@pytest.mark.parametrize(
    ("message", "status"),
    [
        ("RPC token bucket limit has been exceeded", 400),
        ("Please try again later or try a faster operation.", 400),
        ("Cluster is not ready: ClusterNotReadyException", 409),
        ("Unexpected error", 500),
    ],
)
def test_sdk_retries_message_based_transient_errors(
    w: WorkspaceClient, emu: Emulator, message: str, status: int
) -> None:
    emu.add_fault(
        "transient", endpoint="GET /api/2.1/clusters/get", count=1, message=message, status=status
    )
    assert w.clusters.get(CLUSTER).cluster_id == CLUSTER
    statuses = [r.status for r in emu.requests if r.endpoint == "GET /api/2.1/clusters/get"]
    assert statuses == [status, 200]


def test_429_without_retry_after_is_retried(w: WorkspaceClient, emu: Emulator) -> None:
    emu.add_fault("429-no-retry-after", endpoint="GET /api/2.2/jobs/list", count=1)
    assert list(w.jobs.list()) == []
    [throttled, ok] = [r for r in emu.requests if r.endpoint == "GET /api/2.2/jobs/list"]
    assert (throttled.status, throttled.fault, ok.status) == (429, "429", 200)
    emu.set_rate_limit("GET /api/2.1/clusters/get", per_second=1, burst=1, retry_after=False)
    for _ in range(2):
        assert w.clusters.get(CLUSTER).cluster_id == CLUSTER
    statuses = [r.status for r in emu.requests if r.endpoint == "GET /api/2.1/clusters/get"]
    assert statuses.count(200) == 2 and 429 in statuses


def test_rate_limit_answers_429_until_the_bucket_refills(emu: Emulator) -> None:
    w = client(emu)
    emu.set_rate_limit("GET /api/2.1/clusters/get", per_second=2, burst=2)
    for _ in range(4):
        w.clusters.get(CLUSTER)
    statuses = [r.status for r in emu.requests if r.endpoint == "GET /api/2.1/clusters/get"]
    assert statuses.count(200) == 4 and 429 in statuses


def test_500_surfaces_immediately_and_retry_budget_is_bounded(emu: Emulator) -> None:
    w = client(emu)
    emu.add_fault("500", endpoint="GET /api/2.1/clusters/get", count=1)
    with pytest.raises(InternalError):
        w.clusters.get(CLUSTER)
    assert _count(emu, "GET /api/2.1/clusters/get") == 1
    impatient = WorkspaceClient(
        config=Config(host=emu.url, token=emu.token, retry_timeout_seconds=2)
    )
    emu.add_fault("503", endpoint="GET /api/2.1/clusters/list")
    with pytest.raises(TimeoutError):
        list(impatient.clusters.list())


def test_connection_reset_is_retried(w: WorkspaceClient, emu: Emulator) -> None:
    emu.add_fault("reset", endpoint="GET /api/2.2/jobs/list", count=1)
    assert list(w.jobs.list()) == []
    statuses = [r.status for r in emu.requests if r.endpoint == "GET /api/2.2/jobs/list"]
    assert statuses == [0, 200]


def test_latency_knob_slows_answers(w: WorkspaceClient, emu: Emulator) -> None:
    emu.set_latency(0.3, endpoint="GET /api/2.1/clusters/get")
    started = time.monotonic()
    w.clusters.get(CLUSTER)
    assert time.monotonic() - started >= 0.3
    emu.set_latency(None, endpoint="GET /api/2.1/clusters/get")

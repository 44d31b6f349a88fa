from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wheelship.emulator import invariants, persistence
from wheelship.emulator.blobs import BlobStore
from wheelship.emulator.clock import SimClock
from wheelship.emulator.libspec import file_ref, package_of, requirement_package, wheel_package
from wheelship.emulator.seed import SeedError, apply_seed, load_seed
from wheelship.emulator.state import Workspace

VOL = "/Volumes/main/ops/a"
V1 = f"{VOL}/pkg-1.0.0-py3-none-any.whl"
V2 = f"{VOL}/pkg-2.0.0-py3-none-any.whl"


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ({"clusterz": []}, "seed clusterz: unknown key"),
        ({"clusters": {}}, "seed clusters: expected a list"),
        (
            {"clusters": [{"custom_tags": {"a": 1}}]},
            "seed clusters[0].custom_tags: expected a mapping of strings",
        ),
        (
            {"clusters": [{"libraries": [{"whl": "rel.whl"}]}]},
            "seed clusters[0].libraries[0]: Library path",
        ),
        (
            {"clusters": [{"libraries": [{"whl": V1, "status": "WEIRD"}]}]},
            "seed clusters[0].libraries[0].status",
        ),
        ({"tokens": [{"name": "x"}]}, "seed tokens[0].value: is required"),
        (
            {"tokens": [{"name": "x", "value": "v", "permission": "root"}]},
            "seed tokens[0].permission",
        ),
        ({"files": [{"path": V1}]}, "seed files[0]: give exactly one of"),
        ({"files": [{"path": "relative", "content": "x"}]}, "seed files[0]: cannot store relative"),
        ({"files": [{"path": V1, "source": "nope.whl"}]}, "seed files[0].source: file"),
        (
            {"jobs": [{"settings": {"tasks": [{"task_key": "a"}, {"task_key": "a"}]}}]},
            "seed jobs[0].settings: The task_key 'a' is not unique",
        ),
        (
            {"jobs": [{"job_id": 1, "name": "a"}, {"job_id": 1, "name": "b"}]},
            "seed jobs[1].job_id: duplicate job id 1",
        ),
        ({"volumes": ["main.ops"]}, "seed volumes[0]"),
        (
            {"oidc_federation": [{"issuer": "i", "audiences": ["a"], "subject": "s"}]},
            "seed oidc_federation[0]: give hs256_secret or jwks",
        ),
        (
            {
                "oidc_federation": {
                    "issuer": "i",
                    "audiences": ["a"],
                    "subject": "s",
                    "service_principal": "x",
                    "verify_signature": False,
                }
            },
            "seed oidc_federation[0].service_principal: no service principal 'x'",
        ),
        ({"durations": {"warp": 1}}, "seed durations.warp: unknown duration"),
    ],
)
def test_seed_errors_name_the_key_path(ws: Workspace, seed: dict[str, Any], message: str) -> None:
    with pytest.raises(SeedError) as info:
        apply_seed(ws, seed, Path("/nonexistent"))
    assert str(info.value).startswith(message), str(info.value)


def test_seed_file_loading(tmp_path: Path, ws: Workspace) -> None:
    wheel = tmp_path / "dist" / "pkg-1.0.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"PK-wheel")
    seed = tmp_path / "ws.yml"
    seed.write_text(
        f"""
workspace_id: 42
volumes: [main.ops.a]
directories: [/Workspace/Shared/libs]
files:
  - {{path: {V1}, source: dist/pkg-1.0.0-py3-none-any.whl}}
  - {{path: /Workspace/Shared/libs/nb.py, content: "print(1)", object_type: NOTEBOOK}}
  - {{path: "dbfs:/FileStore/b.bin", content_base64: AAEC}}
clusters:
  - {{cluster_id: c1, cluster_name: shared, state: TERMINATED, libraries: [{{whl: {V1}}}]}}
jobs:
  - {{job_id: 7, settings: {{name: etl}}}}
durations: {{cluster_start: 5}}
"""
    )
    data, base = load_seed(seed)
    apply_seed(ws, data, base)
    assert ws.workspace_id == 42 and ws.declared_volumes == {VOL}
    assert ws.blobs.read(ws.volumes.nodes[V1].blob_id or "") == b"PK-wheel"
    assert ws.workspace.nodes["/Shared/libs/nb.py"].object_type == "NOTEBOOK"
    assert ws.blobs.read(ws.dbfs.nodes["/FileStore/b.bin"].blob_id or "") == b"\x00\x01\x02"
    assert ws.clusters["c1"].libraries[0].status == "PENDING"
    assert ws.jobs[7].settings["name"] == "etl" and ws.next_job_id > 7
    assert ws.durations.cluster_start == 5


def test_seed_file_grants_read_a_bare_on_key(tmp_path: Path, ws: Workspace) -> None:
    """YAML 1.1 reads ``on:`` as true; a grant written as the docs show it still loads."""
    seed = tmp_path / "ws.yml"
    seed.write_text(
        "users: [{user_name: ann@example.com, groups: [data-eng], token: dapi-ann}]\n"
        "grants:\n  - {on: catalog main, to: data-eng, privileges: [USE CATALOG]}\n"
        "  - {'on': schema main.ops, to: data-eng, privileges: [USE SCHEMA]}\n"
    )
    data, base = load_seed(seed)
    apply_seed(ws, data, base)
    assert ws.grants is not None and len(ws.grants) == 2


def test_seed_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="not found"):
        load_seed(tmp_path / "missing.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("clusters: [\n")
    with pytest.raises(SeedError, match="not valid YAML"):
        load_seed(bad)
    bad.write_text("- a list\n")
    with pytest.raises(SeedError, match="the top level must be a mapping"):
        load_seed(bad)


def test_invariants(ws: Workspace) -> None:
    ws.put_bytes(V1, b"1")
    apply_seed(
        ws,
        {
            "clusters": [
                {
                    "cluster_id": "c1",
                    "cluster_name": "a",
                    "libraries": [{"whl": V1}, {"whl": V2}, {"pypi": {"package": "pkg==3.0"}}],
                },
                {
                    "cluster_id": "c2",
                    "cluster_name": "b",
                    "libraries": [
                        {"whl": V2, "status": "UNINSTALL_ON_RESTART"},
                        {"whl": "s3://bucket/x-1.0-py3-none-any.whl"},
                    ],
                },
            ],
            "jobs": [
                {
                    "job_id": 1,
                    "settings": {
                        "name": "j",
                        "tasks": [
                            {
                                "task_key": "t",
                                "libraries": [
                                    {"whl": V1},
                                    {"requirements": "/Workspace/Shared/req.txt"},
                                ],
                            },
                            {
                                "task_key": "f",
                                "for_each_task": {
                                    "inputs": "[]",
                                    "task": {"task_key": "i", "libraries": [{"whl": V2}]},
                                },
                            },
                            {"task_key": "s", "environment_key": "e"},
                        ],
                        "environments": [
                            {
                                "environment_key": "e",
                                "spec": {
                                    "dependencies": [
                                        "requests==2",
                                        V2,
                                        "-r /Workspace/Shared/r.txt",
                                    ]
                                },
                            }
                        ],
                    },
                }
            ],
        },
        Path("."),
    )
    assert invariants.check(ws) == [
        "job 1 (j): task t.libraries[1] references missing file /Workspace/Shared/req.txt",
        f"job 1 (j): task f.for_each_task.task.libraries[0] references missing file {V2}",
        f"job 1 (j): environment e.dependencies[1] references missing file {V2}",
        "job 1 (j): environment e.dependencies[2] references missing file -r /Workspace/Shared/r.txt",
        f"cluster c1 (a): library references missing file {V2}",
        "cluster c1 (a): package pkg has 3 versions installed: 1.0.0, 2.0.0, 3.0",
    ]


def test_libspec() -> None:
    assert file_ref("/Workspace/Shared/x.whl").store == "workspace"  # type: ignore[union-attr]
    assert file_ref("/Workspace/Shared/x.whl").path == "/Shared/x.whl"  # type: ignore[union-attr]
    assert file_ref("dbfs:/FileStore/x.whl").path == "/FileStore/x.whl"  # type: ignore[union-attr]
    assert file_ref("/FileStore/x.whl").store == "dbfs"  # type: ignore[union-attr]
    assert file_ref("s3://b/x.whl") is None
    assert wheel_package("/a/My_Pkg-1.2.3-py3-none-any.whl") == ("my-pkg", "1.2.3")
    assert wheel_package("/a/broken.whl") is None
    assert requirement_package("pkg>=1") == ("pkg", None)
    assert package_of({"pypi": {"package": "Pkg==2.0"}}) == ("pkg", "2.0")
    assert package_of({"jar": "/a.jar"}) is None


def test_persistence_round_trip(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    ws = Workspace(clock=SimClock(speed=0, start=1_000_000.0), blobs=blobs)
    apply_seed(
        ws,
        {
            "tokens": [{"name": "r", "value": "dapi-r", "permission": "read-only"}],
            "service_principals": [{"application_id": "sp", "secret": "s"}],
            "clusters": [{"cluster_id": "c1", "libraries": [{"whl": V1}]}],
            "jobs": [
                {
                    "job_id": 3,
                    "settings": {
                        "name": "x",
                        "tasks": [{"task_key": "t", "existing_cluster_id": "c1"}],
                    },
                }
            ],
            "files": [{"path": V1, "content": "w"}],
        },
        Path("."),
    )
    from wheelship.emulator import lifecycle

    lifecycle.new_run(
        ws,
        3,
        ws.jobs[3].settings,
        "me",
        only=None,
        job_parameters=[],
        overriding={},
        idempotency_token="t",
    )
    ws.clock.advance(3)
    persistence.save(ws, tmp_path)
    other = Workspace(clock=SimClock(speed=0, start=0.0), blobs=BlobStore(tmp_path / "blobs"))
    persistence.load(other, tmp_path)
    assert other.now() == ws.now()
    assert other.auth.tokens == ws.auth.tokens
    assert other.jobs == ws.jobs and other.runs == ws.runs and other.task_runs == ws.task_runs
    assert other.clusters == ws.clusters
    assert other.volumes.to_json() == ws.volumes.to_json()
    assert other.next_run_id == ws.next_run_id

"""Keep the workspace in a directory, so a deploy can be interrupted and resumed against the
same workspace: ``state.json`` (written atomically after every change) and ``blobs/``.

The state file holds the workspace's credentials (it is the workspace); it is created with mode
0600 and must stay on the machine that runs the emulator.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from pathlib import Path
from typing import Any

from wheelship.emulator.auth import FederationPolicy, Principal, ServicePrincipal
from wheelship.emulator.blobs import BLOB_ID
from wheelship.emulator.state import Cluster, Job, LibraryEntry, Run, RunTask, Workspace

FORMAT = 1
STATE_FILE = "state.json"


def blob_dir(state_dir: Path) -> Path:
    return state_dir / "blobs"


def _shallow(obj: Any) -> dict[str, Any]:
    """A dataclass as a dict without deep-copying its values (``asdict`` copies every nested
    settings dict, which dominated the save time); json.dumps reads them under the lock."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def _cluster(cluster: Cluster) -> dict[str, Any]:
    out = _shallow(cluster)
    out["libraries"] = [_shallow(lib) for lib in cluster.libraries]
    return out


def _run(run: Run) -> dict[str, Any]:
    out = _shallow(run)
    out["tasks"] = [_shallow(task) for task in run.tasks]
    return out


def save(ws: Workspace, state_dir: Path) -> None:
    data: dict[str, Any] = {
        "format": FORMAT,
        "sim_now": ws.now(),
        "workspace_id": ws.workspace_id,
        "account_id": ws.account_id,
        "admin_user": ws.admin_user,
        "next": {
            "object": ws.next_object_id,
            "job": ws.next_job_id,
            "run": ws.next_run_id,
            "handle": ws.next_handle,
        },
        "durations": dataclasses.asdict(ws.durations),
        "declared_volumes": None if ws.declared_volumes is None else sorted(ws.declared_volumes),
        "artifact_allowlist": sorted(ws.artifact_allowlist),
        "grants": None
        if ws.grants is None
        else {
            key: {who: sorted(privs) for who, privs in on.items()} for key, on in ws.grants.items()
        },
        "trees": {
            "volumes": ws.volumes.to_json(),
            "workspace": ws.workspace.to_json(),
            "dbfs": ws.dbfs.to_json(),
        },
        "clusters": [_cluster(c) for c in ws.clusters.values()],
        "jobs": [_shallow(j) for j in ws.jobs.values()],
        "runs": [_run(r) for r in ws.runs.values()],
        "auth": {
            "tokens": [
                {"value": value, "name": name, "principal": dataclasses.asdict(principal)}
                for value, (name, principal) in ws.auth.tokens.items()
            ],
            "service_principals": [
                dataclasses.asdict(sp) for sp in ws.auth.service_principals.values()
            ],
            "policies": [dataclasses.asdict(p) for p in ws.auth.policies],
            "users": [dataclasses.asdict(u) for u in ws.auth.users.values()],
            "groups": sorted(ws.auth.groups),
        },
    }
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = state_dir / STATE_FILE
    # A new temporary file every time (O_EXCL), never through a link (O_NOFOLLOW): a fixed
    # name opened with O_TRUNC would follow a symlink planted in the directory and overwrite
    # its target with the workspace's credentials.
    tmp = state_dir / f".{STATE_FILE}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        # one C-encoder call, then one write: json.dump streams through the pure-Python
        # encoder. No fsync: the atomic rename already survives an interrupted process, which
        # is what a resumed deploy needs; fsync cost 10+ ms per change.
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, separators=(",", ":")))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def exists(state_dir: Path) -> bool:
    return (state_dir / STATE_FILE).is_file()


def load(ws: Workspace, state_dir: Path) -> None:
    """Replace ``ws``'s contents with the saved workspace."""
    path = state_dir / STATE_FILE
    if path.is_symlink():
        raise ValueError(f"{path} is a symbolic link")
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"unsupported state format {data.get('format')!r}")
    ws.clock.set_now(float(data["sim_now"]))
    ws.workspace_id = int(data["workspace_id"])
    ws.account_id = str(data["account_id"])
    ws.admin_user = str(data["admin_user"])
    nxt = data["next"]
    ws.next_object_id = int(nxt["object"])
    ws.next_job_id = int(nxt["job"])
    ws.next_run_id = int(nxt["run"])
    ws.next_handle = int(nxt["handle"])
    for key, value in data["durations"].items():
        setattr(ws.durations, key, float(value))
    volumes = data["declared_volumes"]
    ws.declared_volumes = None if volumes is None else set(volumes)
    ws.artifact_allowlist = frozenset(data.get("artifact_allowlist", []))
    grants = data.get("grants")
    ws.grants = (
        None
        if grants is None
        else {key: {who: set(privs) for who, privs in on.items()} for key, on in grants.items()}
    )
    ws.volumes.load_json(data["trees"]["volumes"])
    ws.workspace.load_json(data["trees"]["workspace"])
    ws.dbfs.load_json(data["trees"]["dbfs"])
    ws.clusters = {}
    for item in data["clusters"]:
        libs = [LibraryEntry(**lib) for lib in item.pop("libraries")]
        cluster = Cluster(**item, libraries=libs)
        ws.clusters[cluster.cluster_id] = cluster
    ws.jobs = {int(j["job_id"]): Job(**j) for j in data["jobs"]}
    ws.runs = {}
    ws.task_runs = {}
    for item in data["runs"]:
        tasks = [RunTask(**t) for t in item.pop("tasks")]
        run = Run(**item, tasks=tasks)
        ws.runs[run.run_id] = run
        for task in tasks:
            ws.task_runs[task.run_id] = (run.run_id, task.task_key)
    auth = data["auth"]
    ws.auth.tokens = {t["value"]: (t["name"], Principal(**t["principal"])) for t in auth["tokens"]}
    ws.auth.service_principals = {
        sp["application_id"]: ServicePrincipal(**sp) for sp in auth["service_principals"]
    }
    ws.auth.policies = [FederationPolicy(**p) for p in auth["policies"]]
    # state saved before identities and access lists existed loads as an all-admin workspace
    ws.auth.users = {u["name"]: Principal(**u) for u in auth.get("users", [])}
    ws.auth.groups.update(auth.get("groups", []))
    for tree in (ws.volumes, ws.workspace, ws.dbfs):
        for node in tree.nodes.values():
            if node.blob_id is not None and not BLOB_ID.fullmatch(str(node.blob_id)):
                raise ValueError(f"file {node.path!r} names an invalid blob id")

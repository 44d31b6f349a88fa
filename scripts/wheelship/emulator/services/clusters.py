"""Clusters API 2.0 and 2.1: create, edit, get, list (2.1 paginated), start, restart, delete,
permanent-delete, pin, unpin. Transitions take simulated time (:mod:`lifecycle`).
"""

from __future__ import annotations

import zlib
from typing import Any

from wheelship.emulator import acl, lifecycle
from wheelship.emulator.router import Router
from wheelship.emulator.state import Cluster, Workspace
from wheelship.emulator.wire import (
    ApiError,
    Request,
    bad_request,
    field_obj,
    field_str,
    page_token,
    read_page_token,
)

VERSIONS = ("2.0", "2.1")
CLUSTER_SOURCES = ("UI", "API", "JOB", "MODELS", "PIPELINE", "PIPELINE_MAINTENANCE", "SQL")
STATES = (
    "PENDING",
    "RUNNING",
    "RESTARTING",
    "RESIZING",
    "TERMINATING",
    "TERMINATED",
    "ERROR",
    "UNKNOWN",
)
_NOT_SPEC = {"cluster_id", "state", "state_message", "libraries", "cluster_source"}


def register(router: Router) -> None:
    add = router.add
    add("POST", "/api/{v}/clusters/create", create, versions=VERSIONS)
    add("POST", "/api/{v}/clusters/edit", edit, versions=VERSIONS)
    add("GET", "/api/{v}/clusters/get", get, versions=VERSIONS, body="none")
    add("GET", "/api/{v}/clusters/list", list_, versions=VERSIONS, body="none")
    add("POST", "/api/{v}/clusters/start", start, versions=VERSIONS)
    add("POST", "/api/{v}/clusters/restart", restart, versions=VERSIONS)
    add("POST", "/api/{v}/clusters/delete", delete, versions=VERSIONS)
    add("POST", "/api/{v}/clusters/permanent-delete", permanent_delete, versions=VERSIONS)
    add("POST", "/api/{v}/clusters/pin", pin, versions=VERSIONS)
    add("POST", "/api/{v}/clusters/unpin", unpin, versions=VERSIONS)


def find_cluster(ws: Workspace, cluster_id: str) -> Cluster:
    cluster = ws.clusters.get(cluster_id)
    if cluster is None:
        raise bad_request(f"Cluster {cluster_id} does not exist")
    return cluster


def cluster_for(ws: Workspace, req: Request, cluster_id: str, needed: str) -> Cluster:
    """The cluster, when the caller holds ``needed`` on it (403 PERMISSION_DENIED otherwise)."""
    cluster = find_cluster(ws, cluster_id)
    acl.require(req.principal, cluster.acl, "cluster", cluster_id, needed)
    return cluster


def visible(ws: Workspace, req: Request) -> list[Cluster]:
    """The clusters the caller may see (cluster visibility: any permission on it)."""
    principal = req.principal
    if principal is None or principal.is_admin or principal.permission == "read-only":
        return list(ws.clusters.values())
    return [
        c for c in ws.clusters.values() if acl.can(principal, c.acl, "cluster", "CAN_ATTACH_TO")
    ]


def _unexpected(cluster: Cluster) -> ApiError:
    return ApiError(
        400,
        "INVALID_STATE",
        f"Cluster {cluster.cluster_id} is in unexpected state {lifecycle.title(cluster.state)}.",
    )


def cluster_json(ws: Workspace, cluster: Cluster) -> dict[str, Any]:
    spec = cluster.spec
    out: dict[str, Any] = dict(spec)
    node_type = spec.get("node_type_id")
    if node_type and "driver_node_type_id" not in out:
        out["driver_node_type_id"] = node_type
    if "autoscale" not in spec and "num_workers" not in spec:
        out["num_workers"] = 0
    out.update(
        {
            "cluster_id": cluster.cluster_id,
            "cluster_name": spec.get("cluster_name", ""),
            "state": cluster.state,
            "cluster_source": cluster.cluster_source,
            "creator_user_name": cluster.creator_user_name,
            "start_time": cluster.start_time,
            "default_tags": {
                "Vendor": "Databricks",
                "Creator": cluster.creator_user_name,
                "ClusterName": str(spec.get("cluster_name", "")),
                "ClusterId": cluster.cluster_id,
            },
            "spec": dict(spec),
        }
    )
    if cluster.state_message:
        out["state_message"] = cluster.state_message
    if cluster.terminated_time is not None:
        out["terminated_time"] = cluster.terminated_time
    if cluster.termination_reason is not None:
        out["termination_reason"] = cluster.termination_reason
    if cluster.last_restarted_time is not None:
        out["last_restarted_time"] = cluster.last_restarted_time
    if cluster.state == "RUNNING":
        out["driver"] = {"node_id": f"{cluster.cluster_id}-driver", "private_ip": "10.0.0.1"}
        out["spark_context_id"] = zlib.crc32(cluster.cluster_id.encode())
    return out


def validate_spec(body: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    spec = {k: v for k, v in body.items() if k not in _NOT_SPEC}
    if not partial:
        field_str(body, "spark_version")
    if "cluster_name" in body:
        field_str(body, "cluster_name", required=False)
    tags = field_obj(body, "custom_tags")
    if tags is not None and not all(isinstance(v, str) for v in tags.values()):
        raise bad_request("custom_tags values must be strings")
    if "num_workers" in body and (
        not isinstance(body["num_workers"], int)
        or isinstance(body["num_workers"], bool)
        or body["num_workers"] < 0
    ):
        raise bad_request("num_workers must be a non-negative integer")
    return spec


def create(ws: Workspace, req: Request) -> dict[str, Any]:
    body = req.json()
    spec = validate_spec(body)
    t = ws.now()
    cluster_id = lifecycle.new_cluster_id(t)
    principal = req.principal.name if req.principal else ws.admin_user
    cluster = Cluster(
        cluster_id=cluster_id,
        spec=spec,
        creator_user_name=principal,
        cluster_source="API",
        # the creator manages what it created (compute ACL docs: "the creator of a cluster has
        # CAN_MANAGE")
        acl={req.principal.key if req.principal else f"user:{principal}": "CAN_MANAGE"},
    )
    ws.clusters[cluster_id] = cluster
    lifecycle.start_cluster(ws, cluster, t)
    return {"cluster_id": cluster_id}


def edit(ws: Workspace, req: Request) -> dict[str, Any]:
    body = req.json()
    cluster = cluster_for(ws, req, field_str(body, "cluster_id"), "CAN_MANAGE")
    spec = validate_spec(body)
    if cluster.state not in {"RUNNING", "TERMINATED"}:
        raise _unexpected(cluster)
    cluster.spec = spec
    if cluster.state == "RUNNING":
        lifecycle.restart_cluster(ws, cluster, ws.now())
    ws.changed()
    return {}


def get(ws: Workspace, req: Request) -> dict[str, Any]:
    return cluster_json(ws, cluster_for(ws, req, req.require_arg("cluster_id"), "CAN_ATTACH_TO"))


def list_(ws: Workspace, req: Request) -> dict[str, Any]:
    clusters = visible(ws, req)
    if req.version == "2.0":
        return {"clusters": [cluster_json(ws, c) for c in clusters]} if clusters else {}
    states = req.args("filter_by.cluster_states")
    sources = req.args("filter_by.cluster_sources")
    for value in states:
        if value not in STATES:
            raise bad_request(f"Invalid cluster state {value!r} in filter_by.cluster_states")
    for value in sources:
        if value not in CLUSTER_SOURCES:
            raise bad_request(f"Invalid cluster source {value!r} in filter_by.cluster_sources")
    if states:
        clusters = [c for c in clusters if c.state in states]
    if sources:
        clusters = [c for c in clusters if c.cluster_source in sources]
    pinned = req.arg("filter_by.is_pinned")
    if pinned:
        want = req.arg_bool("filter_by.is_pinned")
        clusters = [c for c in clusters if c.pinned == want]
    policy = req.arg("filter_by.policy_id")
    if policy:
        clusters = [c for c in clusters if c.spec.get("policy_id") == policy]
    sort_field = req.arg("sort_by.field") or "DEFAULT"
    direction = req.arg("sort_by.direction") or "ASC"
    if sort_field not in ("CLUSTER_NAME", "DEFAULT") or direction not in ("ASC", "DESC"):
        raise bad_request("Invalid sort_by: field must be CLUSTER_NAME|DEFAULT, direction ASC|DESC")
    if sort_field == "CLUSTER_NAME":
        clusters.sort(key=lambda c: c.name.lower(), reverse=direction == "DESC")
    else:  # running clusters first, then by start time, newest first
        clusters.sort(key=lambda c: (c.state != "RUNNING", -c.start_time, c.cluster_id))
        if direction == "DESC":
            clusters.reverse()
    size = req.arg_int("page_size", 0) or 100
    if size < 0:
        raise bad_request("page_size must not be negative")
    size = min(size, 100)
    offset = read_page_token(req.arg("page_token"), "clusters")
    page = clusters[offset : offset + size]
    out: dict[str, Any] = {"clusters": [cluster_json(ws, c) for c in page]} if page else {}
    if offset + size < len(clusters):
        out["next_page_token"] = page_token(offset + size, "clusters")
    if offset > 0:
        out["prev_page_token"] = page_token(max(0, offset - size), "clusters")
    return out


def start(ws: Workspace, req: Request) -> dict[str, Any]:
    cluster = cluster_for(ws, req, field_str(req.json(), "cluster_id"), "CAN_RESTART")
    if cluster.cluster_source == "JOB":
        raise bad_request(f"Cluster {cluster.cluster_id} is a job cluster and cannot be started.")
    if cluster.state != "TERMINATED":
        raise _unexpected(cluster)
    lifecycle.start_cluster(ws, cluster, ws.now())
    return {}


def restart(ws: Workspace, req: Request) -> dict[str, Any]:
    cluster = cluster_for(ws, req, field_str(req.json(), "cluster_id"), "CAN_RESTART")
    if cluster.state != "RUNNING":
        raise _unexpected(cluster)
    lifecycle.restart_cluster(ws, cluster, ws.now())
    return {}


def delete(ws: Workspace, req: Request) -> dict[str, Any]:
    # "delete" terminates: CAN_RESTART suffices (start, restart, terminate)
    cluster = cluster_for(ws, req, field_str(req.json(), "cluster_id"), "CAN_RESTART")
    if cluster.state in {"TERMINATING", "TERMINATED"}:
        return {}
    user = req.principal.name if req.principal else ws.admin_user
    lifecycle.terminate_cluster(ws, cluster, ws.now(), user)
    return {}


def permanent_delete(ws: Workspace, req: Request) -> dict[str, Any]:
    cluster = cluster_for(ws, req, field_str(req.json(), "cluster_id"), "CAN_MANAGE")
    del ws.clusters[cluster.cluster_id]
    ws.changed()
    return {}


def _pinnable(ws: Workspace, req: Request) -> Cluster:
    cluster = cluster_for(ws, req, field_str(req.json(), "cluster_id"), "CAN_ATTACH_TO")
    if req.principal is not None and not req.principal.is_admin:
        # Clusters API: "can only be called by workspace admins"
        raise ApiError(
            403,
            "PERMISSION_DENIED",
            f"User {req.principal.name} is not a workspace admin: only admins can pin clusters.",
        )
    return cluster


def pin(ws: Workspace, req: Request) -> dict[str, Any]:
    _pinnable(ws, req).pinned = True
    ws.changed()
    return {}


def unpin(ws: Workspace, req: Request) -> dict[str, Any]:
    _pinnable(ws, req).pinned = False
    ws.changed()
    return {}

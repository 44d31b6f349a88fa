"""Permissions API 2.0 for jobs and clusters: ``/api/2.0/permissions/{jobs|clusters}/{id}``
(GET, PUT replaces the direct grants, PATCH adds or changes them) and ``.../permissionLevels``.

Reading an object's permissions needs view access (CAN_VIEW / CAN_ATTACH_TO; the reference does
not say, this is the lenient reading); changing them needs CAN_MANAGE. A job keeps exactly one
IS_OWNER: a PUT that names none keeps the current owner, and only admins may hand ownership to
another identity (Jobs docs: "only workspace admins can change a job's owner").
"""

from __future__ import annotations

from typing import Any

from wheelship.emulator import acl
from wheelship.emulator.acl import ObjectType
from wheelship.emulator.router import Router
from wheelship.emulator.services.clusters import find_cluster
from wheelship.emulator.services.jobs import find_job, refresh_run_as
from wheelship.emulator.state import Cluster, Job, Workspace
from wheelship.emulator.wire import ApiError, Request, bad_request, not_found

BASE = "/api/2.0/permissions"
_TYPES: dict[str, ObjectType] = {"jobs": "job", "clusters": "cluster"}
_VIEW = {"job": "CAN_VIEW", "cluster": "CAN_ATTACH_TO"}


def register(router: Router) -> None:
    for plural in _TYPES:
        path = f"{BASE}/{plural}"
        router.add("GET", path, get, prefix=True, body="none")
        router.add("PUT", path, put, prefix=True)
        router.add("PATCH", path, patch, prefix=True)


def _target(ws: Workspace, req: Request) -> tuple[ObjectType, str, Job | Cluster, bool]:
    """(object type, id, object, whether the path asks for permissionLevels)."""
    plural = req.path[len(BASE) + 1 :].split("/", 1)[0]
    object_type = _TYPES[plural]
    parts = [p for p in req.rest.split("/") if p]
    levels = len(parts) == 2 and parts[1] == "permissionLevels"
    if not parts or len(parts) > 2 or (len(parts) == 2 and not levels):
        raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{req.method} {req.path}'")
    object_id = parts[0]
    if object_type == "job":
        try:
            number = int(object_id)
        except ValueError:
            raise bad_request(f"Invalid job id {object_id!r}") from None
        if number not in ws.jobs:
            raise not_found(f"Job {object_id} does not exist.")
        return object_type, object_id, find_job(ws, number), levels
    if object_id not in ws.clusters:
        raise not_found(f"Cluster {object_id} does not exist.")
    return object_type, object_id, find_cluster(ws, object_id), levels


def answer(ws: Workspace, object_type: ObjectType, object_id: str, obj: Job | Cluster) -> Any:
    return {
        "object_id": f"/{object_type}s/{object_id}",
        "object_type": object_type,
        "access_control_list": acl.entries_json(obj.acl, object_type, ws.auth),
    }


def get(ws: Workspace, req: Request) -> Any:
    object_type, object_id, obj, levels = _target(ws, req)
    acl.require(req.principal, obj.acl, object_type, object_id, _VIEW[object_type])
    if levels:
        return {"permission_levels": acl.levels_json(object_type)}
    return answer(ws, object_type, object_id, obj)


def _change(ws: Workspace, req: Request, *, replace: bool) -> Any:
    object_type, object_id, obj, levels = _target(ws, req)
    if levels:
        raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{req.method} {req.path}'")
    acl.require(req.principal, obj.acl, object_type, object_id, "CAN_MANAGE")
    grants = acl.parse_entries(req.json().get("access_control_list"), object_type, ws.auth)
    new = grants if replace else {**obj.acl, **grants}
    if object_type == "job":
        old_owner = acl.owner_of(obj.acl)
        named = acl.owner_of(grants)
        if named is None:
            if old_owner is not None:
                new[old_owner] = "IS_OWNER"
        else:
            if old_owner is not None and old_owner != named:
                if req.principal is not None and not req.principal.is_admin:
                    raise ApiError(
                        403,
                        "PERMISSION_DENIED",
                        f"User {req.principal.name} is not a workspace admin: only admins can "
                        f"change the owner of job {object_id}.",
                    )
                if new.get(old_owner) == "IS_OWNER":
                    del new[old_owner]
    obj.acl = new
    if isinstance(obj, Job):
        refresh_run_as(obj)
    ws.changed()
    return answer(ws, object_type, object_id, obj)


def put(ws: Workspace, req: Request) -> Any:
    return _change(ws, req, replace=True)


def patch(ws: Workspace, req: Request) -> Any:
    return _change(ws, req, replace=False)

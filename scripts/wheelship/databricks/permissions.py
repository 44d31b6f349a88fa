"""Typed calls of the Permissions API (2.0) for jobs and clusters, and what they grant whom.

``GET /api/2.0/permissions/{jobs|clusters}/{id}`` answers the object's access control list:
entries naming a user (``user_name``), a service principal (``service_principal_name``: its
application id) or a group (``group_name``), each with ``all_permissions`` (direct and
inherited levels). A caller's level on an object is the highest level of the entries naming
it, one of its groups, or the ``users`` group every identity belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from wheelship.databricks.client import Client
from wheelship.databricks.model import Identity
from wheelship.errors import DatabricksError

PERMISSIONS_API = "/api/2.0/permissions"
ObjectType = Literal["job", "cluster"]
#: Levels in increasing power; a level includes every lower one (the SDK's
#: JobPermissionLevel and ClusterPermissionLevel).
RANKS: dict[ObjectType, dict[str, int]] = {
    "job": {"CAN_VIEW": 1, "CAN_MANAGE_RUN": 2, "CAN_MANAGE": 3, "IS_OWNER": 4},
    "cluster": {"CAN_ATTACH_TO": 1, "CAN_RESTART": 2, "CAN_MANAGE": 3},
}


def access_list(
    client: Client, object_type: ObjectType, object_id: str
) -> list[Mapping[str, Any]] | None:
    """The object's access control list; None when the identity may not read it (the
    Permissions API answers 403 to those who may not view the object)."""
    try:
        body = client.get(f"{PERMISSIONS_API}/{object_type}s/{object_id}")
    except DatabricksError as exc:
        if exc.status == 403 or exc.error_code == "PERMISSION_DENIED":
            return None
        raise
    return list(body.get("access_control_list") or [])


def level_of(
    identity: Identity, object_type: ObjectType, entries: Iterable[Mapping[str, Any]] | None
) -> str | None:
    """The identity's highest level on the object (None: none at all, or not readable)."""
    if identity.is_admin:
        return "CAN_MANAGE"
    if entries is None:
        return None
    ranks = RANKS[object_type]
    groups = {*identity.groups, "users"}
    best: str | None = None
    for entry in entries:
        names_me = (
            entry.get("user_name") == identity.name
            or entry.get("service_principal_name") == identity.name
            or entry.get("group_name") in groups
        )
        if not names_me:
            continue
        for perm in entry.get("all_permissions") or []:
            level = str(perm.get("permission_level") or "")
            if ranks.get(level, 0) > ranks.get(best or "", 0):
                best = level
    return best


def allows(object_type: ObjectType, level: str | None, needed: str) -> bool:
    ranks = RANKS[object_type]
    return ranks.get(level or "", 0) >= ranks[needed]

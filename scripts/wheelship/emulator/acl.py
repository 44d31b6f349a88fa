"""Per-object access lists for jobs and clusters: levels, inheritance, checks, and the JSON the
Permissions API reads and writes.

An object's access list is a dict ``{"user:<name>" | "group:<name>" |
"service_principal:<application id>": level}`` (the direct grants). What a caller may do is the
highest level among the entries naming it, one of its groups, or the ``users`` group every
identity belongs to; members of ``admins`` hold ``CAN_MANAGE`` on every job and cluster,
inherited from the root object (``/jobs/``, ``/clusters/``) as the Permissions API shows it.
A job has exactly one ``IS_OWNER`` (its creator unless the create request names another); a
cluster's creator holds ``CAN_MANAGE``. Sources: Databricks docs "Access control lists" (job and
compute ACL tables) and the Permissions API reference; the SDK's ``JobPermissionLevel`` and
``ClusterPermissionLevel`` enums.

Checks cost a handful of dict lookups (the caller's keys are computed once per principal), so
``jobs/list`` over ten thousand jobs filters without copying anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from wheelship.emulator.auth import ADMINS, AuthRegistry, Principal
from wheelship.emulator.wire import ApiError, bad_request, malformed

ObjectType = Literal["job", "cluster"]

#: levels in increasing power; a level includes every lower one
JOB_LEVELS: dict[str, int] = {"CAN_VIEW": 1, "CAN_MANAGE_RUN": 2, "CAN_MANAGE": 3, "IS_OWNER": 4}
CLUSTER_LEVELS: dict[str, int] = {"CAN_ATTACH_TO": 1, "CAN_RESTART": 2, "CAN_MANAGE": 3}
LEVELS: dict[str, dict[str, int]] = {"job": JOB_LEVELS, "cluster": CLUSTER_LEVELS}
#: what the admins group inherits from the root object
ADMIN_LEVEL = {"job": "CAN_MANAGE", "cluster": "CAN_MANAGE"}
#: the legacy ``read-only`` standing reads every object
READ_LEVEL = {"job": "CAN_VIEW", "cluster": "CAN_ATTACH_TO"}
DESCRIPTIONS = {
    "CAN_VIEW": "Can view the job and its runs",
    "CAN_MANAGE_RUN": "Can view, trigger and cancel runs of the job",
    "CAN_MANAGE": "Can view, run, edit and delete the job and change its permissions",
    "IS_OWNER": "The job's owner: can manage it; its default run-as identity",
    "CAN_ATTACH_TO": "Can attach notebooks and jobs to the cluster and view it",
    "CAN_RESTART": "Can start, restart and terminate the cluster",
}
_ENTRY_KEYS = (
    ("user_name", "user"),
    ("group_name", "group"),
    ("service_principal_name", "service_principal"),
)
_KIND_FIELD = {kind: name for name, kind in _ENTRY_KEYS}


def level(principal: Principal | None, acl: Mapping[str, str], object_type: ObjectType) -> int:
    """The caller's effective rank on an object (0: nothing)."""
    ranks = LEVELS[object_type]
    if principal is None:  # the emulator acting for itself (seed, test helpers)
        return ranks[ADMIN_LEVEL[object_type]]
    if principal.is_admin:
        return _admin(principal, acl, ranks)
    if principal.permission == "read-only":
        return ranks[READ_LEVEL[object_type]]
    if principal.permission == "none":
        return 0
    best = 0
    for key in principal.acl_keys:
        found = acl.get(key)
        if found is not None:
            rank = ranks[found]
            if rank > best:
                best = rank
    return best


def _admin(principal: Principal, acl: Mapping[str, str], ranks: Mapping[str, int]) -> int:
    # an admin who owns the job ranks IS_OWNER; CAN_MANAGE otherwise (the inherited grant)
    direct = acl.get(principal.key)
    return max(ranks["CAN_MANAGE"], ranks[direct] if direct else 0)


def can(
    principal: Principal | None, acl: Mapping[str, str], object_type: ObjectType, needed: str
) -> bool:
    return level(principal, acl, object_type) >= LEVELS[object_type][needed]


def owner_of(acl: Mapping[str, str]) -> str | None:
    """The ``user:``/``service_principal:`` key holding IS_OWNER."""
    return next((k for k, v in acl.items() if v == "IS_OWNER"), None)


def name_of(key: str) -> str:
    return key.partition(":")[2]


@dataclass(frozen=True)
class Denied:
    """How the service words a missing permission (403 PERMISSION_DENIED)."""

    what: str  # "View", "Manage Run", "Manage", "Attach", "Restart"

    def error(
        self, principal: Principal | None, object_type: ObjectType, object_id: Any
    ) -> ApiError:
        who = principal.name if principal else "anonymous"
        # the Jobs service lists the levels that would do, e.g. "does not have Manage Run or
        # Owner or Admin permissions on job 123" (the wording users report from run-now/update)
        extra = "" if self.what == "View" else " or Owner or Admin" if object_type == "job" else ""
        return ApiError(
            403,
            "PERMISSION_DENIED",
            f"User {who} does not have {self.what}{extra} permissions on {object_type} "
            f"{object_id}.",
        )


_WORDS = {
    "CAN_VIEW": "View",
    "CAN_MANAGE_RUN": "Manage Run",
    "CAN_MANAGE": "Manage",
    "IS_OWNER": "Owner",
    "CAN_ATTACH_TO": "Attach",
    "CAN_RESTART": "Restart",
}


def require(
    principal: Principal | None,
    acl: Mapping[str, str],
    object_type: ObjectType,
    object_id: Any,
    needed: str,
) -> None:
    if not can(principal, acl, object_type, needed):
        raise Denied(_WORDS[needed]).error(principal, object_type, object_id)


# -- access-control-list JSON -----------------------------------------------------------------
def parse_entries(
    raw: Any, object_type: ObjectType, auth: AuthRegistry, where: str = "access_control_list"
) -> dict[str, str]:
    """``[{user_name|group_name|service_principal_name, permission_level}]`` -> ACL dict;
    400 for an unknown level or identity, the way the Permissions API answers."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise malformed(f"expected an array for field '{where}'")
    ranks = LEVELS[object_type]
    out: dict[str, str] = {}
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise malformed(f"expected an object in '{where}[{i}]'")
        named = [(kind, entry[field]) for field, kind in _ENTRY_KEYS if entry.get(field)]
        if len(named) != 1:
            raise bad_request(
                f"{where}[{i}] must name exactly one of user_name, group_name, "
                "service_principal_name"
            )
        kind, name = named[0]
        if not isinstance(name, str):
            raise malformed(f"expected a string in '{where}[{i}]'")
        permission = entry.get("permission_level")
        if permission not in ranks:
            raise bad_request(
                f"Invalid permission level {permission!r} for {object_type}: use one of "
                f"{', '.join(ranks)}"
            )
        if not auth.exists(kind, name):
            label = {"user": "UserName", "group": "GroupName"}.get(kind, "ServicePrincipalName")
            raise bad_request(f"Principal: {label}({name}) does not exist")
        if permission == "IS_OWNER" and kind == "group":
            raise bad_request(
                f"Group {name} cannot be the owner of a job: name a user or a service principal"
            )
        key = f"{kind}:{name}"
        if ranks[permission] > ranks.get(out.get(key, ""), 0):
            out[key] = permission
    if sum(1 for v in out.values() if v == "IS_OWNER") > 1:
        raise bad_request("A job must have exactly one owner (IS_OWNER).")
    return out


def entries_json(
    acl: Mapping[str, str], object_type: ObjectType, auth: AuthRegistry
) -> list[dict[str, Any]]:
    """The ``access_control_list`` of a Permissions API answer: direct grants, then the admins
    group's inherited CAN_MANAGE."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for key, permission in acl.items():
        by_key.setdefault(key, []).append({"permission_level": permission, "inherited": False})
    root = "/jobs/" if object_type == "job" else "/clusters/"
    by_key.setdefault(f"group:{ADMINS}", []).append(
        {
            "permission_level": ADMIN_LEVEL[object_type],
            "inherited": True,
            "inherited_from_object": [root],
        }
    )
    out = []
    for key, permissions in by_key.items():
        kind, _, name = key.partition(":")
        item: dict[str, Any] = {_KIND_FIELD[kind]: name, "all_permissions": permissions}
        who = auth.principal_of(kind, name)
        if who is not None and who.display_name:
            item["display_name"] = who.display_name
        out.append(item)
    return out


def levels_json(object_type: ObjectType) -> list[dict[str, str]]:
    return [
        {"permission_level": name, "description": DESCRIPTIONS.get(name, "Can manage the cluster")}
        for name in LEVELS[object_type]
    ]

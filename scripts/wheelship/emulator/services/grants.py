"""Unity Catalog Grants API 2.1 for catalogs, schemas and volumes:
``GET|PATCH /api/2.1/unity-catalog/permissions/{type}/{full_name}`` and
``GET /api/2.1/unity-catalog/effective-permissions/{type}/{full_name}``.

Changing grants needs ownership (the seed's ``admin_user`` owns every securable here); a PATCH on
a workspace without seeded grants turns the volume checks on, as granting does in a real
metastore. Effective permissions list, per grantee, what it holds on the securable itself and
what it inherits from the catalog and schema above (grants to a group are not expanded to its
members, as in the service).
"""

from __future__ import annotations

from typing import Any

from wheelship.emulator import uc
from wheelship.emulator.router import Router
from wheelship.emulator.state import Workspace
from wheelship.emulator.wire import ApiError, Request, field_list

PERMISSIONS = "/api/2.1/unity-catalog/permissions"
EFFECTIVE = "/api/2.1/unity-catalog/effective-permissions"


def register(router: Router) -> None:
    router.add("GET", PERMISSIONS, get, prefix=True, body="none")
    router.add("PATCH", PERMISSIONS, patch, prefix=True)
    router.add("GET", EFFECTIVE, get_effective, prefix=True, body="none")


def _securable(req: Request) -> tuple[str, str, str]:
    """(securable type, full name, grants key) from the path."""
    parts = [p for p in req.rest.split("/") if p]
    if len(parts) != 2:
        raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{req.method} {req.path}'")
    securable, full_name = parts[0].lower(), parts[1]
    return securable, full_name, uc.securable_key(securable, full_name)


def get(ws: Workspace, req: Request) -> dict[str, Any]:
    _, _, key = _securable(req)
    grants = ws.grants or {}
    out = uc.assignments(grants, key)
    who = req.arg("principal")
    if who:
        out = [a for a in out if a["principal"] == who]
    return {"privilege_assignments": out}


def patch(ws: Workspace, req: Request) -> dict[str, Any]:
    securable, full_name, key = _securable(req)
    principal = req.principal
    if principal is not None and principal.name != ws.admin_user:
        raise ApiError(
            403,
            "PERMISSION_DENIED",
            f"User does not have MANAGE on {securable.capitalize()} '{full_name}'.",
        )
    changes = field_list(req.json(), "changes") or []
    grants = {} if ws.grants is None else ws.grants
    uc.apply_changes(grants, key, ws.auth, [c if isinstance(c, dict) else {} for c in changes])
    ws.grants = grants
    ws.changed()
    return {"privilege_assignments": uc.assignments(grants, key)}


def get_effective(ws: Workspace, req: Request) -> dict[str, Any]:
    securable, full_name, _ = _securable(req)
    grants = ws.grants or {}
    names = full_name.split(".")
    chain = [
        (level, ".".join(names[: i + 1])) for i, level in enumerate(uc.SECURABLES[: len(names)])
    ]
    who = req.arg("principal")
    grantees: dict[str, list[dict[str, Any]]] = {}
    for level, name in chain:
        for key, privs in grants.get(f"{level}:{name}", {}).items():
            grantee = key.partition(":")[2]
            if who and grantee != who:
                continue
            for privilege in sorted(privs):
                entry: dict[str, Any] = {"privilege": privilege}
                if level != securable:
                    entry["inherited_from_type"] = level.upper()
                    entry["inherited_from_name"] = name
                grantees.setdefault(grantee, []).append(entry)
    return {
        "privilege_assignments": [
            {"principal": grantee, "privileges": privs}
            for grantee, privs in sorted(grantees.items())
        ]
    }

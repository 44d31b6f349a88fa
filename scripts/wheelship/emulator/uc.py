"""Unity Catalog privileges on volumes: ``READ VOLUME`` / ``WRITE VOLUME`` with ``USE CATALOG``
and ``USE SCHEMA`` on the way down, granted to users, service principals and groups.

Off until a seed declares ``grants`` (then every volume access is checked): a workspace without
grants keeps the emulator's earlier all-access behaviour. Privileges granted on a catalog or a
schema are inherited by everything inside it, and ``ALL PRIVILEGES`` includes the others (Unity
Catalog docs, "Manage privileges" — the inheritance model). The owner of every securable is the
seed's ``admin_user``, which therefore holds every privilege; being a workspace admin alone
grants no data access, as in Unity Catalog. Denials read like the service's: 403
PERMISSION_DENIED "User does not have READ VOLUME on Volume 'main.ops.artifacts'."

Grants are kept as ``{"catalog:main" | "schema:main.ops" | "volume:main.ops.artifacts":
{principal key: {"READ_VOLUME", ...}}}`` — privileges in the API's spelling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from wheelship.emulator.auth import AuthRegistry, Principal
from wheelship.emulator.wire import bad_request

Securable = Literal["catalog", "schema", "volume"]
SECURABLES: tuple[Securable, ...] = ("catalog", "schema", "volume")
PRIVILEGES = frozenset(
    {"ALL_PRIVILEGES", "USE_CATALOG", "USE_SCHEMA", "READ_VOLUME", "WRITE_VOLUME"}
)
VolumeAccess = Literal["READ_VOLUME", "WRITE_VOLUME"]
Grants = dict[str, dict[str, set[str]]]
_TITLE = {"catalog": "Catalog", "schema": "Schema", "volume": "Volume"}


def privilege(text: str) -> str:
    """``READ VOLUME`` (SQL) or ``READ_VOLUME`` (API) -> the API spelling; 400 otherwise."""
    name = text.strip().upper().replace(" ", "_")
    if name not in PRIVILEGES:
        raise bad_request(
            f"Privilege {text} is not applicable to this entity (known here: "
            f"{', '.join(sorted(PRIVILEGES))})"
        )
    return name


def principal_key(auth: AuthRegistry, name: str) -> str:
    """How grants name an identity: group, service principal (application id) or user."""
    for kind in ("group", "service_principal", "user"):
        if auth.exists(kind, name):
            return f"{kind}:{name}"
    raise bad_request(f"Could not find principal with name {name}")


def securable_key(securable: str, full_name: str) -> str:
    if securable not in SECURABLES:
        raise bad_request(f"Unsupported securable type {securable!r}: use catalog, schema, volume")
    parts = full_name.split(".")
    if len(parts) != SECURABLES.index(securable) + 1 or not all(parts):
        raise bad_request(f"Invalid {securable} name {full_name!r}")
    return f"{securable}:{full_name}"


def _held(grants: Grants, securable: str, keys: Iterable[str]) -> set[str]:
    on = grants.get(securable)
    if not on:
        return set()
    out: set[str] = set()
    for key in keys:
        found = on.get(key)
        if found:
            out |= found
    return out


def effective(grants: Grants, keys: Iterable[str], full_name: str) -> dict[str, set[str]]:
    """Privileges held on each level of ``catalog.schema.volume`` (inherited ones included)."""
    keys = tuple(keys)
    catalog, schema = [*full_name.split("."), ""][:2]
    on_catalog = _held(grants, f"catalog:{catalog}", keys)
    on_schema = on_catalog | _held(grants, f"schema:{catalog}.{schema}", keys)
    on_volume = on_schema | _held(grants, f"volume:{full_name}", keys)
    return {"catalog": on_catalog, "schema": on_schema, "volume": on_volume}


def volume_problem(
    grants: Grants | None,
    owner: str,
    principal: Principal | None,
    volume_root: str,
    needed: VolumeAccess,
) -> str | None:
    """Why ``principal`` may not read/write files in the volume at ``/Volumes/c/s/v``, or None."""
    if grants is None or principal is None or principal.name == owner:
        return None
    if principal.permission == "read-only":  # reads everything; its writes never get here
        return None
    full_name = ".".join(volume_root.split("/")[2:5])
    held = effective(grants, principal.acl_keys, full_name)
    steps: tuple[tuple[str, str, str], ...] = (
        ("catalog", "USE_CATALOG", full_name.split(".")[0]),
        ("schema", "USE_SCHEMA", ".".join(full_name.split(".")[:2])),
        ("volume", needed, full_name),
    )
    for level, wanted, name in steps:
        have = held[level]
        if wanted not in have and "ALL_PRIVILEGES" not in have:
            return f"User does not have {wanted.replace('_', ' ')} on {_TITLE[level]} '{name}'."
    return None


def assignments(grants: Grants, key: str) -> list[dict[str, object]]:
    """``privilege_assignments`` of the Grants API, sorted by principal."""
    return sorted(
        (
            {"principal": principal.partition(":")[2], "privileges": sorted(privs)}
            for principal, privs in grants.get(key, {}).items()
            if privs
        ),
        key=lambda a: str(a["principal"]),
    )


def apply_changes(
    grants: Grants, key: str, auth: AuthRegistry, changes: Iterable[Mapping[str, object]]
) -> None:
    """The Grants API's ``changes``: ``[{principal, add: [...], remove: [...]}]``."""
    on = grants.setdefault(key, {})
    for change in changes:
        name = change.get("principal")
        if not isinstance(name, str) or not name:
            raise bad_request("Each change must name a principal")
        who = principal_key(auth, name)
        held = on.setdefault(who, set())
        for item in _strings(change.get("add")):
            held.add(privilege(item))
        for item in _strings(change.get("remove")):
            held.discard(privilege(item))
        if not held:
            del on[who]


def _strings(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request("add and remove must be lists of privilege names")
    return list(value)

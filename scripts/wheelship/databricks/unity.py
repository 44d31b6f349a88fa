"""Unity Catalog reads: a volume's effective privileges per grantee and its owner — who can
read the wheels in it (``wheelship doctor``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from wheelship.databricks.client import Client
from wheelship.errors import DatabricksError

UC_API = "/api/2.1/unity-catalog"


@dataclass(frozen=True)
class Privileges:
    """Privileges on a securable per grantee, inherited ones included (grants to a group are
    listed for the group, not for its members — as the service answers)."""

    by_grantee: Mapping[str, frozenset[str]]


def effective_privileges(
    client: Client, securable: Literal["catalog", "schema", "volume"], full_name: str
) -> Privileges:
    data = client.get(f"{UC_API}/effective-permissions/{securable}/{full_name}")
    out: dict[str, set[str]] = {}
    for item in data.get("privilege_assignments") or []:
        principal = str(item.get("principal") or "")
        for p in item.get("privileges") or []:
            privilege = p.get("privilege") if isinstance(p, Mapping) else p
            out.setdefault(principal, set()).add(str(privilege))
    return Privileges({k: frozenset(v) for k, v in out.items()})


def volume_owner(client: Client, full_name: str) -> str | None:
    """The owner of a volume (it reads without a grant); None when the API does not say."""
    try:
        data = client.get(f"{UC_API}/volumes/{full_name}")
    except DatabricksError:
        return None
    owner = data.get("owner")
    return str(owner) if owner else None

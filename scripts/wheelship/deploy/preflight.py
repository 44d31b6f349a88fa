"""Before the first change: what the deploy identity may not do.

A deploy that finds out at its third job that it may not edit it leaves two jobs on the new
version and the rest on the old. So the plan's every change is checked first against the
objects' access lists (Permissions API) and the identity (SCIM ``Me`` and its groups): every
problem is listed in one refusal (exit 2), or — when the target says ``skip_denied: true`` —
those objects are skipped and reported as drift. Workspace admins manage every job and cluster:
for them nothing is read. Writing to the artifacts folder is checked by the lock file, the
deploy's first write.
"""

from __future__ import annotations

from dataclasses import dataclass

from wheelship.databricks import permissions
from wheelship.databricks.client import Client, in_step
from wheelship.databricks.model import Identity
from wheelship.deploy.plan import Needed, Plan, permissions_needed
from wheelship.errors import AccessDenied


@dataclass(frozen=True)
class Denied:
    need: Needed
    has: str | None

    @property
    def line(self) -> str:
        n = self.need
        return f"{n.kind} {n.id} ({n.name}) needs {n.level}, the identity has {self.has or 'no access'}"

    @property
    def reason(self) -> str:
        return f"the deploy identity may not change it (needs {self.need.level}, has {self.has or 'no access'})"


def check(client: Client, plan: Plan, identity: Identity | None, *, command: str) -> list[Denied]:
    """The plan's changes the identity may not make (none for an admin)."""
    if identity is None or identity.is_admin:
        return []
    needed = permissions_needed(plan)

    def level(n: Needed) -> str | None:
        with in_step(f"{command}: check permissions", f"{n.kind} {n.id}"):
            entries = permissions.access_list(client, n.kind, n.id)
        return permissions.level_of(identity, n.kind, entries)

    levels = client.map(level, needed)
    return [
        Denied(n, has)
        for n, has in zip(needed, levels, strict=True)
        if not permissions.allows(n.kind, has, n.level)
    ]


def refuse(
    denied: list[Denied], identity: Identity, target: str, *, skippable: bool
) -> AccessDenied:
    lines = "; ".join(d.line for d in denied)
    fix = (
        "grant those permissions to the deploy identity"
        + (
            f", or set skip_denied: true on target {target} to leave those objects as they are "
            "(reported as drift)"
            if skippable
            else " (the smoke job cannot be skipped)"
        )
        + "; nothing was changed"
    )
    return AccessDenied(
        f"the deploy identity {identity.name} may not make {len(denied)} change(s) this deploy "
        f"needs: {lines}",
        fix,
    )

"""Who the deploy identity is: SCIM ``Me`` (its user or service principal name and groups)."""

from __future__ import annotations

from wheelship.databricks.client import Client
from wheelship.databricks.model import Identity

ME = "/api/2.0/preview/scim/v2/Me"


def me(client: Client) -> Identity:
    body = client.get(ME)
    groups = tuple(
        str(g.get("display") or g.get("value") or "")
        for g in body.get("groups") or []
        if isinstance(g, dict)
    )
    # a service principal's permissions name it by its application id
    name = str(body.get("applicationId") or body.get("userName") or body.get("displayName") or "?")
    return Identity(
        name=name,
        display=str(body.get("displayName") or name),
        groups=groups,
        service_principal=bool(body.get("applicationId")),
    )

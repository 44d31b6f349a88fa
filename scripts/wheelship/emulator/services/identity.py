"""Discovery documents, the OAuth token endpoint (M2M client credentials and OIDC token
exchange) and ``/api/2.0/preview/scim/v2/Me``."""

from __future__ import annotations

import zlib
from typing import Any
from urllib.parse import parse_qs

from wheelship.emulator.router import Router
from wheelship.emulator.state import Workspace
from wheelship.emulator.wire import Request, Response


def register(router: Router) -> None:
    router.add("GET", "/.well-known/databricks-config", host_metadata, auth=False, body="none")
    router.add(
        "GET",
        "/oidc/.well-known/oauth-authorization-server",
        oidc_discovery,
        auth=False,
        body="none",
    )
    router.add("POST", "/oidc/v1/token", token, auth=False, max_body=256 * 1024)
    router.add("GET", "/api/2.0/preview/scim/v2/Me", me, body="none")


def host_metadata(ws: Workspace, req: Request) -> dict[str, Any]:
    return {
        "oidc_endpoint": f"{ws.base_url}/oidc",
        "workspace_id": str(ws.workspace_id),
        "account_id": ws.account_id,
        "cloud": "aws",
        "token_federation_default_oidc_audiences": [ws.account_id],
    }


def oidc_discovery(ws: Workspace, req: Request) -> dict[str, Any]:
    base = f"{ws.base_url}/oidc"
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/v1/authorize",
        "token_endpoint": f"{base}/v1/token",
        "jwks_uri": f"{base}/jwks.json",
        "grant_types_supported": [
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["all-apis", "offline_access"],
    }


def token(ws: Workspace, req: Request) -> Response:
    text = req.raw_body.decode("utf-8", errors="replace")
    form = {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
    payload = ws.auth.token_endpoint(form, req.headers.get("Authorization"))
    return Response(json=payload, headers={"Cache-Control": "no-store"})


def me(ws: Workspace, req: Request) -> Response:
    principal = req.principal
    assert principal is not None
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": str(zlib.crc32(principal.name.encode())),
        "userName": principal.name,
        "displayName": principal.display_name or principal.name,
        "active": True,
        # direct memberships; every identity is also in "users", which Me does not list
        "groups": [
            {
                "display": group,
                "value": _group_id(group),
                "$ref": f"Groups/{_group_id(group)}",
                "type": "direct",
            }
            for group in principal.groups
        ],
    }
    if principal.kind == "service_principal":
        body["schemas"] = ["urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"]
        body["applicationId"] = principal.name
    return Response(json=body, headers={"x-databricks-org-id": str(ws.workspace_id)})


def _group_id(name: str) -> str:
    return str(zlib.crc32(f"group:{name}".encode()))

"""Libraries API 2.0: install, uninstall, cluster-status, all-cluster-statuses.

The status machine lives in :mod:`wheelship.emulator.lifecycle`.
"""

from __future__ import annotations

from typing import Any

from wheelship.emulator import lifecycle
from wheelship.emulator.router import Router
from wheelship.emulator.services.clusters import cluster_for, visible
from wheelship.emulator.state import Workspace
from wheelship.emulator.wire import Request, bad_request, field_list, field_str, malformed

LIBRARY_KEYS = ("whl", "jar", "egg", "requirements", "pypi", "maven", "cran")


def register(router: Router) -> None:
    router.add("POST", "/api/2.0/libraries/install", install)
    router.add("POST", "/api/2.0/libraries/uninstall", uninstall)
    router.add("GET", "/api/2.0/libraries/cluster-status", cluster_status, body="none")
    router.add("GET", "/api/2.0/libraries/all-cluster-statuses", all_statuses, body="none")


def validate_library(spec: Any, where: str = "libraries") -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise malformed(f"expected an object in '{where}', got {type(spec).__name__}")
    keys = [k for k in LIBRARY_KEYS if k in spec]
    unknown = sorted(set(spec) - set(LIBRARY_KEYS))
    if unknown:
        raise bad_request(f"Unknown library type(s) {', '.join(unknown)} in {where}")
    if len(keys) != 1:
        raise bad_request(
            f"A library must specify exactly one of {', '.join(LIBRARY_KEYS)}; got {len(keys)}"
        )
    key = keys[0]
    value = spec[key]
    if key in ("whl", "jar", "egg", "requirements"):
        if not isinstance(value, str) or not value:
            raise bad_request(f"Library {key} must be a non-empty path string")
        if not (value.startswith(("/", "dbfs:")) or "://" in value):
            raise bad_request(f"Library path {value!r} must be an absolute path or a URI")
    elif key == "pypi":
        if not isinstance(value, dict) or not isinstance(value.get("package"), str):
            raise bad_request("pypi library must specify package")
    elif key == "maven":
        if not isinstance(value, dict) or not isinstance(value.get("coordinates"), str):
            raise bad_request("maven library must specify coordinates")
    elif key == "cran" and (
        not isinstance(value, dict) or not isinstance(value.get("package"), str)
    ):
        raise bad_request("cran library must specify package")
    return spec


def _specs(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = field_list(body, "libraries", required=True) or []
    return [validate_library(item, f"libraries[{i}]") for i, item in enumerate(items)]


def install(ws: Workspace, req: Request) -> dict[str, Any]:
    body = req.json()
    cluster = cluster_for(ws, req, field_str(body, "cluster_id"), "CAN_MANAGE")
    specs = _specs(body)
    installer = req.principal.name if req.principal else None
    lifecycle.install_libraries(ws, cluster, specs, ws.now(), installer)
    return {}


def uninstall(ws: Workspace, req: Request) -> dict[str, Any]:
    body = req.json()
    cluster = cluster_for(ws, req, field_str(body, "cluster_id"), "CAN_MANAGE")
    lifecycle.uninstall_libraries(ws, cluster, _specs(body))
    return {}


def cluster_status(ws: Workspace, req: Request) -> dict[str, Any]:
    cluster = cluster_for(ws, req, req.require_arg("cluster_id"), "CAN_ATTACH_TO")
    out: dict[str, Any] = {"cluster_id": cluster.cluster_id}
    statuses = lifecycle.ordered_statuses(cluster)
    if statuses:
        out["library_statuses"] = statuses
    return out


def all_statuses(ws: Workspace, req: Request) -> dict[str, Any]:
    statuses = [
        {"cluster_id": c.cluster_id, "library_statuses": lifecycle.ordered_statuses(c)}
        for c in visible(ws, req)
        if c.libraries
    ]
    return {"statuses": statuses} if statuses else {}

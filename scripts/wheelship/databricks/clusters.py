"""Typed calls of the Clusters (2.1) and Libraries (2.0) APIs: the only module that spells their
endpoints."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wheelship.databricks.client import Client
from wheelship.databricks.model import Cluster, LibraryStatus
from wheelship.errors import DatabricksError

CLUSTERS_API = "/api/2.1/clusters"
LIBRARIES_API = "/api/2.0/libraries"


def _statuses(raw: Iterable[Mapping[str, Any]]) -> tuple[LibraryStatus, ...]:
    return tuple(
        LibraryStatus(
            library=dict(s.get("library") or {}),
            status=str(s.get("status") or "PENDING"),
            messages=tuple(str(m) for m in s.get("messages") or ()),
        )
        for s in raw
    )


def _cluster(c: Mapping[str, Any], libraries: tuple[LibraryStatus, ...]) -> Cluster:
    return Cluster(
        cluster_id=str(c["cluster_id"]),
        name=str(c.get("cluster_name") or c["cluster_id"]),
        state=str(c.get("state") or "UNKNOWN"),
        source=str(c.get("cluster_source") or ""),
        tags=dict(c.get("custom_tags") or {}),
        access_mode=c.get("data_security_mode"),
        libraries=libraries,
    )


def library_statuses(client: Client, cluster_id: str) -> tuple[LibraryStatus, ...]:
    body = client.get(f"{LIBRARIES_API}/cluster-status", {"cluster_id": cluster_id})
    return _statuses(body.get("library_statuses") or [])


def get(client: Client, cluster_id: str) -> Cluster:
    """One cluster with its libraries (two calls)."""
    raw = client.get(f"{CLUSTERS_API}/get", {"cluster_id": cluster_id})
    return _cluster(raw, library_statuses(client, cluster_id))


def list_all(client: Client, extra_ids: Iterable[str] = ()) -> list[Cluster]:
    """Every cluster with its libraries; ``extra_ids`` are looked up even when the list omits
    them (clusters/list leaves out clusters terminated long ago)."""
    raw = list(client.paginate(f"{CLUSTERS_API}/list", {"page_size": 100}, "clusters"))
    listed = {str(c["cluster_id"]) for c in raw}
    for cid in extra_ids:
        if cid in listed:
            continue
        try:
            raw.append(client.get(f"{CLUSTERS_API}/get", {"cluster_id": cid}))
        except DatabricksError as exc:
            # an unknown id is reported by the plan
            if exc.status in {400, 404} and "does not exist" in str(exc).lower():
                continue
            raise
    statuses = client.get(f"{LIBRARIES_API}/all-cluster-statuses")
    by_cluster = {
        str(s.get("cluster_id")): _statuses(s.get("library_statuses") or [])
        for s in statuses.get("statuses") or []
    }
    return [_cluster(c, by_cluster.get(str(c["cluster_id"]), ())) for c in raw]


def install(client: Client, cluster_id: str, libraries: Iterable[Mapping[str, Any]]) -> None:
    client.post(
        f"{LIBRARIES_API}/install",
        {"cluster_id": cluster_id, "libraries": [dict(x) for x in libraries]},
    )


def uninstall(client: Client, cluster_id: str, libraries: Iterable[Mapping[str, Any]]) -> None:
    client.post(
        f"{LIBRARIES_API}/uninstall",
        {"cluster_id": cluster_id, "libraries": [dict(x) for x in libraries]},
    )


def restart(client: Client, cluster_id: str) -> None:
    client.post(f"{CLUSTERS_API}/restart", {"cluster_id": cluster_id})


def get_raw(client: Client, cluster_id: str) -> dict[str, Any]:
    """The cluster as ``clusters/get`` answers (runtime, access mode, assigned user)."""
    return client.get(f"{CLUSTERS_API}/get", {"cluster_id": cluster_id})

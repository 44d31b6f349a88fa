"""Read a workspace into a :class:`~wheelship.databricks.model.Snapshot` (read-only calls only).

The reads are few and wide: jobs come from ``jobs/list?expand_tasks=true`` (100 per page), and a
job costs a ``jobs/get`` only when the list truncated it; every cluster's libraries come from one
``libraries/all-cluster-statuses``. Independent reads run in parallel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from wheelship.databricks.client import Client, in_step
from wheelship.databricks.model import ActiveRun, Cluster, Job, LibraryStatus, RemoteFile, Snapshot
from wheelship.databricks.storage import Storage
from wheelship.errors import DatabricksError

JOBS_API = "/api/2.2/jobs"
CLUSTERS_API = "/api/2.1/clusters"
PAGED_ARRAYS = ("tasks", "job_clusters", "environments", "parameters")
MAX_JOB_PAGES = 100  # a job has at most 1,000 tasks: 10 pages of 100


def get_job(client: Client, job_id: int) -> dict[str, Any]:
    """A job with every page of its settings arrays merged (Jobs 2.2 ``get`` pages arrays
    longer than 100)."""
    job = client.get(f"{JOBS_API}/get", {"job_id": job_id})
    token = job.get("next_page_token")
    seen: set[str] = set()
    while token:
        if token in seen or len(seen) >= MAX_JOB_PAGES:
            what = f"repeated page token {token!r}" if token in seen else "endless pages"
            raise DatabricksError(f"jobs/get {job_id} returned {what}", "report it to Databricks")
        seen.add(token)
        page = client.get(f"{JOBS_API}/get", {"job_id": job_id, "page_token": token})
        settings = job.setdefault("settings", {})
        for key in PAGED_ARRAYS:
            more = (page.get("settings") or {}).get(key) or []
            if more:
                settings.setdefault(key, []).extend(more)
        token = page.get("next_page_token")
    job.pop("next_page_token", None)
    job.pop("has_more", None)
    return job


def _needs_get(entry: Mapping[str, Any]) -> bool:
    if entry.get("has_more"):
        return True
    settings = entry.get("settings") or {}
    envs = {e.get("environment_key") for e in settings.get("environments") or []}
    for task in settings.get("tasks") or []:
        for t in (task, (task.get("for_each_task") or {}).get("task") or {}):
            key = t.get("environment_key")
            if key and key not in envs:
                return True  # the list left the environments out
    return False


def _job(entry: Mapping[str, Any]) -> Job:
    settings = dict(entry.get("settings") or {})
    return Job(
        job_id=int(entry["job_id"]),
        name=str(settings.get("name") or f"job-{entry['job_id']}"),
        settings=settings,
        tags=dict(settings.get("tags") or {}),
    )


def read_jobs(client: Client) -> list[Job]:
    entries = list(
        client.paginate(f"{JOBS_API}/list", {"limit": 100, "expand_tasks": True}, "jobs")
    )
    incomplete = [i for i, e in enumerate(entries) if _needs_get(e)]
    if incomplete:
        fetched = client.map(lambda i: get_job(client, int(entries[i]["job_id"])), incomplete)
        for i, full in zip(incomplete, fetched, strict=True):
            entries[i] = full
    return [_job(e) for e in entries]


def _library_statuses(raw: Iterable[Mapping[str, Any]]) -> tuple[LibraryStatus, ...]:
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
    body = client.get("/api/2.0/libraries/cluster-status", {"cluster_id": cluster_id})
    return _library_statuses(body.get("library_statuses") or [])


def read_clusters(client: Client, extra_ids: Iterable[str] = ()) -> list[Cluster]:
    raw = list(client.paginate(f"{CLUSTERS_API}/list", {"page_size": 100}, "clusters"))
    listed = {str(c["cluster_id"]) for c in raw}
    for cid in extra_ids:
        # clusters/list omits clusters terminated long ago; an id named in the config is looked
        # up directly (an unknown one is reported by the plan).
        if cid in listed:
            continue
        try:
            raw.append(client.get(f"{CLUSTERS_API}/get", {"cluster_id": cid}))
        except DatabricksError as exc:
            if exc.status in {400, 404} and "does not exist" in str(exc).lower():
                continue
            raise
    statuses = client.get("/api/2.0/libraries/all-cluster-statuses")
    by_cluster = {
        str(s.get("cluster_id")): _library_statuses(s.get("library_statuses") or [])
        for s in statuses.get("statuses") or []
    }
    return [_cluster(c, by_cluster.get(str(c["cluster_id"]), ())) for c in raw]


def read_active_runs(client: Client) -> list[ActiveRun]:
    runs = []
    for run in client.paginate(
        f"{JOBS_API}/runs/list", {"active_only": True, "expand_tasks": True, "limit": 25}, "runs"
    ):
        clusters = {
            str(t["cluster_instance"]["cluster_id"])
            for t in run.get("tasks") or []
            if (t.get("cluster_instance") or {}).get("cluster_id")
        }
        clusters |= {
            str(t["existing_cluster_id"])
            for t in run.get("tasks") or []
            if t.get("existing_cluster_id")
        }
        if (run.get("cluster_instance") or {}).get("cluster_id"):
            clusters.add(str(run["cluster_instance"]["cluster_id"]))
        runs.append(
            ActiveRun(
                run_id=int(run["run_id"]),
                job_id=int(run["job_id"]) if run.get("job_id") is not None else None,
                name=str(run.get("run_name") or run.get("job_id") or run["run_id"]),
                cluster_ids=tuple(sorted(clusters)),
            )
        )
    return runs


def read(
    client: Client,
    storage: Storage,
    *,
    digest_names: Iterable[str] = (),
    cluster_ids: Iterable[str] = (),
    runs: bool = False,
    command: str = "plan",
) -> Snapshot:
    """Read everything a plan needs. ``digest_names``: files whose sha256 the plan compares
    (read only when they exist)."""
    cluster_ids = list(cluster_ids)

    def listing() -> tuple[tuple[RemoteFile, ...] | None, dict[str, str]]:
        files = storage.list()
        digests: dict[str, str] = {}
        for name in digest_names:
            if files is not None and any(f.name == name for f in files):
                digests[name] = storage.digest(name)[1]
        return (tuple(files) if files is not None else None), digests

    tasks: dict[str, Callable[[], Any]] = {
        "jobs": lambda: read_jobs(client),
        "artifacts": listing,
        "clusters": lambda: read_clusters(client, cluster_ids),
    }
    if runs:
        tasks["runs"] = lambda: read_active_runs(client)
    steps = {
        "jobs": "list jobs",
        "artifacts": "list artifacts",
        "clusters": "list clusters",
        "runs": "list active runs",
    }

    def run(key: str) -> Any:
        with in_step(f"{command}: {steps[key]}"):
            return tasks[key]()

    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = {key: pool.submit(run, key) for key in tasks}
        results = {key: f.result() for key, f in futures.items()}
    files, digests = results["artifacts"]
    return Snapshot(
        host=client.host,
        jobs=tuple(results["jobs"]),
        clusters=tuple(results["clusters"]),
        artifacts=files,
        digests=digests,
        active_runs=tuple(results.get("runs", ())),
    )

"""Typed calls of the Jobs API (2.2): the only module that spells its endpoints.

Reads return plain records of :mod:`wheelship.databricks.model`; writes take exactly what the
deploy sends. Every call goes through :class:`~wheelship.databricks.client.Client` (retries,
pacing, counting).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from wheelship.databricks.client import Client, Page
from wheelship.databricks.model import ActiveRun, Job, JobPage, Run
from wheelship.errors import DatabricksError

JOBS_API = "/api/2.2/jobs"
PAGED_ARRAYS = ("tasks", "job_clusters", "environments", "parameters")
LIST: Mapping[str, Any] = {"limit": 100, "expand_tasks": True}
MAX_JOB_PAGES = 100  # a job has at most 1,000 tasks: 10 pages of 100


def get_raw(client: Client, job_id: int) -> dict[str, Any]:
    """A job as ``jobs/get`` answers, with every page of its settings arrays merged (Jobs 2.2
    ``get`` pages arrays longer than 100)."""
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


def get(client: Client, job_id: int) -> Job:
    return to_job(get_raw(client, job_id))


def needs_get(entry: Mapping[str, Any]) -> bool:
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


def to_job(entry: Mapping[str, Any]) -> Job:
    settings = dict(entry.get("settings") or {})
    return Job(
        job_id=int(entry["job_id"]),
        name=str(settings.get("name") or f"job-{entry['job_id']}"),
        settings=settings,
        tags=dict(settings.get("tags") or {}),
    )


def list_all(client: Client) -> list[Job]:
    """Every job the identity can see, complete: ``jobs/list?expand_tasks=true`` (100 per page),
    and a ``jobs/get`` only for a job the list truncated."""
    return list_paged(client)[0]


def list_paged(client: Client) -> tuple[list[Job], list[JobPage]]:
    """:func:`list_all`, and which jobs each page held with the token that asked for it."""
    pages = list(list_pages(client))
    found = complete(client, [e for page in pages for e in page.items])
    return found, [
        JobPage(page.token, tuple(int(e["job_id"]) for e in page.items)) for page in pages
    ]


def list_pages(client: Client) -> Iterator[Page]:
    """``jobs/list?expand_tasks=true`` a page (100 jobs) at a time, as the list answers them:
    an entry for which :func:`needs_get` is true lacks part of its settings."""
    return client.pages(f"{JOBS_API}/list", LIST, "jobs")


def read_page(client: Client, token: str | None) -> list[dict[str, Any]]:
    """One page of :func:`list_pages` again, by the token that asked for it."""
    query = {**LIST, "page_token": token} if token else LIST
    return list(client.get(f"{JOBS_API}/list", query).get("jobs") or [])


def complete(client: Client, entries: list[dict[str, Any]]) -> list[Job]:
    """The jobs of list entries, with a ``jobs/get`` for each entry the list truncated."""
    incomplete = [i for i, e in enumerate(entries) if needs_get(e)]
    if incomplete:
        fetched = client.map(lambda i: get_raw(client, int(entries[i]["job_id"])), incomplete)
        for i, full in zip(incomplete, fetched, strict=True):
            entries[i] = full
    return [to_job(e) for e in entries]


def update(client: Client, job_id: int, new_settings: Mapping[str, Any]) -> None:
    """``jobs/update``: top-level fields replace, ``tasks``/``job_clusters`` merge by key."""
    client.post(f"{JOBS_API}/update", {"job_id": job_id, "new_settings": dict(new_settings)})


def run_now(client: Client, job_id: int, idempotency_token: str) -> int:
    """Start a run; the token makes a retried call return the same run instead of a second."""
    body = client.post(
        f"{JOBS_API}/run-now", {"job_id": job_id, "idempotency_token": idempotency_token}
    )
    return int(body["run_id"])


def _run(body: Mapping[str, Any]) -> Run:
    state = body.get("state") or {}
    status = body.get("status") or {}
    message = str(
        state.get("state_message") or (status.get("termination_details") or {}).get("message") or ""
    )
    # a failed run's message spans lines ("...for whl: \"x\"\n Error messages:\n..."): one
    # line, so an error built from it stays one line
    message = " ".join(message.split())
    return Run(
        run_id=int(body["run_id"]),
        job_id=int(body["job_id"]) if body.get("job_id") is not None else None,
        life_cycle_state=str(state.get("life_cycle_state") or "PENDING"),
        result_state=str(state["result_state"]) if state.get("result_state") else None,
        message=message,
        url=str(body["run_page_url"]) if body.get("run_page_url") else None,
        queued=str(status.get("state") or "") == "QUEUED"
        or str(state.get("life_cycle_state") or "") == "QUEUED",
    )


def get_run(client: Client, run_id: int) -> Run:
    return _run(client.get(f"{JOBS_API}/runs/get", {"run_id": run_id}))


def cancel_run(client: Client, run_id: int) -> None:
    client.post(f"{JOBS_API}/runs/cancel", {"run_id": run_id})


def _cluster_ids(run: Mapping[str, Any]) -> tuple[str, ...]:
    tasks = run.get("tasks") or []
    clusters = {
        str(t["cluster_instance"]["cluster_id"])
        for t in tasks
        if (t.get("cluster_instance") or {}).get("cluster_id")
    }
    clusters |= {str(t["existing_cluster_id"]) for t in tasks if t.get("existing_cluster_id")}
    if (run.get("cluster_instance") or {}).get("cluster_id"):
        clusters.add(str(run["cluster_instance"]["cluster_id"]))
    return tuple(sorted(clusters))


def active_runs(client: Client, job_id: int | None = None) -> list[ActiveRun]:
    """Runs not yet finished (queued, pending, running), of one job or of the workspace."""
    params: dict[str, Any] = {"active_only": True, "expand_tasks": True, "limit": 25}
    if job_id is not None:
        params["job_id"] = job_id
    return [
        ActiveRun(
            run_id=int(run["run_id"]),
            job_id=int(run["job_id"]) if run.get("job_id") is not None else None,
            name=str(run.get("run_name") or run.get("job_id") or run["run_id"]),
            cluster_ids=_cluster_ids(run),
        )
        for run in client.paginate(f"{JOBS_API}/runs/list", params, "runs")
    ]

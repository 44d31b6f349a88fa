"""Read a workspace into a :class:`~wheelship.databricks.model.Snapshot` (read-only calls only).

The reads are few and wide: jobs come from ``jobs/list?expand_tasks=true`` (100 per page), and a
job costs a ``jobs/get`` only when the list truncated it; every cluster's libraries come from one
``libraries/all-cluster-statuses``. Independent reads run in parallel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from wheelship.databricks import clusters, identity
from wheelship.databricks import jobs as jobs_api
from wheelship.databricks.client import Client, in_step
from wheelship.databricks.model import Job, RemoteFile, Snapshot
from wheelship.databricks.storage import Storage


def read(
    client: Client,
    storage: Storage,
    *,
    digest_names: Iterable[str] = (),
    cluster_ids: Iterable[str] = (),
    runs: bool = False,
    who: bool = True,
    command: str = "plan",
    jobs: Sequence[Job] | None = None,
    artifacts: bool = True,
) -> Snapshot:
    """Read everything a plan needs. ``digest_names``: files whose sha256 the plan compares
    (read only when they exist); ``jobs``: the jobs when they were just read (not listed again);
    ``artifacts``: list the wheel folder (a check of what jobs and clusters run does not)."""
    cluster_ids = list(cluster_ids)

    def listing() -> tuple[tuple[RemoteFile, ...] | None, dict[str, str]]:
        files = storage.list()
        digests: dict[str, str] = {}
        for name in digest_names:
            if files is not None and any(f.name == name for f in files):
                digests[name] = storage.digest(name)[1]
        return (tuple(files) if files is not None else None), digests

    tasks: dict[str, Callable[[], Any]] = {}  # in this order the first failure is reported
    if jobs is None:
        tasks["jobs"] = lambda: jobs_api.list_paged(client)
    if artifacts:
        tasks["artifacts"] = listing
    tasks["clusters"] = lambda: clusters.list_all(client, cluster_ids)
    if runs:
        tasks["runs"] = lambda: jobs_api.active_runs(client)
    if who:
        tasks["identity"] = lambda: identity.me(client)
    steps = {
        "jobs": "list jobs",
        "artifacts": "list artifacts",
        "clusters": "list clusters",
        "runs": "list active runs",
        "identity": "read the deploy identity",
    }

    def run(key: str) -> Any:
        with in_step(f"{command}: {steps[key]}"):
            return tasks[key]()

    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = {key: pool.submit(run, key) for key in tasks}
        results = {key: f.result() for key, f in futures.items()}
    files, digests = results.get("artifacts", ((), {}))
    listed, pages = results["jobs"] if jobs is None else (jobs, [])
    return Snapshot(
        host=client.host,
        jobs=tuple(listed),
        job_pages=tuple(pages),
        clusters=tuple(results["clusters"]),
        artifacts=files,
        digests=digests,
        active_runs=tuple(results.get("runs", ())),
        now=time.time(),
        identity=results.get("identity"),
    )

"""The clients ``bench_deploy`` measures, each in its own process (no GIL shared with the emulator).

``python deploy_client.py wheelship|sdk|sdk-concurrent|upload|sdk-upload ARGS_JSON`` prints one
JSON line: ``{"seconds": ..., ...}``. Timing starts after the imports, so interpreter start-up is
not counted for any client. The sdk clients take ``"workspaces": [ARGS, ...]`` to deploy to
several workspaces one after another, as one script looping over its hosts does.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _rss() -> tuple[int, int]:
    """(current, peak) resident set size in bytes, from /proc."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            values[key] = int(rest.split()[0]) * 1024
    return values["VmRSS"], values["VmHWM"]


def _reset_peak() -> None:
    # Linux >= 4.0: "5" resets VmHWM to the current RSS.
    Path("/proc/self/clear_refs").write_text("5")


def wheelship(args: dict[str, Any]) -> dict[str, Any]:
    from wheelship.deploy import workflow
    from wheelship.deploy.apply import Timing

    settings = workflow.Settings(
        config=Path(args["config"]),
        target="prod",
        dist=Path(args["dist"]),
        out=Path(args["out"]),
        project=Path(args["out"]),
        concurrency=int(args.get("concurrency", 16)),
    )
    knobs = workflow.Knobs(
        timing=Timing(first=0.2, longest=1.0, progress_every=30.0), environ=args["env"]
    )
    _reset_peak()
    base, _ = _rss()
    started, cpu = time.perf_counter(), time.process_time()
    plan, result = workflow.run_deploy(settings, knobs)
    seconds = time.perf_counter() - started
    _now, peak = _rss()
    return {
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "requests": result.requests_total,
        "counts": result.request_counts,
        "jobs": len(plan.jobs),
        "clusters": len(plan.automated_clusters),
        "deleted": len(plan.deletions),
        "rss_growth": peak - base,
        "phases": result.phases,
        "job_reads": result.job_reads,
        "oldest_read": result.oldest_read,
    }


def _workspaces(args: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**args, **ws} for ws in args.get("workspaces") or [{}]]


def sdk(args: dict[str, Any]) -> dict[str, Any]:
    """What a team writes with databricks-sdk: the same changes, one call after another."""
    started, cpu = time.perf_counter(), time.process_time()
    for ws in _workspaces(args):
        _sdk_one(ws)
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu}


def _sdk_one(args: dict[str, Any]) -> dict[str, Any]:
    os.environ["DATABRICKS_DISABLE_EXPERIMENTAL_FILES_API_CLIENT"] = "true"
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config
    from databricks.sdk.service.compute import Library
    from databricks.sdk.service.jobs import JobSettings
    from packaging.version import Version

    from wheelship.deploy import references

    package, version, folder = "tsff", args["version"], args["artifacts"]
    wheel = Path(args["wheel"])
    path = f"{folder}/{wheel.name}"
    started = time.perf_counter()
    w = WorkspaceClient(
        config=Config(
            host=args["env"]["DATABRICKS_HOST"],
            token=args["env"]["DATABRICKS_TOKEN"],
            retry_timeout_seconds=600,
        )
    )
    with wheel.open("rb") as fh:
        w.files.upload(path, fh, overwrite=False)
    for base in w.jobs.list(expand_tasks=True, limit=100):
        if not references.find_refs((base.settings.as_dict() if base.settings else {}), package):
            continue
        job = w.jobs.get(base.job_id)
        settings = job.settings.as_dict() if job.settings else {}
        rewrite = references.rewrite(settings, package, version, path)
        if rewrite:
            new = references.apply_rewrite(settings, rewrite)
            w.jobs.reset(base.job_id, JobSettings.from_dict(new))
    for cluster in w.clusters.list():
        if (cluster.custom_tags or {}).get("tsff") != "prod":
            continue
        statuses = list(w.libraries.cluster_status(cluster.cluster_id))
        old = [
            s.library
            for s in statuses
            if s.library
            and s.library.whl
            and references.wheel_version(s.library.whl, package) not in (None, version)
        ]
        if old:
            w.libraries.uninstall(cluster.cluster_id, old)
        w.libraries.install(cluster.cluster_id, [Library(whl=path)])
    wheels = [
        (Version(v), e.path)
        for e in w.files.list_directory_contents(folder)
        if e.path and (v := references.wheel_version(e.path, package)) and v != version
    ]
    for _v, old_path in sorted(wheels, reverse=True)[int(args["keep"]) :]:
        w.files.delete(old_path)
    return {"seconds": time.perf_counter() - started}


def sdk_concurrent(args: dict[str, Any]) -> dict[str, Any]:
    """The same changes the way a careful engineer writes them with databricks-sdk: a pool of
    16 threads for the per-job ``jobs.get`` + ``jobs.update`` (only the changed tasks and
    environments sent) and for the per-cluster library calls, one workspace after another."""
    started, cpu = time.perf_counter(), time.process_time()
    for ws in _workspaces(args):
        _sdk_concurrent_one(ws, int(args.get("threads", 16)))
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu}


def _sdk_concurrent_one(args: dict[str, Any], threads: int) -> None:
    os.environ["DATABRICKS_DISABLE_EXPERIMENTAL_FILES_API_CLIENT"] = "true"
    from concurrent.futures import ThreadPoolExecutor

    import requests.adapters
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config
    from databricks.sdk.service.compute import Library
    from databricks.sdk.service.jobs import JobSettings
    from packaging.version import Version

    from wheelship.deploy import references

    package, version, folder = "tsff", args["version"], args["artifacts"]
    wheel = Path(args["wheel"])
    path = f"{folder}/{wheel.name}"
    w = WorkspaceClient(
        config=Config(
            host=args["env"]["DATABRICKS_HOST"],
            token=args["env"]["DATABRICKS_TOKEN"],
            retry_timeout_seconds=600,
        )
    )
    # requests keeps 10 connections per host by default: one per thread instead (the SDK
    # offers no setting for it).
    adapter = requests.adapters.HTTPAdapter(pool_connections=threads, pool_maxsize=threads)
    session = w.api_client._api_client._session
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    with wheel.open("rb") as fh:
        w.files.upload(path, fh, overwrite=False)
    wanted = [
        base.job_id
        for base in w.jobs.list(expand_tasks=True, limit=100)
        if base.job_id is not None
        and references.find_refs(base.settings.as_dict() if base.settings else {}, package)
    ]

    def repoint(job_id: int) -> None:
        job = w.jobs.get(job_id)  # the full settings (list truncates long task lists)
        settings = job.settings.as_dict() if job.settings else {}
        rw = references.rewrite(settings, package, version, path)
        if rw:
            w.jobs.update(job_id, new_settings=JobSettings.from_dict(rw.new_settings))

    def libraries(cluster_id: str) -> None:
        statuses = list(w.libraries.cluster_status(cluster_id))
        old = [
            s.library
            for s in statuses
            if s.library
            and s.library.whl
            and references.wheel_version(s.library.whl, package) not in (None, version)
        ]
        if old:
            w.libraries.uninstall(cluster_id, old)
        w.libraries.install(cluster_id, [Library(whl=path)])

    clusters = [
        c.cluster_id
        for c in w.clusters.list()
        if c.cluster_id and (c.custom_tags or {}).get("tsff") == "prod"
    ]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(repoint, wanted))
        list(pool.map(libraries, clusters))
    wheels = [
        (Version(v), e.path)
        for e in w.files.list_directory_contents(folder)
        if e.path and (v := references.wheel_version(e.path, package)) and v != version
    ]
    for _v, old_path in sorted(wheels, reverse=True)[int(args["keep"]) :]:
        w.files.delete(old_path)


def upload(args: dict[str, Any]) -> dict[str, Any]:
    """wheelship's upload + read-back verification of one big wheel, with peak memory."""
    from wheelship.databricks.auth import PatAuth
    from wheelship.databricks.client import Client
    from wheelship.databricks.storage import open_storage

    env = args["env"]
    client = Client(env["DATABRICKS_HOST"], PatAuth(env["DATABRICKS_TOKEN"]))
    storage = open_storage(client, args["artifacts"])
    wheel = Path(args["wheel"])
    _reset_peak()
    base, _ = _rss()
    started = time.perf_counter()
    storage.upload(wheel.name, wheel)
    size, digest = storage.digest(wheel.name)
    seconds = time.perf_counter() - started
    _now, peak = _rss()
    return {"seconds": seconds, "rss_growth": peak - base, "size": size, "sha256": digest}


def sdk_upload(args: dict[str, Any]) -> dict[str, Any]:
    """The same upload with databricks-sdk (``w.files.upload`` of an open file), for contrast."""
    os.environ["DATABRICKS_DISABLE_EXPERIMENTAL_FILES_API_CLIENT"] = "true"
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    env = args["env"]
    w = WorkspaceClient(config=Config(host=env["DATABRICKS_HOST"], token=env["DATABRICKS_TOKEN"]))
    wheel = Path(args["wheel"])
    _reset_peak()
    base, _ = _rss()
    started = time.perf_counter()
    with wheel.open("rb") as fh:
        w.files.upload(f"{args['artifacts']}/sdk-{wheel.name}", fh, overwrite=True)
    seconds = time.perf_counter() - started
    _now, peak = _rss()
    return {"seconds": seconds, "rss_growth": peak - base}


if __name__ == "__main__":
    mode, raw = sys.argv[1], sys.argv[2]
    fn = {
        "wheelship": wheelship,
        "sdk": sdk,
        "sdk-concurrent": sdk_concurrent,
        "upload": upload,
        "sdk-upload": sdk_upload,
    }[mode]
    print(json.dumps(fn(json.loads(raw))))

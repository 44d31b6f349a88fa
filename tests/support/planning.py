"""Plain-data builders for the pure deploy planner's tests: jobs, clusters, a target, a
snapshot, and what an apply would leave (the emulator does this for real in the integration tests)."""

from __future__ import annotations

import dataclasses
from typing import Any

from wheelship.databricks.model import ActiveRun, Cluster, Job, LibraryStatus, RemoteFile, Snapshot
from wheelship.deploy import plan as p
from wheelship.deploy import references, targets

ART = "/Volumes/ml/tsff/wheels"


def whl(version: str, folder: str = ART) -> str:
    return f"{folder}/tsff-{version}-py3-none-any.whl"


def name(version: str) -> str:
    return f"tsff-{version}-py3-none-any.whl"


def job(job_id: int, job_name: str, version: str | None, **extra: Any) -> Job:
    libs = [{"whl": whl(version)}] if version else [{"pypi": {"package": "requests"}}]
    settings = {
        "name": job_name,
        "tags": extra.pop("tags", {}),
        "tasks": [
            {
                "task_key": "main",
                "python_wheel_task": {"package_name": "tsff", "entry_point": "train"},
                "libraries": libs,
            }
        ],
        **extra,
    }
    return Job(job_id, job_name, settings, settings["tags"])


def cluster(cid: str, state: str, *libs: tuple[str, str], **kw: Any) -> Cluster:
    return Cluster(
        cid,
        kw.pop("name", cid),
        state,
        libraries=tuple(LibraryStatus({"whl": whl(v)}, s) for v, s in libs),
        **kw,
    )


def target(**overrides: Any) -> targets.Target:
    data: dict[str, Any] = {
        "artifacts": ART,
        "keep": 1,
        "min_age_days": 0,  # the planner's age rule has its own tests
        "clusters": {"mode": "automated", "tags": {"tsff": "prod"}, "restart": "if-idle"},
    }
    data.update(overrides)
    return targets.parse({"targets": {"prod": data}}).target("prod")


RELEASE = p.Release("tsff", "1.3.0", name("1.3.0"), 1000, "a" * 64)


def snapshot(**overrides: Any) -> Snapshot:
    prod = {"tsff": "prod"}
    base = Snapshot(
        host="https://h",
        jobs=(
            job(1, "tsff-train", "1.2.0"),
            job(2, "tsff-score", "1.2.0"),
            job(3, "unrelated", None),
            job(4, "tsff-smoke", "1.2.0"),
        ),
        clusters=(
            cluster("idle", "RUNNING", ("1.2.0", "INSTALLED"), tags=prod),
            cluster("busy", "RUNNING", ("1.2.0", "INSTALLED"), tags=prod),
            cluster("off", "TERMINATED", ("1.2.0", "INSTALLED"), tags=prod),
            cluster("other", "RUNNING", ("1.0.0", "INSTALLED")),  # not selected
            cluster("jobc", "RUNNING", tags=prod, source="JOB"),
        ),
        artifacts=tuple(RemoteFile(name(v), 900) for v in ("1.0.0", "1.1.0", "1.2.0")),
        active_runs=(ActiveRun(77, 9, "nightly", ("busy",)),),
    )
    return dataclasses.replace(base, **overrides)


def simulate(snap: Snapshot, plan: p.Plan) -> Snapshot:
    """The workspace after a successful apply (the emulator does this for real in the
    integration tests)."""
    jobs = []
    for j in snap.jobs:
        rw = (
            references.rewrite(j.settings, plan.package, plan.version, plan.artifact)
            if any(c.job_id == j.job_id for c in plan.jobs)
            else None
        )
        jobs.append(
            dataclasses.replace(j, settings=references.apply_rewrite(j.settings, rw)) if rw else j
        )
    clusters = []
    changes = {c.cluster_id: c for c in plan.automated_clusters}
    for c in snap.clusters:
        ch = changes.get(c.cluster_id)
        if ch is None:
            clusters.append(c)
            continue
        libs = [
            dataclasses.replace(s, status="UNINSTALL_ON_RESTART")
            if dict(s.library) in ch.uninstall
            else s
            for s in c.libraries
        ]
        for lib in ch.install:
            libs.append(
                LibraryStatus(
                    dict(lib),
                    "FAILED"
                    if any(s.status == "UNINSTALL_ON_RESTART" for s in libs) and c.is_active
                    else "INSTALLED",
                )
            )
        if ch.restart:
            libs = [
                dataclasses.replace(s, status="INSTALLED")
                for s in libs
                if s.status != "UNINSTALL_ON_RESTART"
            ]
        clusters.append(dataclasses.replace(c, libraries=tuple(libs)))
    files = [f for f in snap.artifacts or () if f.name not in {d.wheel for d in plan.deletions}]
    if plan.upload:
        files.append(RemoteFile(plan.upload.wheel, plan.upload.size))
    digests = dict(snap.digests)
    if plan.upload:
        digests[plan.upload.wheel] = plan.upload.sha256
    return dataclasses.replace(
        snap, jobs=tuple(jobs), clusters=tuple(clusters), artifacts=tuple(files), digests=digests
    )

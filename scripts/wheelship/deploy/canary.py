"""Canary deploys, decided with no I/O: which jobs and clusters go first, what the rest is, and
what brings a failed canary back.

A target with ``canary:`` deploys in two waves. The first — the upload, the canary jobs and
clusters, then the canary's smoke run — deletes nothing; the second is the ordinary plan of the
whole target read again after the first succeeded (the canary objects are then unchanged in
it). A canary that fails is rolled back with the same engine as ``wheelship rollback``, limited
to the canary's objects, to the version they ran before. The work layer
(:mod:`wheelship.deploy.workflow`) runs the waves; this module only plans them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wheelship.databricks.model import Snapshot
from wheelship.deploy import plan as planning
from wheelship.deploy import report
from wheelship.deploy.plan import Plan, Release
from wheelship.deploy.targets import ClusterSelection, JobSelection, Smoke, Target
from wheelship.errors import PlanError


@dataclass(frozen=True)
class Waves:
    """What a canary deploy does: ``canary`` first, then (only when its smoke run succeeds)
    ``rest``, the remaining changes of the whole plan."""

    canary: Plan
    rest: Plan

    def to_json(self) -> dict[str, Any]:
        return {"canary": self.canary.to_json(), "rest": self.rest.to_json()}


def canary_target(
    target: Target, snap: Snapshot, package: str, refs: planning.JobRefs | None = None
) -> Target:
    """The target narrowed to its canary: the canary jobs and clusters (each of them must be
    one the target selects; clusters keep their group's restart and wait), the canary's smoke
    job, and nothing else. ``refs``: the snapshot's :func:`~wheelship.deploy.plan.job_refs`
    when already found."""
    canary = target.canary
    if canary is None:
        raise PlanError(f"target {target.name} has no canary", "add a canary: section")
    where = f"targets.{target.name}.canary"
    selected = planning.select_jobs(snap.jobs, target.jobs, package, refs)
    job_ids: list[int] = []
    for ref in canary.jobs:
        found = [
            j for j in selected if (j.job_id == ref if isinstance(ref, int) else j.name == ref)
        ]
        if not found:
            raise PlanError(
                f"{where}.jobs: job {ref!r} is not one of the jobs target {target.name} deploys to",
                "name a job the target selects (see 'wheelship plan'), or widen jobs:",
            )
        if len(found) > 1:
            ids = ", ".join(str(j.job_id) for j in found)
            raise PlanError(
                f"{where}.jobs: {len(found)} jobs are named {ref!r} ({ids})", "use the id"
            )
        job_ids.append(found[0].job_id)
    groups: dict[int, list[str]] = {}
    pairs = planning.select_cluster_groups(snap.clusters, target)
    for ref in canary.clusters:
        hits = [(c, g) for c, g in pairs if ref in (c.cluster_id, c.name)]
        if not hits:
            raise PlanError(
                f"{where}.clusters: cluster {ref!r} is not one of the clusters target "
                f"{target.name} updates",
                "name a selected cluster (id or name), or widen clusters:",
            )
        if len(hits) > 1:
            ids = ", ".join(c.cluster_id for c, _g in hits)
            raise PlanError(
                f"{where}.clusters: {len(hits)} clusters are named {ref!r} ({ids})", "use the id"
            )
        cluster, group = hits[0]
        if group.mode != "automated":
            raise PlanError(
                f"{where}.clusters: cluster {cluster.cluster_id} ({cluster.name}) is in {group.mode} mode",
                "a canary must be changed by the deploy: pick a cluster in automated mode",
            )
        groups.setdefault(target.clusters.index(group), []).append(cluster.cluster_id)
    smoke_job = (
        canary.smoke if canary.smoke is not None else (target.smoke.job if target.smoke else None)
    )
    assert smoke_job is not None, "targets.parse requires a smoke job for a canary"
    return dataclasses.replace(
        target,
        # by id, found above: 'listed' with no id selects no job at all
        # (the whole target's plan refuses an empty selection; a wave may have no job)
        jobs=JobSelection(
            select="listed", ids=tuple(job_ids), allow_empty=True, managed=target.jobs.managed
        ),
        clusters=tuple(
            ClusterSelection(
                mode="automated",
                ids=tuple(ids),
                restart=target.clusters[i].restart,
                wait=target.clusters[i].wait,
            )
            for i, ids in sorted(groups.items())
        ),
        smoke=Smoke(smoke_job, canary.timeout),
        canary=None,
    )


def waves(
    target: Target,
    release: Release,
    snap: Snapshot,
    denied: Mapping[tuple[str, str], str] | None = None,
) -> Waves:
    """The two waves as they look now (``plan`` shows them; ``deploy`` plans the second wave
    again after the first). ``denied``: the objects ``skip_denied`` leaves alone."""
    refs = planning.job_refs(snap.jobs, release.package)  # found once for the three reads
    first = planning.plan(
        canary_target(target, snap, release.package, refs),
        release,
        snap,
        denied=denied,
        refs=refs,
    )
    # The canary wave deletes nothing (retention belongs to the end of a deploy that worked);
    # the whole plan below carries every warning.
    first = dataclasses.replace(first, deletions=(), kept=(), warnings=())
    whole = planning.plan(target, release, snap, denied=denied, refs=refs)
    jobs = {j.job_id for j in first.jobs}
    clusters = {c.cluster_id for c in first.clusters}
    rest = dataclasses.replace(
        whole,
        upload=None,
        jobs=tuple(j for j in whole.jobs if j.job_id not in jobs),
        clusters=tuple(c for c in whole.clusters if c.cluster_id not in clusters),
    )
    return Waves(first, rest)


def versions_before(first: Plan) -> list[str]:
    """The versions the canary objects ran before the canary wave, newest first."""
    found = [v for j in first.jobs for v in j.versions_before]
    found += [v for c in first.automated_clusters for v in c.versions_before]
    return planning.sort_versions(found)


def restore_target(target: Target, snap: Snapshot, package: str) -> Target:
    """The canary target for the way back: the same objects, no smoke run."""
    return dataclasses.replace(canary_target(target, snap, package), smoke=None)


def restore_plan(target: Target, release: Release, snap: Snapshot) -> Plan:
    """The rollback of the canary objects to ``release`` (the version they ran before); it
    deletes nothing — the new wheel stays for the next attempt."""
    back = planning.plan(
        restore_target(target, snap, release.package), release, snap, action="rollback"
    )
    return dataclasses.replace(back, deletions=(), kept=(), warnings=())


def waves_markdown(w: Waves) -> str:
    """The two waves, for the top of plan.md."""
    c, r = w.canary, w.rest
    lines = [
        f"## Canary: {len(c.jobs)} job(s) and {len(c.automated_clusters)} cluster(s) first",
        "",
        "Wave 1 (the canary), in order:",
        "",
    ]
    lines += [f"1. {step} {obj}" for step, obj in c.steps()] or ["1. nothing to change"]
    lines += [
        "",
        "Only when the smoke run succeeds does wave 2 follow; if anything in wave 1 fails, the "
        "canary goes back to "
        + (", ".join(versions_before(c)) or "what it ran before")
        + " and nothing else changes.",
        "",
        "Wave 2 (the rest), in order:",
        "",
    ]
    lines += [f"1. {step} {obj}" for step, obj in r.steps()] or ["1. nothing to change"]
    lines.append("")
    return "\n".join(lines)


def plan_markdown(w: Waves, whole: Plan) -> str:
    """plan.md of a target with a canary: the waves, then the whole plan."""
    head, _, body = report.plan_markdown(whole).partition("\n\n")
    return f"{head}\n\n{waves_markdown(w)}\n{body}"

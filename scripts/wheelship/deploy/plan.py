"""The deploy plan: a pure function of (target, release, workspace snapshot).

``plan()`` does no I/O. It decides everything a deploy will do — the upload, each job's
reference changes, each cluster's install/uninstall/restart, the files retention deletes, the
smoke run — and refuses bad input (unknown ids, a wheel that exists with other bytes, a version
that is not retained) before anything changes. ``plan``, ``deploy``, ``status``, ``rollback`` and
``runbook`` are all views of its result.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from packaging.version import InvalidVersion, Version

from wheelship.databricks import paths
from wheelship.databricks.model import SETTLED_STATUSES, Cluster, Job, LibraryStatus, Snapshot
from wheelship.deploy import references
from wheelship.deploy.references import Ref, RefChange
from wheelship.deploy.targets import ClusterMode, ClusterSelection, JobSelection, Restart, Target
from wheelship.errors import PlanError

UNINSTALL_ON_RESTART = "UNINSTALL_ON_RESTART"

Action = Literal["deploy", "rollback", "runbook"]
#: Cluster states on the way to RUNNING: a rerun waits for them.
STARTING_STATES = frozenset({"PENDING", "RESTARTING"})


@dataclass(frozen=True)
class Release:
    """The version to make live. ``local`` releases come from a build (dist directory) and are
    uploaded when missing; rollbacks name a retained file that must already exist."""

    package: str  # canonical name
    version: str
    wheel: str  # file name
    size: int | None
    sha256: str | None
    local: bool = True


@dataclass(frozen=True)
class Upload:
    path: str
    wheel: str
    size: int
    sha256: str
    create_folder: bool


@dataclass(frozen=True)
class JobChange:
    job_id: int
    name: str
    changes: tuple[RefChange, ...]
    new_settings: Mapping[str, Any]
    versions_before: tuple[str, ...]
    #: sha256 of the settings the change was planned from: apply re-reads the job right before
    #: writing and plans it again when they changed meanwhile (no lost update)
    basis: str = ""

    @property
    def label(self) -> str:
        return f"{self.job_id} ({self.name})"


def settings_digest(settings: Mapping[str, Any]) -> str:
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def replan_job(change: JobChange, fresh: Job, plan: Plan) -> JobChange | None:
    """The change for the job as it is now (re-read right before the write), or None when it
    needs none any more. Unchanged settings keep the planned change."""
    if settings_digest(fresh.settings) == change.basis:
        return change
    rw = references.rewrite(fresh.settings, plan.package, plan.version, plan.artifact)
    if not rw:
        return None
    return JobChange(
        fresh.job_id,
        fresh.name,
        rw.changes,
        rw.new_settings,
        tuple(job_versions(fresh, plan.package)),
        settings_digest(fresh.settings),
    )


def undo_settings(change: JobChange, before: Mapping[str, Any]) -> dict[str, Any]:
    """What restores a job's repointed entries: the same keys as the change sends, with the
    values ``before`` held (tasks by task_key, since ``update`` merges them by key)."""
    out: dict[str, Any] = {}
    for key, value in change.new_settings.items():
        if key == "tasks":
            keys = {t.get("task_key") for t in value}
            out["tasks"] = [t for t in before.get("tasks") or [] if t.get("task_key") in keys]
        elif key in before:
            out[key] = before[key]
    return out


@dataclass(frozen=True)
class ClusterChange:
    cluster_id: str
    name: str
    state: str
    mode: ClusterMode
    access_mode: str | None
    install: tuple[Mapping[str, Any], ...]
    uninstall: tuple[Mapping[str, Any], ...]
    restart: bool
    restart_policy: Restart
    wait: int  # seconds to wait for the libraries to settle (0: do not wait)
    note: str | None  # why no restart, or what happens next
    versions_before: tuple[str, ...]
    current: tuple[LibraryStatus, ...]

    @property
    def label(self) -> str:
        return f"{self.cluster_id} ({self.name})"

    @property
    def mutates(self) -> bool:
        return self.mode == "automated" and bool(self.install or self.uninstall or self.restart)

    @property
    def settles(self) -> bool:
        """Nothing to send, but the deploy waits: the cluster is still restarting, or the
        new version still installing (a rerun after an interruption)."""
        return self.mode == "automated" and not self.mutates and self.wait > 0

    @property
    def needs_restart(self) -> bool:
        """The change is complete only after a restart (some other version is still loaded,
        or the new one failed next to it)."""
        return bool(self.uninstall) or any(s.status == UNINSTALL_ON_RESTART for s in self.current)


@dataclass(frozen=True)
class Deletion:
    path: str
    wheel: str
    version: str
    #: clusters that list the file now and stop listing it only after their planned restart;
    #: apply re-reads them and keeps the file if any still lists it.
    guard_clusters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kept:
    wheel: str
    version: str
    reason: str


@dataclass(frozen=True)
class Skipped:
    """A selected object the deploy leaves alone, and why: it stays on its version (drift)."""

    kind: Literal["job", "cluster"]
    id: str
    name: str
    reason: str

    @property
    def label(self) -> str:
        return f"{self.kind} {self.id} ({self.name})"


def _denied_warning(s: Skipped) -> str:
    # the job log must name what skip_denied left behind, not only the report's pending list
    return f"{s.label} skipped (skip_denied): {s.reason} — it stays on its version (drift)"


@dataclass(frozen=True)
class SmokeRun:
    job_id: int
    name: str
    timeout: int


#: Types asdict copies as they are (their deep copy is the object itself).
_ATOMIC = frozenset({str, int, float, bool, type(None)})


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(kind: type) -> tuple[str, ...]:
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind))
    return names


def plain(obj: Any) -> Any:
    """``dataclasses.asdict(obj)``, the same result without its deep copy of every string and
    number and its per-object field lookup: a large plan holds a thousand jobs' settings, and
    asdict was half the CPU of writing plan.json."""
    kind = type(obj)
    if kind in _ATOMIC:
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {name: plain(getattr(obj, name)) for name in _field_names(kind)}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return kind(*[plain(v) for v in obj])  # a NamedTuple stays one, as in asdict
    if isinstance(obj, (list, tuple)):
        return kind(plain(v) for v in obj)
    if isinstance(obj, dict):
        return kind((plain(k), plain(v)) for k, v in obj.items())
    return copy.deepcopy(obj)


class PlanStep(NamedTuple):
    step: str
    obj: str


@dataclass(frozen=True)
class Plan:
    target: str
    host: str
    package: str
    version: str
    action: Action
    artifact: str
    sha256: str | None
    size: int | None
    upload: Upload | None
    jobs: tuple[JobChange, ...]
    clusters: tuple[ClusterChange, ...]
    deletions: tuple[Deletion, ...]
    kept: tuple[Kept, ...]
    smoke: SmokeRun | None
    warnings: tuple[str, ...] = ()
    unchanged_jobs: int = 0
    unchanged_clusters: int = 0
    skipped: tuple[Skipped, ...] = ()

    @property
    def manual_clusters(self) -> tuple[ClusterChange, ...]:
        return tuple(c for c in self.clusters if c.mode == "manual")

    @property
    def automated_clusters(self) -> tuple[ClusterChange, ...]:
        return tuple(c for c in self.clusters if c.mutates)

    @property
    def settling_clusters(self) -> tuple[ClusterChange, ...]:
        return tuple(c for c in self.clusters if c.settles)

    @property
    def changes_anything(self) -> bool:
        """Whether deploy would change the workspace (the smoke run is not a change)."""
        return bool(self.upload or self.jobs or self.automated_clusters or self.deletions)

    def steps(self) -> list[PlanStep]:
        """The steps in apply order, for display."""
        out: list[PlanStep] = []
        if self.upload:
            out.append(PlanStep("upload", self.upload.path))
        out += [PlanStep("repoint job", j.label) for j in self.jobs]
        for c in self.automated_clusters:
            if c.install or c.uninstall:
                out.append(PlanStep("update libraries on cluster", c.label))
            if c.restart:
                out.append(PlanStep("restart cluster", c.label))
        out += [PlanStep("wait for cluster", c.label) for c in self.settling_clusters]
        out += [PlanStep("delete", d.path) for d in self.deletions]
        if self.smoke:
            out.append(PlanStep("smoke run", f"{self.smoke.job_id} ({self.smoke.name})"))
        return out

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = plain(self)
        data["changes_anything"] = self.changes_anything
        data["steps"] = [{"step": s, "object": o} for s, o in self.steps()]
        return data


# -- selection ---------------------------------------------------------------------------------


def _matches(
    name: str, tags: Mapping[str, str], names: Iterable[str], want: Mapping[str, str]
) -> bool:
    name_ok = not names or any(fnmatch.fnmatchcase(name, g) for g in names)
    tags_ok = all(tags.get(k) == v for k, v in want.items())
    return name_ok and tags_ok


def _job_excluded(job: Job, sel: JobSelection) -> bool:
    for item in sel.exclude:
        if isinstance(item, int) and item == job.job_id:
            return True
        if isinstance(item, str) and fnmatch.fnmatchcase(job.name, item):
            return True
    return False


#: Every job's references to the package, by job id: found once, read by every step of a plan.
JobRefs = Mapping[int, Sequence[Ref]]


def job_refs(jobs: Iterable[Job], package: str) -> dict[int, tuple[Ref, ...]]:
    """The references of each job (see :data:`JobRefs`)."""
    return {j.job_id: tuple(references.find_refs(j.settings, package)) for j in jobs}


def _refs(job: Job, package: str, refs: JobRefs | None) -> Sequence[Ref]:
    if refs is not None and job.job_id in refs:
        return refs[job.job_id]
    return references.find_refs(job.settings, package)


def select_jobs(
    jobs: Iterable[Job], sel: JobSelection, package: str, refs: JobRefs | None = None
) -> list[Job]:
    """Jobs matching the selection. A job matches when its id is listed, or when names/tags are
    given and it matches them all (any name glob and every tag). ``referencing`` keeps only jobs
    that reference the package (all of them when no filter is given). ``refs``: the jobs'
    references when already found."""
    jobs = list(jobs)
    known = {j.job_id for j in jobs}
    missing = [i for i in sel.ids if i not in known]
    if missing:
        raise PlanError(
            f"unknown job id {missing[0]} in jobs.ids",
            "check the id in the Jobs UI, or remove it from wheelship.yml",
        )
    out = []
    for job in sorted(jobs, key=lambda j: j.job_id):
        if _job_excluded(job, sel):
            continue
        by_filter = job.job_id in sel.ids or (
            bool(sel.names or sel.tags) and _matches(job.name, job.tags, sel.names, sel.tags)
        )
        if sel.select == "listed":
            if by_filter:
                out.append(job)
        elif (by_filter or not sel.has_filters) and _refs(job, package, refs):
            out.append(job)
    return out


def _cluster_excluded(cluster: Cluster, sel: ClusterSelection) -> bool:
    return any(
        item == cluster.cluster_id or fnmatch.fnmatchcase(cluster.name, item)
        for item in sel.exclude
    )


def select_clusters(clusters: Iterable[Cluster], sel: ClusterSelection) -> list[Cluster]:
    if sel.mode == "off":
        return []
    clusters = list(clusters)
    by_id = {c.cluster_id: c for c in clusters}
    for cid in sel.ids:
        if cid not in by_id:
            raise PlanError(
                f"unknown cluster id {cid!r} in clusters.ids",
                "check the id in the Compute UI, or remove it from wheelship.yml",
            )
        if not by_id[cid].is_all_purpose:
            raise PlanError(
                f"cluster {cid} is a {by_id[cid].source} cluster, not an all-purpose cluster",
                "job clusters get the wheel from the job's libraries; remove it from clusters.ids",
            )
    out = []
    for c in sorted(clusters, key=lambda c: c.cluster_id):
        if not c.is_all_purpose or _cluster_excluded(c, sel):
            continue
        if c.cluster_id in sel.ids or (
            bool(sel.names or sel.tags) and _matches(c.name, c.tags, sel.names, sel.tags)
        ):
            out.append(c)
    return out


def select_cluster_groups(
    clusters: Iterable[Cluster], target: Target
) -> list[tuple[Cluster, ClusterSelection]]:
    """Every selected cluster with the group that selected it; a cluster in two groups is an
    error (its mode would be ambiguous)."""
    clusters = list(clusters)
    owner: dict[str, int] = {}
    out: list[tuple[Cluster, ClusterSelection]] = []
    groups = target.clusters
    for i, group in enumerate(groups):
        for cluster in select_clusters(clusters, group):
            if cluster.cluster_id in owner:
                j = owner[cluster.cluster_id]
                raise PlanError(
                    f"cluster {cluster.cluster_id} ({cluster.name}) is selected by "
                    f"clusters[{j}] and clusters[{i}]",
                    "narrow the groups (ids, names, tags, exclude) so each cluster has one mode",
                )
            owner[cluster.cluster_id] = i
            out.append((cluster, group))
    return sorted(out, key=lambda pair: pair[0].cluster_id)


# -- versions ----------------------------------------------------------------------------------


def _vkey(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def sort_versions(versions: Iterable[str]) -> list[str]:
    """Newest first."""
    return sorted(set(versions), key=_vkey, reverse=True)


def retained_versions(snap: Snapshot, package: str) -> list[str]:
    """The versions of the package in the artifacts folder, newest first."""
    return sort_versions(
        v
        for f in snap.artifacts or ()
        if (v := references.wheel_version(f.name, package)) is not None
    )


def job_versions(job: Job, package: str, refs: JobRefs | None = None) -> list[str]:
    return sort_versions(references.versions_of(_refs(job, package, refs)))


class PackageLibrary(NamedTuple):
    """A cluster library of the package and the version it pins (None: unpinned)."""

    status: LibraryStatus
    version: str | None


def package_libraries(cluster: Cluster, package: str) -> list[PackageLibrary]:
    out = []
    for st in cluster.libraries:
        found = references.library_ref(st.library, package)
        if found:
            out.append(PackageLibrary(st, found.version))
    return out


def cluster_versions(cluster: Cluster, package: str) -> list[str]:
    """Versions that are loaded now (running clusters, including ones marked for uninstall) or
    will be loaded at the next start (terminated clusters)."""
    live = set()
    for st, version in package_libraries(cluster, package):
        if version is None or st.status == "FAILED":
            continue
        if st.status == UNINSTALL_ON_RESTART and not cluster.is_active:
            continue
        live.add(version)
    return sort_versions(live)


# -- the plan ----------------------------------------------------------------------------------


def _plan_cluster(
    cluster: Cluster,
    sel: ClusterSelection,
    package: str,
    new_lib: Mapping[str, Any],
    snap: Snapshot,
) -> ClusterChange | None:
    libs = package_libraries(cluster, package)
    staying = [st for st, _v in libs if st.status != UNINSTALL_ON_RESTART]
    has_new = any(references.installs(st.library, new_lib["whl"]) for st in staying)
    others = [st for st in staying if not references.installs(st.library, new_lib["whl"])]
    pending_removal = [st for st, _v in libs if st.status == UNINSTALL_ON_RESTART]
    install = () if has_new else (dict(new_lib),)
    uninstall = tuple(dict(st.library) for st in others)
    loaded_other = bool(uninstall) or bool(pending_removal)
    assert sel.mode != "off", "select_cluster_groups leaves out groups in mode off"
    waits = sel.mode == "automated" and (cluster.is_active or cluster.state in STARTING_STATES)
    if not install and not uninstall and not (cluster.is_active and pending_removal):
        new = next(st for st in staying if references.installs(st.library, new_lib["whl"]))
        if not waits or sel.wait <= 0:
            return None
        if cluster.state in STARTING_STATES:
            why = f"{cluster.state.lower()}: waiting for it to run the new version"
        elif new.status not in SETTLED_STATUSES:
            why = f"the new version is {new.status}: waiting for INSTALLED"
        elif new.status == "FAILED":
            why = "the new version FAILED to install" + (
                f": {new.messages[0]}" if new.messages else ""
            )
        else:
            return None
        return ClusterChange(
            cluster_id=cluster.cluster_id,
            name=cluster.name,
            state=cluster.state,
            mode=sel.mode,
            access_mode=cluster.access_mode,
            install=(),
            uninstall=(),
            restart=False,
            restart_policy=sel.restart,
            wait=sel.wait,
            note=why,
            versions_before=tuple(cluster_versions(cluster, package)),
            current=tuple(st for st, _v in libs),
        )

    restart = False
    note: str | None = None
    if sel.mode == "manual":
        note = "manual mode: a cluster admin applies the change (see the runbook)"
    elif not cluster.is_active:
        if cluster.state in {"TERMINATED", "TERMINATING"}:
            note = "terminated: the change is queued and applies at the next start"
        else:
            note = f"{cluster.state.lower()}: the change applies when the cluster is running"
    elif loaded_other:
        busy = snap.runs_on(cluster.cluster_id)
        if sel.restart == "never":
            note = "restart: never — the old version stays loaded until the next restart"
        elif sel.restart == "if-idle" and busy:
            runs = ", ".join(f"{r.run_id} ({r.name})" for r in busy[:3])
            note = f"not restarted: busy (active run {runs}) — the old version stays loaded until the next restart"
        else:
            restart = True
            if busy:
                note = f"restart: always — interrupts {len(busy)} active run(s)"
    wait = sel.wait if waits else 0
    return ClusterChange(
        cluster_id=cluster.cluster_id,
        name=cluster.name,
        state=cluster.state,
        mode=sel.mode,
        access_mode=cluster.access_mode,
        install=install,
        uninstall=uninstall,
        restart=restart,
        restart_policy=sel.restart,
        wait=wait,
        note=note,
        versions_before=tuple(cluster_versions(cluster, package)),
        current=tuple(st for st, _v in libs),
    )


def _retention(
    target: Target,
    release: Release,
    snap: Snapshot,
    refs_after: JobRefs,
    cluster_changes: Iterable[ClusterChange],
    warnings: list[str],
    live_before: Iterable[str],
) -> tuple[list[Deletion], list[Kept]]:
    """``refs_after``: every job's references once this deploy has repointed it."""
    wheels: dict[str, str] = {}
    for f in snap.artifacts or ():
        version = references.wheel_version(f.name, release.package)
        if version:
            wheels[f.name] = version
    others = [n for n in wheels if n != release.wheel]
    newest = sort_versions(wheels[n] for n in others)[: target.keep]
    # The version this deploy replaces (the newest live on the selected objects before it):
    # whoever was not switched (an unseen job, a run in flight) may still use it, whatever
    # keep says.
    earlier = [wheels[n] for n in others if _vkey(wheels[n]) < _vkey(release.version)]
    previous = set(sort_versions(live_before)[:1] or sort_versions(earlier)[:1])
    files = {f.name: f for f in snap.artifacts or ()}
    min_age = target.min_age_days * 86400
    # Which files stay referenced after this deploy, by whom.
    job_refs: dict[str, str] = {}
    for job in snap.jobs:
        for ref in references.wheels_of(_refs(job, release.package, refs_after)):
            job_refs.setdefault(paths.canonical(ref), f"job {job.job_id} ({job.name})")
    changed = {c.cluster_id: c for c in cluster_changes if c.mutates}
    cluster_refs: dict[str, list[tuple[Cluster, bool]]] = {}
    for cluster in snap.clusters:
        change = changed.get(cluster.cluster_id)
        for st in cluster.libraries:
            whl = st.library.get("whl")
            if not isinstance(whl, str):
                continue
            key = paths.canonical(whl)
            uninstalled = change is not None and (
                st.status == UNINSTALL_ON_RESTART or dict(st.library) in change.uninstall
            )
            # Gone after this deploy only if this deploy uninstalls it AND restarts the cluster;
            # otherwise the entry stays listed (UNINSTALL_ON_RESTART) until the next start.
            goes_away = uninstalled and change is not None and change.restart
            cluster_refs.setdefault(key, []).append((cluster, goes_away))

    deletions: list[Deletion] = []
    kept: list[Kept] = []
    for name in sort_versions_names(wheels):
        version = wheels[name]
        if name == release.wheel:
            continue
        if version in newest:
            kept.append(Kept(name, version, f"one of the {target.keep} newest earlier versions"))
            continue
        if version in previous:
            kept.append(Kept(name, version, "the version live before this deploy"))
            continue
        modified = files[name].modified
        if min_age and (modified is None or snap.now - modified < min_age):
            age = f"{(snap.now - modified) / 86400:.1f} days old" if modified else "age unknown"
            kept.append(
                Kept(name, version, f"younger than min_age_days {target.min_age_days} ({age})")
            )
            continue
        path = paths.join(target.artifacts, name)
        key = paths.canonical(path)
        if key in job_refs:
            kept.append(Kept(name, version, f"still referenced by {job_refs[key]}"))
            warnings.append(f"retention keeps {name}: still referenced by {job_refs[key]}")
            continue
        holders = cluster_refs.get(key, [])
        staying = [c for c, goes in holders if not goes]
        if staying:
            who = f"cluster {staying[0].cluster_id} ({staying[0].name})"
            kept.append(Kept(name, version, f"still installed on {who}"))
            warnings.append(f"retention keeps {name}: still installed on {who}")
            continue
        deletions.append(
            Deletion(path, name, version, tuple(sorted(c.cluster_id for c, _g in holders)))
        )
    return deletions, kept


def _task_pins(task: Mapping[str, Any], package: str) -> Iterable[tuple[str, str, str]]:
    """``(task key, cluster id, pinned version)`` for tasks (and for_each inner tasks) that run
    on an all-purpose cluster and pin the package."""
    for t in (task, (task.get("for_each_task") or {}).get("task") or {}):
        cid = t.get("existing_cluster_id")
        if not isinstance(cid, str):
            continue
        for lib in t.get("libraries") or []:
            found = references.library_ref(lib, package) if isinstance(lib, Mapping) else None
            if found and found.version:
                yield str(t.get("task_key", "?")), cid, found.version


def _shared_cluster_conflicts(
    snap: Snapshot,
    after_jobs: Mapping[int, Mapping[str, Any]],
    cluster_changes: Iterable[ClusterChange],
    release: Release,
) -> list[str]:
    """Job tasks that install the package on an all-purpose cluster which, after this deploy,
    still has another version loaded: their runs fail with ERROR_DUPLICATE_INSTALLATION until
    the cluster is restarted (or the job is moved)."""
    package = release.package
    changes = {c.cluster_id: c for c in cluster_changes}
    clusters = {c.cluster_id: c for c in snap.clusters}
    out: list[str] = []
    for job in snap.jobs:
        settings = after_jobs.get(job.job_id, job.settings)
        for task in settings.get("tasks") or []:
            for key, cid, pinned in _task_pins(task, package):
                cluster = clusters.get(cid)
                if cluster is None:
                    continue
                change = changes.get(cid)
                if (
                    change is not None
                    and change.mutates
                    and (change.restart or not cluster.is_active)
                ):
                    loaded = {release.version}
                else:
                    loaded = set(cluster_versions(cluster, package))
                others = sort_versions(v for v in loaded if not references.same_version(v, pinned))
                if others:
                    out.append(
                        f"job {job.job_id} ({job.name}): task {key} installs {package} {pinned} on "
                        f"cluster {cid} ({cluster.name}), which has {', '.join(others)} loaded: "
                        "its runs fail (ERROR_DUPLICATE_INSTALLATION) until the job and "
                        "the cluster agree on one version"
                    )
    return out


def sort_versions_names(wheels: Mapping[str, str]) -> list[str]:
    return sorted(wheels, key=lambda n: _vkey(wheels[n]), reverse=True)


def managed_by(job: Job) -> str | None:
    """Where a job's definition lives when it is not the Jobs API: a Databricks Asset Bundle
    (``deployment.kind: BUNDLE``; the UI shows such jobs ``edit_mode: UI_LOCKED``) or a file in
    git (``git_source.job_source``). None for an ordinary job."""
    settings = job.settings
    deployment = settings.get("deployment") or {}
    if isinstance(deployment, Mapping) and deployment.get("kind") == "BUNDLE":
        where = deployment.get("metadata_file_path")
        return "deployed by a Databricks Asset Bundle" + (f" ({where})" if where else "")
    if isinstance(deployment, Mapping) and deployment.get("kind"):
        # the SDK's JobDeploymentKind also has SYSTEM_MANAGED: a job Databricks manages itself
        return f"managed by Databricks (deployment.kind: {deployment.get('kind')})"
    if settings.get("edit_mode") == "UI_LOCKED":
        return "locked for editing (edit_mode: UI_LOCKED, as bundles leave their jobs)"
    source = (settings.get("git_source") or {}).get("job_source")
    if isinstance(source, Mapping):
        return f"defined in git ({source.get('job_config_path') or 'a job source file'})"
    return None


def _job_filters(sel: JobSelection, package: str) -> str:
    parts = []
    if sel.ids:
        parts.append("ids " + ", ".join(str(i) for i in sel.ids))
    if sel.names:
        parts.append("names " + ", ".join(sel.names))
    if sel.tags:
        parts.append("tags " + ", ".join(f"{k}={v}" for k, v in sel.tags.items()))
    what = " and ".join(parts)
    if sel.select == "referencing":
        return f" that references {package}" + (f" ({what})" if what else "")
    return f" ({what})" if what else ""


def _find_job(jobs: Iterable[Job], ref: int | str, what: str) -> Job:
    jobs = list(jobs)
    if isinstance(ref, int):
        for job in jobs:
            if job.job_id == ref:
                return job
        raise PlanError(f"{what}: unknown job id {ref}", "check the id in the Jobs UI")
    found = [j for j in jobs if j.name == ref]
    if not found:
        raise PlanError(f"{what}: no job named {ref!r}", "check the job name, or use its id")
    if len(found) > 1:
        ids = ", ".join(str(j.job_id) for j in found)
        raise PlanError(f"{what}: {len(found)} jobs are named {ref!r} ({ids})", "use the job id")
    return found[0]


def plan(
    target: Target,
    release: Release,
    snap: Snapshot,
    *,
    action: Action = "deploy",
    denied: Mapping[tuple[str, str], str] | None = None,
    refs: JobRefs | None = None,
) -> Plan:
    """``denied``: ``(kind, id) -> why`` of the objects the deploy identity may not change and
    the target skips (``skip_denied``): they stay as they are, named in the plan. ``refs``: the
    snapshot's :func:`job_refs` when already found (several plans of one snapshot)."""
    denied = denied or {}
    package = release.package
    artifact = paths.join(target.artifacts, release.wheel)
    warnings: list[str] = []

    # 1. the artifact: uploaded once, never overwritten with other bytes.
    upload: Upload | None = None
    existing = snap.artifact(release.wheel)
    sha256 = release.sha256
    if existing is not None:
        remote_sha = snap.digests.get(release.wheel)
        if release.local and (
            existing.size != release.size
            or (remote_sha is not None and remote_sha != release.sha256)
        ):
            raise PlanError(
                f"{artifact} already exists with different bytes "
                f"({existing.size} bytes, sha256 {remote_sha or 'unknown'}; the build has "
                f"{release.size} bytes, sha256 {release.sha256})",
                "a released version is never overwritten: release a new version",
            )
        sha256 = sha256 or remote_sha
    elif release.local:
        assert release.size is not None and release.sha256 is not None
        upload = Upload(
            artifact, release.wheel, release.size, release.sha256, snap.artifacts is None
        )
    else:
        retained = retained_versions(snap, package)
        raise PlanError(
            f"version {release.version} is not retained in {target.artifacts}",
            f"roll back to one of: {', '.join(retained)}"
            if retained
            else "no version is retained there",
        )

    # 2. jobs: every pinned reference to the package, nothing else.
    refs = refs if refs is not None else job_refs(snap.jobs, package)
    selected = select_jobs(snap.jobs, target.jobs, package, refs)
    if not selected and not target.jobs.allow_empty and action != "runbook":
        raise PlanError(
            f"targets.{target.name}.jobs: the selection matches no job{_job_filters(target.jobs, package)}",
            "fix the selection (a job named here must exist and be visible to the deploy "
            "identity), or set jobs.allow_empty: true to deploy to clusters only",
        )
    skipped: list[Skipped] = []
    job_changes: list[JobChange] = []
    after_jobs: dict[int, Mapping[str, Any]] = {}
    refs_after: dict[int, Sequence[Ref]] = dict(refs)
    unchanged_jobs = 0
    for job in selected:
        refused = denied.get(("job", str(job.job_id)))
        if refused is not None:
            if references.rewrite(job.settings, package, release.version, artifact):
                skipped.append(Skipped("job", str(job.job_id), job.name, refused))
                warnings.append(_denied_warning(skipped[-1]))
            else:
                unchanged_jobs += 1
            continue
        why = managed_by(job)
        if why is not None and target.jobs.managed == "skip":
            if job.job_id in target.jobs.ids:
                raise PlanError(
                    f"job {job.job_id} ({job.name}) is {why}: a change made here is reverted by "
                    "its next deploy from there",
                    "update the wheel reference where the job is defined and remove the id from "
                    "jobs.ids, or set jobs.managed: rewrite if you mean it",
                )
            if references.rewrite(job.settings, package, release.version, artifact):
                skipped.append(Skipped("job", str(job.job_id), job.name, f"{why}: skipped"))
                warnings.append(
                    f"job {job.job_id} ({job.name}) is {why}: skipped — change its wheel "
                    "reference there (or set jobs.managed: rewrite)"
                )
            else:
                unchanged_jobs += 1
            continue
        found = refs[job.job_id]
        if not found:
            warnings.append(f"job {job.job_id} ({job.name}) does not reference {package}")
        for ref in found:
            if not ref.is_pinned:
                warnings.append(
                    f"job {job.job_id} ({job.name}): {ref.location} = {ref.value!r} does not pin a "
                    f"version; left as is"
                )
        rw = references.rewrite(job.settings, package, release.version, artifact)
        if not rw:
            unchanged_jobs += 1
            continue
        # read only (shares the job's settings): no copy of each job's settings
        after = after_jobs[job.job_id] = references.rewritten(job.settings, rw)
        refs_after[job.job_id] = references.find_refs(after, package)
        job_changes.append(
            JobChange(
                job.job_id,
                job.name,
                rw.changes,
                rw.taken_settings(),  # rw is dropped here: no second copy
                tuple(job_versions(job, package, refs)),
                settings_digest(job.settings),
            )
        )
    selected_ids = {j.job_id for j in selected}
    stray = [
        j
        for j in snap.jobs
        if j.job_id not in selected_ids
        and any(v != release.version for v in references.versions_of(refs[j.job_id]))
    ]
    if stray:
        names = ", ".join(f"{j.job_id} ({j.name})" for j in stray[:5])
        more = f" and {len(stray) - 5} more" if len(stray) > 5 else ""
        warnings.append(f"not selected, so left on other versions of {package}: job {names}{more}")

    # 3. clusters
    for i, group in enumerate(target.cluster_groups):
        if not group.allow_empty and not select_clusters(snap.clusters, group):
            raise PlanError(
                f"targets.{target.name}.clusters{f'[{i}]' if len(target.cluster_groups) > 1 else ''}: "
                f"the {group.mode} group matches no all-purpose cluster",
                "fix ids/names/tags (the cluster must be visible to the deploy identity), or set "
                "allow_empty: true on the group",
            )
    cluster_changes: list[ClusterChange] = []
    unchanged_clusters = 0
    new_lib = {"whl": artifact}
    for cluster, group in select_cluster_groups(snap.clusters, target):
        change = _plan_cluster(cluster, group, package, new_lib, snap)
        refused = denied.get(("cluster", cluster.cluster_id))
        if refused is not None and change is not None and change.mode == "automated":
            skipped.append(Skipped("cluster", cluster.cluster_id, cluster.name, refused))
            warnings.append(_denied_warning(skipped[-1]))
            continue
        if change is None:
            unchanged_clusters += 1
            continue
        cluster_changes.append(change)
        if (
            change.note
            and change.mode == "automated"
            and cluster.is_active
            and change.needs_restart
            and not change.restart
        ):
            warnings.append(f"cluster {change.label}: {change.note}")

    warnings += _shared_cluster_conflicts(snap, after_jobs, cluster_changes, release)

    # 4. retention
    live_before = {
        v
        for job in selected
        for v in job_versions(job, package, refs)
        if not references.same_version(v, release.version)
    } | {
        v
        for c in cluster_changes
        for v in c.versions_before
        if not references.same_version(v, release.version)
    }
    newer = [v for v in live_before if _vkey(v) > _vkey(release.version)]
    if action == "deploy" and newer:
        # a deploy that waited for the lock, or an earlier pipeline re-run, may mean it; a
        # reader of the log must not take it for an upgrade
        warnings.append(
            f"{release.version} is older than {sort_versions(newer)[0]}, which is live now: this "
            f"deploy goes back to {release.version}"
        )
    deletions, kept = _retention(
        target, release, snap, refs_after, cluster_changes, warnings, live_before
    )
    not_admin = not_admin_note(snap, target)
    if not_admin:
        warnings.append(not_admin)

    # 5. smoke
    smoke = None
    if target.smoke is not None:
        job = _find_job(snap.jobs, target.smoke.job, f"targets.{target.name}.smoke.job")
        smoke = SmokeRun(job.job_id, job.name, target.smoke.timeout)
        if job.job_id not in selected_ids:
            # A smoke run of a job the deploy leaves alone passes or fails on the old version.
            versions = sorted(references.referenced_versions(job.settings, package))
            on = (
                f"it references {package} {', '.join(versions)}"
                if versions
                else f"it does not reference {package}"
            )
            warnings.append(
                f"smoke job {job.job_id} ({job.name}) is not among the jobs this deploy repoints "
                f"({on}), so its run does not test {release.version} — add it to "
                f"targets.{target.name}.jobs, or name a selected job in smoke.job"
            )

    return Plan(
        target=target.name,
        host=snap.host,
        package=package,
        version=release.version,
        action=action,
        artifact=artifact,
        sha256=sha256,
        size=release.size if release.size is not None else (existing.size if existing else None),
        upload=upload,
        jobs=tuple(job_changes),
        clusters=tuple(cluster_changes),
        deletions=tuple(deletions),
        kept=tuple(kept),
        smoke=smoke,
        warnings=tuple(warnings),
        unchanged_jobs=unchanged_jobs,
        unchanged_clusters=unchanged_clusters,
        skipped=tuple(skipped),
    )


# -- status ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectStatus:
    kind: Literal["job", "cluster"]
    id: str
    name: str
    versions: tuple[str, ...]
    detail: str = ""
    #: clusters: the group's mode (the hand-off issue follows the manual ones); jobs: ""
    mode: ClusterMode | Literal["off", ""] = ""


@dataclass(frozen=True)
class Status:
    target: str
    host: str
    package: str
    objects: tuple[ObjectStatus, ...]
    retained: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def live(self) -> tuple[str, ...]:
        return tuple(sort_versions(v for o in self.objects for v in o.versions))

    @property
    def drift(self) -> bool:
        return len(self.live) > 1

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = plain(self)
        data["live"] = list(self.live)
        data["drift"] = self.drift
        return data


def not_admin_note(snap: Snapshot, target: Target) -> str | None:
    """What it means for retention that the identity may not see every job."""
    who = snap.identity
    if who is None or who.is_admin:
        return None
    return (
        f"the deploy identity {who.name} is not a workspace admin: jobs it may not see are "
        "missing from this view, so retention cannot tell whether they use an old wheel; it "
        "always keeps the version live before a deploy and wheels younger than "
        f"{target.min_age_days} day(s) (min_age_days) — raise them if such jobs exist"
    )


def status(target: Target, package: str, snap: Snapshot, *, refs: JobRefs | None = None) -> Status:
    """``refs``: the jobs' references when already found (see :func:`job_refs`)."""
    refs = refs if refs is not None else job_refs(snap.jobs, package)
    objects: list[ObjectStatus] = []
    for job in select_jobs(snap.jobs, target.jobs, package, refs):
        unpinned = [r for r in _refs(job, package, refs) if not r.is_pinned]
        detail = f"{len(unpinned)} unpinned reference(s)" if unpinned else ""
        objects.append(
            ObjectStatus(
                "job", str(job.job_id), job.name, tuple(job_versions(job, package, refs)), detail
            )
        )
    for cluster, group in select_cluster_groups(snap.clusters, target):
        details = []
        for st, version in package_libraries(cluster, package):
            if st.status not in {"INSTALLED"}:
                msg = f"{version or st.library}: {st.status}"
                if st.messages:
                    msg += f" ({st.messages[0]})"
                details.append(msg)
        objects.append(
            ObjectStatus(
                "cluster",
                cluster.cluster_id,
                cluster.name,
                tuple(cluster_versions(cluster, package)),
                f"{cluster.state}" + (f"; {'; '.join(details)}" if details else ""),
                group.mode,
            )
        )
    retained = retained_versions(snap, package)
    note = not_admin_note(snap, target)
    return Status(
        target.name, snap.host, package, tuple(objects), tuple(retained), (note,) if note else ()
    )


def current_version(st: Status) -> str | None:
    """The newest live version (what rollback goes back from)."""
    return st.live[0] if st.live else None


def previous_version(st: Status) -> str | None:
    """The newest retained version older than the newest live one."""
    current = current_version(st)
    if current is None:
        return None
    older = [v for v in st.retained if _vkey(v) < _vkey(current)]
    return older[0] if older else None


class RollbackChoice(NamedTuple):
    """The retained version a rollback goes back to, and its file in the artifacts folder."""

    version: str
    wheel: str


def rollback_choice(target: Target, package: str, snap: Snapshot, to: str | None) -> RollbackChoice:
    """``to``, else the newest retained version older than the newest live one."""
    st = status(target, package, snap)
    version = to or previous_version(st)
    if version is None:
        current = current_version(st)
        raise PlanError(
            f"no earlier version of {package} is retained in {target.artifacts}"
            + (f" (live: {current})" if current else ""),
            "name a version with --to, or deploy a build instead",
        )
    wheels = sorted(
        f.name
        for f in snap.artifacts or ()
        if (v := references.wheel_version(f.name, package)) is not None
        and references.same_version(v, version)
    )
    if not wheels:
        raise PlanError(
            f"version {version} is not retained in {target.artifacts}",
            f"roll back to one of: {', '.join(st.retained)}"
            if st.retained
            else "no version is retained there",
        )
    return RollbackChoice(version, wheels[0])


# -- permissions -------------------------------------------------------------------------------


class Needed(NamedTuple):
    """A permission the plan needs on one object."""

    kind: Literal["job", "cluster"]
    id: str
    name: str
    level: str


def permissions_needed(plan: Plan) -> list[Needed]:
    """What the deploy identity must hold for every change of the plan: CAN_MANAGE to edit a
    job or a cluster's libraries, CAN_RESTART to restart a cluster, CAN_MANAGE_RUN to start the
    smoke run."""
    out = [Needed("job", str(j.job_id), j.name, "CAN_MANAGE") for j in plan.jobs]
    for c in plan.automated_clusters:
        level = "CAN_MANAGE" if c.install or c.uninstall else "CAN_RESTART"
        out.append(Needed("cluster", c.cluster_id, c.name, level))
    if plan.smoke is not None:
        out.append(Needed("job", str(plan.smoke.job_id), plan.smoke.name, "CAN_MANAGE_RUN"))
    return out


# -- convergence -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Convergence:
    """Where a deploy left the target, read back from the workspace: ``problems`` make it a
    failure; ``pending`` are accepted states the report names (a terminated cluster's queued
    install, a restart the cluster's policy deferred, an object the plan skipped)."""

    objects: tuple[ObjectStatus, ...]
    problems: tuple[str, ...]
    pending: tuple[str, ...]
    #: clusters whose only problem is that they are still on the way (restarting, installing):
    #: the deploy waits for them before it calls the target not converged
    settling: tuple[str, ...] = ()

    @property
    def converged(self) -> bool:
        return not self.problems

    @property
    def only_settling(self) -> bool:
        return bool(self.problems) and len(self.problems) == len(self.settling)


def deferred_restarts(plan: Plan) -> frozenset[str]:
    """Clusters whose restart policy (never, or if-idle while busy) leaves the old version
    loaded until their next restart."""
    return frozenset(
        c.cluster_id
        for c in plan.clusters
        if c.mode == "automated" and not c.restart and c.needs_restart
    )


def convergence(
    target: Target, plan: Plan, snap: Snapshot, *, deferred: Iterable[str] = ()
) -> Convergence:
    """Whether every selected job references only ``plan.version`` and every automated cluster
    has it INSTALLED with no other version loaded."""
    package, version = plan.package, plan.version
    skipped = {(s.kind, s.id): s for s in plan.skipped}
    deferred = frozenset(deferred) | deferred_restarts(plan)
    problems: list[str] = []
    pending: list[str] = []
    settling: list[str] = []
    refs = job_refs(snap.jobs, package)
    for job in select_jobs(snap.jobs, target.jobs, package, refs):
        others = [
            v for v in job_versions(job, package, refs) if not references.same_version(v, version)
        ]
        label = f"job {job.job_id} ({job.name})"
        if not others:
            continue
        skip = skipped.get(("job", str(job.job_id)))
        if skip is not None:
            pending.append(f"{label}: {skip.reason} — still on {', '.join(others)}")
        else:
            problems.append(f"{label} references {', '.join(others)}")
    for cluster, group in select_cluster_groups(snap.clusters, target):
        if group.mode != "automated":
            continue
        label = f"cluster {cluster.cluster_id} ({cluster.name})"
        skip = skipped.get(("cluster", cluster.cluster_id))
        if skip is not None:
            pending.append(f"{label}: {skip.reason}")
            continue
        libs = package_libraries(cluster, package)
        new = [
            lib.status
            for lib in libs
            if references.installs(lib.status.library, plan.artifact)
            and lib.status.status != UNINSTALL_ON_RESTART
        ]
        loaded = sorted(
            {
                lib.version or references.library_label(lib.status.library, package)
                for lib in libs
                if lib.status not in new
                and lib.status.status not in {"FAILED", "SKIPPED"}
                and (cluster.is_active or lib.status.status != UNINSTALL_ON_RESTART)
            }
        )
        if not new:
            problems.append(f"{label}: {version} is not installed")
            continue
        got = new[0].status
        if not cluster.is_active and cluster.state not in STARTING_STATES:
            if loaded:
                problems.append(f"{label} ({cluster.state}): {', '.join(loaded)} also queued")
            else:
                pending.append(f"{label} ({cluster.state}): {version} installs at the next start")
            continue
        waited = group.wait > 0
        if cluster.state in STARTING_STATES:
            (problems if waited else pending).append(f"{label}: still {cluster.state}")
            if waited:
                settling.append(cluster.cluster_id)
            continue
        if loaded:
            if cluster.cluster_id in deferred:
                pending.append(
                    f"{label}: {', '.join(loaded)} stays loaded until its next restart "
                    f"(restart: {group.restart})"
                )
                continue
            problems.append(f"{label}: {', '.join(loaded)} still loaded next to {version}")
            continue
        if got == "FAILED":
            why = new[0].messages[0] if new[0].messages else "no message"
            problems.append(f"{label}: {version} FAILED to install: {why}")
        elif got != "INSTALLED":
            (problems if waited else pending).append(f"{label}: {version} still {got}")
            if waited:
                settling.append(cluster.cluster_id)
    st = status(target, package, snap, refs=refs)
    return Convergence(st.objects, tuple(problems), tuple(pending), tuple(settling))

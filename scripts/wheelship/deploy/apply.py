"""Apply a plan: its ordered, idempotent, named steps, and nothing else.

Order protects users: the wheel is uploaded and verified before any job points at it; jobs are
repointed before clusters change; old wheels go last, and only when nothing references them.
Each step is idempotent, so a deploy interrupted anywhere is finished by running it again.

Apply decides nothing the plan has not decided, with two guards that re-read the workspace right
before acting: an ``if-idle`` restart re-checks that no run is active on the cluster; a file is
deleted only if the clusters the plan expected to drop it really did. A deploy reads the
workspace and plans immediately before applying, so job updates carry the task entries as they
were read seconds earlier.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wheelship import log
from wheelship.databricks import clusters, jobs, paths
from wheelship.databricks.client import Client, in_step
from wheelship.databricks.model import ACTIVE_STATES, SETTLED_STATUSES, Job, JobPage, LibraryStatus
from wheelship.databricks.storage import AlreadyExists, Storage
from wheelship.deploy import plan as planning
from wheelship.deploy import references
from wheelship.deploy.plan import (
    UNINSTALL_ON_RESTART,
    ClusterChange,
    Convergence,
    Deletion,
    JobChange,
    Plan,
)
from wheelship.deploy.readback import ReadBack
from wheelship.errors import DatabricksError, NotConverged

Outcome = Literal["done", "unchanged", "skipped", "queued", "pending-restart", "failed"]
#: How a cluster ended: the library's status, or what wheelship concluded.
ClusterState = Literal[
    "INSTALLED", "FAILED", "SKIPPED", "RESTORED", "PENDING_RESTART", "QUEUED", "TIMEOUT", "CHANGED"
]


@dataclass
class StepResult:
    step: str
    obj: str
    outcome: Outcome
    detail: str = ""
    seconds: float = 0.0


@dataclass
class ClusterOutcome:
    cluster_id: str
    name: str
    state: ClusterState
    restarted: bool
    libraries: list[dict[str, Any]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


@dataclass
class ApplyResult:
    steps: list[StepResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    clusters: list[ClusterOutcome] = field(default_factory=list)
    smoke: dict[str, Any] | None = None
    phases: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    requests: int = 0  # sent while applying
    requests_total: int = 0  # sent by the whole command, reads included
    request_counts: dict[str, int] = field(default_factory=dict)  # per endpoint, retries included
    error: str | None = None
    #: read back after the changes: which object is on which version, what is still pending
    versions: list[dict[str, Any]] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: how the jobs were read right before their update: "pages" (the list, streamed into the
    #: updates) or "get" (a jobs/get each); the oldest read a job was written from, in seconds
    job_reads: str = ""
    oldest_read: float = 0.0

    @property
    def changed(self) -> int:
        return sum(1 for s in self.steps if s.outcome == "done")


@dataclass(frozen=True)
class Timing:
    """Polling cadence for waits (tests shorten it; the workspace's own pace sets the rest)."""

    first: float = 2.0
    longest: float = 10.0
    progress_every: float = 30.0


#: Reads the target back: ``(deferred cluster ids, the jobs if already read back or None)``.
Verify = Callable[[frozenset[str], Sequence[Job] | None], Convergence]

#: A job is written from a read at most this old. A page read longer ago (its updates waited
#: for a worker, or a retry delayed one) is replaced by a ``jobs/get`` right before the write.
FRESH_FOR = 1.0


class StepLimit(Exception):
    """Raised after ``max_steps`` steps, to test interrupted deploys."""


class Applier:
    def __init__(
        self,
        client: Client,
        storage: Storage,
        plan: Plan,
        *,
        dist: Path | None = None,
        command: str = "deploy",
        timing: Timing | None = None,
        max_steps: int | None = None,
        verify: Verify | None = None,
        pages: Sequence[JobPage] = (),
        selected: Collection[int] = (),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.storage = storage
        self.plan = plan
        self.dist = dist
        self.command = command
        self.timing = timing or Timing()
        self.max_steps = max_steps
        self.verify = verify
        self.pages = tuple(pages)
        self.selected = frozenset(selected)
        self.clock = clock
        self.sleep = sleep
        self.result = ApplyResult()
        self._steps_started = 0
        self._lock = threading.Lock()
        self._repointed: list[tuple[JobChange, dict[str, Any]]] = []
        self._run_token = uuid.uuid4().hex
        self._written_at: dict[int, float] = {}
        self._readback: ReadBack | None = None

    # -- helpers -------------------------------------------------------------------------------

    def _record(self, step: str, obj: str, outcome: Outcome, detail: str, started: float) -> None:
        self.result.steps.append(
            StepResult(step, obj, outcome, detail, round(self.clock() - started, 3))
        )
        if outcome in {"done", "failed"}:
            log.info(f"  {step} {obj}: {detail or outcome}")

    def _count_step(self) -> None:
        self._steps_started += 1
        if self.max_steps is not None and self._steps_started > self.max_steps:
            raise StepLimit(self._steps_started)

    @contextmanager
    def _phase(self, key: str, title: str) -> Iterator[None]:
        started = self.clock()
        with log.section(f"wheelship_{self.command}_{key}", title):
            try:
                yield
            finally:
                self.result.phases[key] = round(self.clock() - started, 3)

    def _step(self, name: str) -> str:
        return f"{self.command}: {name}"

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> ApplyResult:
        started = self.clock()
        before = self.client.requests_sent
        try:
            self._run()
        except DatabricksError as exc:
            self._stop_readback()
            self.result.error = str(exc)
            self._state_after_failure()
            raise
        finally:
            self._stop_readback()
            self.result.seconds = round(self.clock() - started, 3)
            self.result.requests = self.client.requests_sent - before
        return self.result

    def _run(self) -> None:
        plan = self.plan
        if plan.upload:
            with self._phase("upload", f"Upload {plan.upload.wheel}"):
                self._upload()
        if plan.jobs:
            with self._phase(
                "jobs", f"Repoint {len(plan.jobs)} job(s) to {plan.package} {plan.version}"
            ):
                self._jobs()
        self._start_readback()  # the jobs are final: read them back alongside the clusters
        clusters = (*plan.automated_clusters, *plan.settling_clusters)
        if clusters:
            with self._phase("clusters", f"Update {len(clusters)} cluster(s)"):
                self._clusters(clusters)
        if plan.deletions:
            with self._phase("retention", f"Delete {len(plan.deletions)} old wheel(s)"):
                self.client.map(self._delete, plan.deletions)
        if self.verify is not None:
            with self._phase("verify", f"Check that everything is on {plan.version}"):
                self._verify(self.verify)
        if plan.smoke:
            with self._phase("smoke", f"Smoke run of job {plan.smoke.name}"):
                self._smoke()

    # -- 1. upload -----------------------------------------------------------------------------

    def _upload(self) -> None:
        up = self.plan.upload
        assert up is not None and self.dist is not None
        local = self.dist / up.wheel
        started = self.clock()
        self._count_step()
        outcome: Outcome
        with in_step(self._step("upload"), up.path):
            try:
                self.storage.upload(up.wheel, local, create_folder=up.create_folder)
                outcome, detail = "done", f"uploaded {up.size} bytes"
            except AlreadyExists:
                outcome, detail = "unchanged", "already there"
            size, digest = self.storage.digest(up.wheel)
            if (size, digest) != (up.size, up.sha256):
                if outcome == "done":
                    # Nothing references the file yet: remove the bad copy so a rerun can retry.
                    self.storage.delete(up.wheel)
                    raise DatabricksError(
                        f"verification failed: the workspace holds {size} bytes with sha256 {digest}, "
                        f"expected {up.size} bytes with sha256 {up.sha256}",
                        "run the deploy again; if it repeats, check for a proxy rewriting uploads",
                    )
                raise DatabricksError(
                    f"{up.path} already exists with different bytes (sha256 {digest})",
                    "a released version is never overwritten: release a new version",
                )
            self._record(
                "upload", up.path, outcome, detail + f"; verified sha256 {digest[:12]}…", started
            )

    # -- 2. jobs -------------------------------------------------------------------------------

    def _jobs(self) -> None:
        """Repoint the jobs; a failure that retries did not cure puts the jobs already
        repointed back, so the deploy stops with every job on one version."""
        pages = self._pages_to_read()
        try:
            if pages is not None:
                self.result.job_reads = "pages"
                self._repoint_streamed(pages)
            else:
                self.result.job_reads = "get"
                self.client.map(self._repoint, self.plan.jobs)
        except DatabricksError as exc:
            done = list(self._repointed)
            if not done:
                raise
            restored = self._restore(done)
            exc.what += (
                f"; {restored} of {len(done)} job(s) already repointed were put back"
                if restored == len(done)
                else f"; only {restored} of {len(done)} job(s) already repointed could be put "
                "back: the others are on the new version (see deploy-report.md)"
            )
            raise

    def _pages_to_read(self) -> list[JobPage] | None:
        """The pages of the plan's read that hold a job to change, to read again right before
        their jobs' writes, when that takes fewer round trips than a ``jobs/get`` per job (the
        pages are read one after another, the gets ``concurrency`` at a time); else None."""
        wanted = {c.job_id for c in self.plan.jobs}
        pages = [p for p in self.pages if wanted.intersection(p.job_ids)]
        if not pages or len(pages) > max(1, 2 * len(wanted) // self.client.concurrency):
            return None
        return pages

    def _repoint_streamed(self, pages: list[JobPage]) -> None:
        """The job phase page by page: each page is read right before the updates of its jobs
        start, so a job is written from a read as fresh as a ``jobs/get`` would give, and the
        next page is read while those updates run. A job the page no longer shows (the list
        shifted), or a page that cannot be read again, falls back to ``jobs/get``."""
        wanted = {c.job_id: c for c in self.plan.jobs}
        order = {c.job_id: i for i, c in enumerate(self.plan.jobs)}
        workers = self.client.concurrency
        stop = threading.Event()

        def one(change: JobChange, fresh: Job | None = None, read_at: float | None = None) -> None:
            if stop.is_set():
                return  # a job failed: no new write starts (those in flight finish)
            try:
                self._repoint(change, fresh, read_at)
            except BaseException:
                stop.set()
                raise

        pool = ThreadPoolExecutor(max_workers=workers)
        futures: list[Future[None]] = []
        try:
            for ref in pages:
                if not wanted.keys() & set(ref.job_ids):
                    continue  # its jobs came on an earlier page
                try:
                    with in_step(self._step("list jobs")):
                        page = jobs.read_page(self.client, ref.token)
                except DatabricksError as exc:
                    self.result.warnings.append(
                        f"a page of jobs/list could not be read again ({exc}); its jobs were "
                        "read with jobs/get"
                    )
                    break
                read_at = self.clock()
                found = [
                    (order[c.job_id], c, e)
                    for e in page
                    if (c := wanted.pop(int(e["job_id"]), None))
                ]
                futures += [
                    pool.submit(
                        one, change, None if jobs.needs_get(entry) else jobs.to_job(entry), read_at
                    )
                    for _i, change, entry in sorted(found, key=lambda f: f[0])  # plan order
                ]
                if not wanted or _failed(futures):
                    break
                # a short queue keeps the workers busy and the reads fresh (FRESH_FOR bounds
                # their age)
                _drain(futures, 2 * workers)
            if not _failed(futures):
                futures += [pool.submit(one, c) for c in wanted.values()]
            wait(futures, return_when=FIRST_EXCEPTION)
            failed = _failed(futures)
            if failed:
                raise failed
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _start_readback(self) -> None:
        """Read the jobs back while the clusters change (see :mod:`wheelship.deploy.readback`)."""
        if self.verify is not None and self._readback is None:
            self._readback = ReadBack(
                self.client, self.pages, self.selected, self.clock, self._step("verify")
            )
            self._readback.start()

    def _stop_readback(self) -> None:
        if self._readback is not None:
            self._readback.cancel()
            self._readback = None

    def _restore(self, done: list[tuple[JobChange, dict[str, Any]]]) -> int:
        restored = 0
        for change, undo in done:
            started = self.clock()
            try:
                with in_step(self._step("restore job"), change.label):
                    jobs.update(self.client, change.job_id, undo)
            except DatabricksError as exc:
                self._record("restore job", change.label, "failed", str(exc), started)
                continue
            restored += 1
            self._record("restore job", change.label, "done", "put back as it was", started)
        return restored

    def _repoint(
        self, change: JobChange, fresh: Job | None = None, read_at: float | None = None
    ) -> None:
        """Write one job from a read taken right before: ``fresh`` (its list entry, read at
        ``read_at``) when recent enough, else a ``jobs/get`` now."""
        started = self.clock()
        self._count_step()
        plan = self.plan
        with in_step(self._step("repoint job"), change.label):
            # Read right before the write: a job edited since the plan read it is planned again
            # from what it is now, so the edit is not overwritten (the Jobs API has no
            # conditional update; the window left is this read's age, at most FRESH_FOR).
            if fresh is None or read_at is None or self.clock() - read_at > FRESH_FOR:
                fresh, read_at = jobs.get(self.client, change.job_id), self.clock()
            current = planning.replan_job(change, fresh, plan)
            if current is None:
                self._record(
                    "repoint job",
                    change.label,
                    "unchanged",
                    "changed meanwhile: already on it",
                    started,
                )
                return
            replanned = current is not change
            age = self.clock() - read_at
            # Complete entries of the changed tasks (``update`` merges tasks by task_key) and the
            # complete environments array: nothing else in the settings is sent.
            jobs.update(self.client, current.job_id, current.new_settings)
            with self._lock:
                self._written_at[current.job_id] = self.clock()
                self.result.oldest_read = round(max(self.result.oldest_read, age), 3)
                self._repointed.append((current, planning.undo_settings(current, fresh.settings)))
        olds = sorted({paths.basename(c.old) if "/" in c.old else c.old for c in current.changes})
        self._record(
            "repoint job",
            change.label,
            "done",
            f"{len(current.changes)} reference(s): {', '.join(olds)} -> {plan.version}"
            + ("; planned again: the job changed since it was read" if replanned else ""),
            started,
        )

    # -- 3. clusters ---------------------------------------------------------------------------

    def _clusters(self, changes: tuple[ClusterChange, ...]) -> None:
        self.client.map(self._libraries, [c for c in changes if c.install or c.uninstall])
        restarts = [c for c in changes if c.restart]
        busy: dict[str, str] = {}
        if any(c.restart_policy == "if-idle" for c in restarts):
            with in_step(self._step("check active runs")):
                for run in jobs.active_runs(self.client):
                    for cid in run.cluster_ids:
                        busy.setdefault(cid, f"{run.run_id} ({run.name})")
        self.client.map(lambda c: self._restart_and_wait(c, busy), changes)
        failed = [o for o in self.result.clusters if o.state in {"FAILED", "TIMEOUT"}]
        if failed:
            first = failed[0]
            what = (
                f"library installation FAILED on {len(failed)} cluster(s), first {first.cluster_id} ({first.name})"
                if first.state == "FAILED"
                else f"cluster {first.cluster_id} ({first.name}) did not settle within the wait"
            )
            detail = f": {first.messages[0]}" if first.messages else ""
            raise DatabricksError(
                what + detail,
                "see deploy-report.md; fix the cause and run the deploy again (old wheels are kept "
                "until every cluster has dropped them)",
                step=self._step("clusters"),
            )

    def _libraries(self, change: ClusterChange) -> None:
        started = self.clock()
        self._count_step()
        with in_step(self._step("update libraries on cluster"), change.label):
            # Uninstall first: a second version of a package next to a loaded one fails to install.
            if change.uninstall:
                clusters.uninstall(self.client, change.cluster_id, change.uninstall)
            if change.install:
                clusters.install(self.client, change.cluster_id, change.install)
        parts = []
        if change.install:
            parts.append(f"install {self.plan.version}")
        if change.uninstall:
            parts.append(
                f"uninstall {', '.join(references.library_label(x, self.plan.package) for x in change.uninstall)}"
            )
        self._record("update libraries on cluster", change.label, "done", "; ".join(parts), started)

    def _restart_and_wait(self, change: ClusterChange, busy: Mapping[str, str]) -> None:
        restarted = False
        if change.restart:
            started = self.clock()
            self._count_step()
            if change.cluster_id in busy and change.restart_policy == "if-idle":
                note = f"not restarted: a run started meanwhile ({busy[change.cluster_id]})"
                self.result.warnings.append(f"cluster {change.label}: {note}")
                self._record("restart cluster", change.label, "skipped", note, started)
            else:
                with in_step(self._step("restart cluster"), change.label):
                    try:
                        clusters.restart(self.client, change.cluster_id)
                        restarted = True
                        self._record(
                            "restart cluster", change.label, "done", "restart requested", started
                        )
                    except DatabricksError as exc:
                        if exc.error_code != "INVALID_STATE":
                            raise
                        note = f"not restarted: {exc.what}"
                        self.result.warnings.append(f"cluster {change.label}: {note}")
                        self._record("restart cluster", change.label, "skipped", note, started)
                        if "terminat" in exc.what.lower():
                            # It stopped meanwhile: the change applies at its next start.
                            self.result.clusters.append(
                                ClusterOutcome(change.cluster_id, change.name, "QUEUED", False)
                            )
                            return
        outcome = self._wait(change, restarted)
        self.result.clusters.append(outcome)

    def _mine(self, statuses: tuple[LibraryStatus, ...]) -> list[LibraryStatus]:
        """The statuses of the package's libraries."""
        return [s for s in statuses if references.library_ref(s.library, self.plan.package)]

    def _settled(self, mine: list[LibraryStatus], restarted: bool) -> tuple[bool, str]:
        new = [
            s
            for s in mine
            if references.installs(s.library, self.plan.artifact)
            and s.status != UNINSTALL_ON_RESTART
        ]
        old = [s for s in mine if s not in new]
        if not new:
            return False, "PENDING"
        status = new[0].status
        if status not in SETTLED_STATUSES:
            return False, status
        if restarted and old:
            return False, f"{status}; old version still listed"
        return True, status

    def _wait(self, change: ClusterChange, restarted: bool) -> ClusterOutcome:
        started = self.clock()
        if change.wait <= 0:
            state: ClusterState = "CHANGED" if change.state in ACTIVE_STATES else "QUEUED"
            return ClusterOutcome(change.cluster_id, change.name, state, restarted)
        label = change.label
        delay = self.timing.first
        last_progress = started
        statuses: tuple[LibraryStatus, ...] = ()
        mine: list[LibraryStatus] = []
        status = "PENDING"
        with in_step(self._step("wait for cluster"), label):
            while True:
                statuses = clusters.library_statuses(self.client, change.cluster_id)
                mine = self._mine(statuses)
                done, status = self._settled(mine, restarted)
                elapsed = self.clock() - started
                if done:
                    break
                if elapsed >= change.wait:
                    self._record(
                        "wait for cluster",
                        label,
                        "failed",
                        f"still {status} after {int(elapsed)} s",
                        started,
                    )
                    return self._outcome(change, "TIMEOUT", restarted, mine)
                if self.clock() - last_progress >= self.timing.progress_every:
                    log.info(
                        f"  cluster {label}: {self.plan.package} {self.plan.version} {status} ({int(elapsed)} s)"
                    )
                    last_progress = self.clock()
                self.sleep(min(delay, max(0.0, change.wait - elapsed)))
                delay = min(self.timing.longest, delay * 1.5)
        outcome = self._outcome(change, _settled_state(status), restarted, mine)
        if not restarted and any(s.status == UNINSTALL_ON_RESTART for s in mine):
            self.result.warnings.append(
                # The new version cannot load next to the old one: it installs at the next restart.
                f"cluster {label}: {self.plan.version} installs at the next restart "
                f"(the old version is still loaded: {_first_message(statuses) or 'UNINSTALL_ON_RESTART'})"
                if outcome.state == "FAILED"
                else f"cluster {label}: the old version is UNINSTALL_ON_RESTART until the next restart"
            )
            outcome.state = "PENDING_RESTART"
        self._record(
            "wait for cluster",
            label,
            "failed" if outcome.state == "FAILED" else "done",
            outcome.state,
            started,
        )
        return outcome

    def _outcome(
        self,
        change: ClusterChange,
        state: ClusterState,
        restarted: bool,
        mine: list[LibraryStatus],
    ) -> ClusterOutcome:
        return ClusterOutcome(
            change.cluster_id,
            change.name,
            state,
            restarted,
            libraries=[
                {"library": dict(s.library), "status": s.status, "messages": list(s.messages)}
                for s in mine
            ],
            messages=[m for s in mine if s.status == "FAILED" for m in s.messages],
        )

    # -- 4. retention --------------------------------------------------------------------------

    def _delete(self, d: Deletion) -> None:
        started = self.clock()
        self._count_step()
        with in_step(self._step("delete"), d.path):
            for cid in d.guard_clusters:
                statuses = clusters.library_statuses(self.client, cid)
                if any(references.installs(s.library, d.path) for s in statuses):
                    note = f"kept: cluster {cid} still lists it"
                    self.result.warnings.append(
                        f"retention kept {d.wheel}: cluster {cid} still lists it"
                    )
                    self._record("delete", d.path, "skipped", note, started)
                    return
            self.storage.delete(d.wheel)
            self._record("delete", d.path, "done", f"deleted {d.version}", started)

    # -- 5. verify -----------------------------------------------------------------------------

    def _state_after_failure(self) -> None:
        """After a failure, say in the report which object is on which version (best effort:
        the workspace that just failed may fail this read too)."""
        if self.verify is None or self.result.versions or not self.result.changed:
            return
        try:
            found = self.verify(frozenset(), None)
        except DatabricksError as exc:
            self.result.warnings.append(f"could not read the state back after the failure: {exc}")
            return
        self._record_state(found)

    def _record_state(self, found: Convergence) -> None:
        self.result.versions = [
            {"kind": o.kind, "id": o.id, "name": o.name, "versions": list(o.versions)}
            for o in found.objects
        ]
        self.result.pending = list(found.pending)
        self.result.problems = list(found.problems)

    def _verify(self, verify: Verify) -> None:
        """Read the target back: exit 0 only when it converged on the version."""
        deferred = frozenset(
            o.cluster_id for o in self.result.clusters if o.state == "PENDING_RESTART"
        ) | frozenset(
            s.obj.split(" ", 1)[0]
            for s in self.result.steps
            if s.step == "restart cluster" and s.outcome == "skipped"
        )
        read_back = self._readback.jobs(self._written_at) if self._readback else None
        self._readback = None
        with in_step(self._step("verify")):
            found = verify(deferred, read_back)
            found = self._settle(found, lambda: verify(deferred, read_back))
        self._record_state(found)
        if found.problems:
            more = f" (and {len(found.problems) - 3} more)" if len(found.problems) > 3 else ""
            raise NotConverged(
                f"{self.plan.package} {self.plan.version} is not live everywhere on "
                f"{self.plan.target}: " + "; ".join(found.problems[:3]) + more,
                f"see deploy-report.md; fix the cause and run '{self.command}' again (it "
                "finishes what is left)",
            )

    def _settle(self, found: Convergence, again: Callable[[], Convergence]) -> Convergence:
        """Wait (up to the clusters' ``wait``) for clusters found still restarting or installing,
        when that is all that stands between the target and convergence — e.g. a restart whose
        answer was lost and that the workspace carried out later. Jobs are not read again."""
        waits = {c.cluster_id: c.wait for c in self.plan.clusters}
        longest = max(waits.values(), default=0)
        budget = max((waits.get(cid, longest) for cid in found.settling), default=0)
        started, delay = self.clock(), self.timing.first
        while found.only_settling and self.clock() - started < budget:
            log.info(
                f"  waiting for {len(found.settling)} cluster(s) still settling: "
                + "; ".join(found.problems[:3])
            )
            self.sleep(min(delay, max(0.0, budget - (self.clock() - started))))
            delay = min(self.timing.longest, delay * 1.5)
            found = again()
        return found

    # -- 6. smoke ------------------------------------------------------------------------------

    def _others(self, job_id: int, mine: int) -> str:
        """The job's other active runs, named (what a queued or skipped smoke run waits for)."""
        runs = [r.run_id for r in jobs.active_runs(self.client, job_id) if r.run_id != mine]
        return _describe_runs(runs)

    def _smoke(self) -> None:
        smoke = self.plan.smoke
        assert smoke is not None
        started = self.clock()
        self._count_step()
        label = f"{smoke.job_id} ({smoke.name})"
        with in_step(self._step("smoke run"), label):
            run_id = jobs.run_now(self.client, smoke.job_id, f"wheelship-{self._run_token}")
            log.info(f"  smoke run {run_id} of job {label} started")
            delay = self.timing.first
            last_progress = started
            queued_behind: str | None = None
            while True:
                # Only our own run counts: other runs of the job (a schedule, a person) are
                # never mistaken for it; they only explain a queue or a skip.
                run = jobs.get_run(self.client, run_id)
                elapsed = self.clock() - started
                if run.finished:
                    break
                if run.queued and queued_behind is None:
                    queued_behind = self._others(smoke.job_id, run_id)
                    log.info(f"  smoke run {run_id} is queued behind {queued_behind}")
                if elapsed >= smoke.timeout:
                    jobs.cancel_run(self.client, run_id)
                    self.result.smoke = {"run_id": run_id, "result": "TIMEDOUT", "url": run.url}
                    waited = (
                        f" (it was queued behind {queued_behind})"
                        if queued_behind and run.queued
                        else ""
                    )
                    raise DatabricksError(
                        f"run {run_id} did not finish within {smoke.timeout} s{waited} (cancelled)",
                        "raise smoke.timeout, or look at the run; roll back with 'wheelship rollback'",
                    )
                if self.clock() - last_progress >= self.timing.progress_every:
                    log.info(f"  smoke run {run_id}: {run.life_cycle_state} ({int(elapsed)} s)")
                    last_progress = self.clock()
                self.sleep(min(delay, max(0.0, smoke.timeout - elapsed)))
                delay = min(self.timing.longest, delay * 1.5)
            result = run.result_state or run.life_cycle_state
            self.result.smoke = {
                "run_id": run_id,
                "result": result,
                "url": run.url,
                "message": run.message,
            }
            if run.life_cycle_state == "SKIPPED":
                others = self._others(smoke.job_id, run_id)
                self._record("smoke run", label, "failed", f"run {run_id}: SKIPPED", started)
                raise DatabricksError(
                    f"run {run_id} was SKIPPED: job {label} was already running {others} and "
                    "takes no more concurrent runs with queueing off"
                    + (f" ({run.message})" if run.message else ""),
                    "enable queue on the smoke job (or raise its max_concurrent_runs), or deploy "
                    "when it is idle; the deploy itself is done",
                )
            if result != "SUCCESS":
                self._record("smoke run", label, "failed", f"run {run_id}: {result}", started)
                raise DatabricksError(
                    f"run {run_id} ended {result}" + (f": {run.message}" if run.message else ""),
                    "look at the run; roll back with 'wheelship rollback --target "
                    + self.plan.target
                    + "'",
                )
            self._record("smoke run", label, "done", f"run {run_id}: SUCCESS", started)


def _failed(futures: list[Future[None]]) -> BaseException | None:
    """The first error of the futures that finished."""
    return next(
        (f.exception() for f in futures if f.done() and not f.cancelled() and f.exception()),
        None,
    )


def _drain(futures: list[Future[None]], most: int) -> None:
    """Wait until at most ``most`` of the futures are still to finish (or one failed)."""
    pending = [f for f in futures if not f.done()]
    while len(pending) > most and not _failed(futures):
        _done, rest = wait(pending, return_when=FIRST_COMPLETED)
        pending = list(rest)


def _describe_runs(runs: list[int]) -> str:
    if not runs:
        return "no other run (they finished meanwhile)"
    shown = ", ".join(str(r) for r in runs[:3])
    return f"run {shown}" + (f" and {len(runs) - 3} more" if len(runs) > 3 else "")


def _settled_state(status: str) -> ClusterState:
    """A settled library status (``_settled`` returns only these) as a cluster outcome."""
    states: dict[str, ClusterState] = {
        "INSTALLED": "INSTALLED",
        "FAILED": "FAILED",
        "SKIPPED": "SKIPPED",
        "RESTORED": "RESTORED",
    }
    return states[status]


def _first_message(statuses: tuple[LibraryStatus, ...]) -> str:
    for s in statuses:
        if s.messages:
            return s.messages[0]
    return ""

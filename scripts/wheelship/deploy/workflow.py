"""The work layer of ``config``, ``plan``, ``deploy``, ``status``, ``rollback`` and ``runbook``.

Each ``run_*`` function takes a :class:`Settings` and never touches argparse: the commands call
them, tests call them, ``wheelship demo`` calls them. Tests and the demo also pass
:class:`Knobs` (faster polling, a step limit, their own environment); the CLI never does. All of them read the workspace into a
snapshot and compute the pure plan; only ``run_deploy`` and ``run_rollback`` apply it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from packaging.utils import canonicalize_name

from wheelship import config as config_file
from wheelship import log, net
from wheelship.building import integrity
from wheelship.building.manifest import Manifest
from wheelship.databricks import auth, snapshot
from wheelship.databricks.client import Client, RetryPolicy, in_step, pooled_session
from wheelship.databricks.model import Job, Snapshot
from wheelship.databricks.storage import Storage, open_storage
from wheelship.deploy import canary, preflight, report, runbook, targets
from wheelship.deploy import lock as locking
from wheelship.deploy import plan as planning
from wheelship.deploy.apply import Applier, ApplyResult, Timing
from wheelship.deploy.plan import Plan, Release, Status
from wheelship.errors import CanaryFailed, ConfigurationError, DriftDetected, WheelshipError
from wheelship.options import Resolved


@dataclass(frozen=True)
class Settings:
    config: Path = Path(config_file.DEFAULT_CONFIG)
    target: str | None = None
    dist: Path = Path("dist")
    out: Path = Path(".")
    project: Path = Path(".")
    concurrency: int = 16
    to: str | None = None  # rollback
    force_unlock: bool = False  # deploy, rollback: remove the target's lock first
    read_only: bool = False  # doctor: no write probe (merge-request pipelines change nothing)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: tuple[float, float] = net.DEFAULT_TIMEOUT  # per request: connect, read (seconds)
    #: the configuration file as the command read it (validated); None: read ``config``
    data: Mapping[str, Any] | None = None

    @classmethod
    def from_options(cls, r: Resolved) -> Settings:
        """The one constructor from a command's resolved options (paths checked already)."""
        return cls(
            config=r.config or Path(config_file.DEFAULT_CONFIG),
            target=r["target"],
            dist=r.get("dist") or r["project"] / "dist",
            out=r["out"],
            project=r["project"],
            concurrency=r["concurrency"],
            to=r.get("to"),
            force_unlock=bool(r.get("force_unlock")),
            read_only=bool(r.get("read_only")),
            data=r.data,
        )


@dataclass(frozen=True)
class Knobs:
    """Test knobs, not options: the CLI always runs with the defaults."""

    timing: Timing = field(default_factory=Timing)  # polling cadence of waits
    max_steps: int | None = None  # stop after this many apply steps (interrupted deploys)
    environ: Mapping[str, str] | None = None  # instead of os.environ (auth, ${VAR} in the config)


DEFAULTS = Knobs()


class Loaded(NamedTuple):
    """A target of the configuration and the package it deploys."""

    target: targets.Target
    package: str


@dataclass
class Session:
    """What one command works with: the target, its package, a client and the storage.
    A context manager: leaving it closes the client's connections."""

    target: targets.Target
    package: str
    client: Client
    storage: Storage

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()


def load_config(settings: Settings, knobs: Knobs = DEFAULTS) -> targets.DeployConfig:
    data = settings.data
    if not data:  # not read by a command yet (or empty: then it must exist, which load checks)
        data = config_file.load(settings.config, required=True, environ=knobs.environ)
    return targets.parse(data)


def check_config(settings: Settings, knobs: Knobs = DEFAULTS) -> tuple[targets.DeployConfig, str]:
    cfg = load_config(settings, knobs)
    package = targets.resolve_package(cfg, settings.project)
    if settings.target is not None:
        cfg.target(settings.target)
    if not cfg.targets:
        raise ConfigurationError(
            f"{settings.config}: no targets: section",
            "add one (see docs/configuration.md)",
        )
    return cfg, package


def load_target(settings: Settings, knobs: Knobs = DEFAULTS) -> Loaded:
    cfg = load_config(settings, knobs)
    return Loaded(cfg.target(settings.target), targets.resolve_package(cfg, settings.project))


def open_session(settings: Settings, knobs: Knobs, loaded: Loaded | None = None) -> Session:
    target, package = loaded or load_target(settings, knobs)
    creds = auth.resolve(target.host, target.profile, knobs.environ)
    http = pooled_session(settings.concurrency)
    client = Client(
        creds.host,
        auth.build(creds, http, knobs.environ),
        concurrency=settings.concurrency,
        timeout=settings.timeout,
        retry=settings.retry,
        session=http,
    )
    log.debug(f"databricks: {creds.host} with {creds.auth_type} auth from {creds.source}")
    return Session(target, package, client, open_storage(client, target.artifacts))


def release_from_dist(dist: Path, package: str) -> Release:
    manifest = Manifest.load(dist)
    if canonicalize_name(manifest.name) != package:
        raise ConfigurationError(
            f"{dist} holds a build of {manifest.name}, not of {package}",
            "pass the dist directory of this project's build, or fix package: in wheelship.yml",
        )
    manifest.verify(dist)
    wheel = manifest.wheel()
    # before anything is uploaded: a wheel in the workspace is never replaced
    integrity.check_wheel(dist / wheel.name, manifest.name, manifest.version)
    return Release(package, manifest.version, wheel.name, wheel.size, wheel.sha256, local=True)


def read_snapshot(
    s: Session,
    *,
    command: str,
    digest: str | None = None,
    runs: bool = True,
    who: bool = True,
    jobs: Sequence[Job] | None = None,
    artifacts: bool = True,
) -> Snapshot:
    groups = s.target.cluster_groups
    restarts = any(g.mode == "automated" and g.restart != "never" for g in groups)
    with log.section(f"wheelship_{command}_read", f"Read the workspace {s.client.host}"):
        snap = snapshot.read(
            s.client,
            s.storage,
            digest_names=[digest] if digest else [],
            cluster_ids=[cid for g in groups for cid in g.ids],
            runs=runs and restarts,
            who=who,
            command=command,
            jobs=jobs,
            artifacts=artifacts,
        )
    log.info(
        f"  {len(snap.jobs)} job(s), {len(snap.clusters)} cluster(s), {s.client.requests_sent} request(s)"
    )
    return snap


def _write_plan(plan: Plan, settings: Settings, waves: canary.Waves | None = None) -> None:
    report.write_plan(plan, settings.out)
    if waves is not None:
        report.write_json(settings.out / "plan.json", {**plan.to_json(), "waves": waves.to_json()})
        report.write_text(settings.out / "plan.md", canary.plan_markdown(waves, plan))
    if plan.manual_clusters:
        write_runbook(plan, settings.out)


def write_runbook(plan: Plan, out: Path) -> tuple[Path, Path]:
    return (
        report.write_json(out / "runbook.json", runbook.runbook_json(plan)),
        report.write_text(out / "runbook.md", runbook.runbook_markdown(plan)),
    )


def held_lock(s: Session, snap: Snapshot) -> str | None:
    """The line plan and status show when another deploy holds the target's lock."""
    if snap.artifact(locking.lock_name(s.target.name)) is None:
        return None
    return locking.describe_held(locking.read(s.storage, s.target.name))


@contextmanager
def take_lock(
    s: Session, settings: Settings, knobs: Knobs, command: str, version: str
) -> Iterator[locking.Lock]:
    lock = locking.Lock(
        s.storage,
        s.target.name,
        locking.LockPolicy(s.target.lock.ttl, s.target.lock.wait, settings.force_unlock),
        command=command,
        version=version,
        environ=knobs.environ,
        poll=knobs.timing.first,
        progress_every=knobs.timing.progress_every,
    )
    with (
        log.section(f"wheelship_{command}_lock", f"Lock target {s.target.name}"),
        in_step(f"{command}: lock", lock.name),
    ):
        lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


def locked_snapshot(s: Session, *, command: str, digest: str | None = None) -> Snapshot:
    """The snapshot a locked command plans from. Its clock is the workspace's: the time the
    lock file was written, as the workspace stamps files (file ages for retention)."""
    snap = read_snapshot(s, command=command, digest=digest)
    mine = snap.artifact(locking.lock_name(s.target.name))
    if mine is not None and mine.modified:
        snap = dataclasses.replace(snap, now=mine.modified)
    return snap


def run_plan(settings: Settings, knobs: Knobs = DEFAULTS) -> Plan:
    """Read-only: what deploy would do. Writes plan.json and plan.md."""
    loaded = load_target(settings, knobs)
    release = release_from_dist(settings.dist, loaded.package)
    with open_session(settings, knobs, loaded) as s:
        snap = read_snapshot(s, command="plan", digest=release.wheel)
        result = planning.plan(s.target, release, snap)
        held = held_lock(s, snap)
        denied = preflight.check(s.client, result, snap.identity, command="plan")
        skip = skipped_as_drift(s.target, result, denied)
        if skip:  # show what deploy will do: those objects left alone, named in the warnings
            result = planning.plan(s.target, release, snap, denied=skip)
        waves = canary.waves(s.target, release, snap, skip) if s.target.canary else None
    notes = [held] if held else []
    notes += [f"deploy would refuse: {d.line}" for d in denied if not skip]
    if notes:
        result = dataclasses.replace(result, warnings=(*notes, *result.warnings))
    _write_plan(result, settings, waves)
    return result


def _apply(
    s: Session,
    plan: Plan,
    settings: Settings,
    knobs: Knobs,
    command: Literal["deploy", "rollback"],
    dist: Path | None,
    *,
    verify: bool = True,
    read: Snapshot | None = None,
) -> tuple[Plan, ApplyResult]:
    """Write the plan, then apply it; the deploy report is written however the apply ends.
    ``verify``: read the target back and fail unless everything converged on the version
    (a canary wave changes part of the target only). ``read``: the snapshot the plan came from
    (the apply reads its pages of jobs again right before writing them, and back afterwards)."""

    def check(deferred: frozenset[str], jobs: Sequence[Job] | None) -> planning.Convergence:
        snap = read_snapshot(s, command=command, runs=False, who=False, jobs=jobs, artifacts=False)
        return planning.convergence(s.target, plan, snap, deferred=deferred)

    _write_plan(plan, settings)
    log.info(report.plan_summary(plan))
    applier = Applier(
        s.client,
        s.storage,
        plan,
        dist=dist,
        command=command,
        timing=knobs.timing,
        max_steps=knobs.max_steps,
        verify=check if verify else None,
        pages=read.job_pages if read else (),
        selected=[j.job_id for j in planning.select_jobs(read.jobs, s.target.jobs, plan.package)]
        if read
        else (),
    )
    try:
        result = applier.run()
    finally:
        applier.result.requests_total = s.client.requests_sent
        applier.result.request_counts = dict(s.client.counts)
        report.write_deploy_report(plan, applier.result, settings.out)
    return plan, result


def skipped_as_drift(
    target: targets.Target, plan: Plan, denied: list[preflight.Denied]
) -> dict[tuple[str, str], str]:
    """``(kind, id) -> why`` of the objects a deploy leaves alone under ``skip_denied``; empty
    when the target refuses instead (or the smoke run itself is denied: that is never skipped)."""
    smoke = [d for d in denied if plan.smoke and d.need.level == "CAN_MANAGE_RUN"]
    if not target.skip_denied or smoke:
        return {}
    return {(d.need.kind, d.need.id): d.reason for d in denied}


def checked_plan(
    s: Session, release: Release, snap: Snapshot, action: Literal["deploy", "rollback"]
) -> Plan:
    """The plan, after the permission preflight: refused with every problem listed, or with the
    objects the identity may not change skipped when the target says ``skip_denied``."""
    the_plan = planning.plan(s.target, release, snap, action=action)
    denied = preflight.check(s.client, the_plan, snap.identity, command=action)
    if not denied:
        return the_plan
    assert snap.identity is not None
    skip = skipped_as_drift(s.target, the_plan, denied)
    if not skip:
        smoke = any(the_plan.smoke and d.need.level == "CAN_MANAGE_RUN" for d in denied)
        raise preflight.refuse(denied, snap.identity, s.target.name, skippable=not smoke)
    return planning.plan(s.target, release, snap, action=action, denied=skip)


def run_deploy(settings: Settings, knobs: Knobs = DEFAULTS) -> tuple[Plan, ApplyResult]:
    loaded = load_target(settings, knobs)
    release = release_from_dist(settings.dist, loaded.package)
    with (
        open_session(settings, knobs, loaded) as s,
        take_lock(s, settings, knobs, "deploy", release.version),
    ):
        snap = locked_snapshot(s, command="deploy", digest=release.wheel)
        the_plan = checked_plan(s, release, snap, "deploy")
        if s.target.canary is not None and the_plan.changes_anything:
            _canary_wave(s, release, snap, the_plan, settings, knobs)
            snap = locked_snapshot(s, command="deploy", digest=release.wheel)
            the_plan = checked_plan(s, release, snap, "deploy")
        return _apply(s, the_plan, settings, knobs, "deploy", settings.dist, read=snap)


def _canary_wave(
    s: Session, release: Release, snap: Snapshot, whole: Plan, settings: Settings, knobs: Knobs
) -> None:
    """Deploy the canary and run its smoke job; on any failure roll the canary back and raise
    :class:`CanaryFailed`. The wave's plan and report go to ``<out>/canary/``, a rollback's to
    ``<out>/canary/rollback/``; ``deploy-report.*`` says why the deploy stopped."""
    waves = canary.waves(s.target, release, snap)
    _write_plan(whole, settings, waves)
    out = settings.out / "canary"
    log.info(f"canary first: {report.plan_summary(waves.canary)}")
    try:
        _apply(
            s,
            waves.canary,
            dataclasses.replace(settings, out=out),
            knobs,
            "deploy",
            settings.dist,
            verify=False,
            read=snap,
        )
        return
    except WheelshipError as exc:
        # what failed, without the failed step's own advice (a rollback of the whole target)
        why = str(exc).removesuffix(f" — {exc.fix}") if exc.fix else str(exc)
    before = canary.versions_before(waves.canary)
    restored = "nothing to restore"
    if before and (waves.canary.jobs or waves.canary.automated_clusters):
        log.warn(f"canary failed ({why}); rolling it back to {before[0]}")
        try:
            snap = read_snapshot(s, command="rollback")
            back = rollback_release(s, snap, before[0])
            restore = canary.restore_plan(s.target, back, snap)
            _apply(
                s,
                restore,
                dataclasses.replace(settings, out=out / "rollback"),
                knobs,
                "rollback",
                None,
                verify=False,
                read=snap,
            )
            restored = f"rolled back to {back.version}"
        except WheelshipError as exc:
            restored = f"its rollback failed too: {exc}"
    what = f"canary of {release.package} {release.version} on {s.target.name} failed: {why}; {restored}"
    report.write_deploy_report(whole, _stopped(what), settings.out)
    raise CanaryFailed(
        what,
        "nothing but the canary was changed; see deploy-report.md and canary/deploy-report.md, "
        "fix the cause and deploy again"
        if not restored.startswith("its rollback")
        else f"run 'wheelship rollback --target {s.target.name}' once the workspace answers again",
    )


def _stopped(error: str) -> ApplyResult:
    result = ApplyResult()
    result.error = error
    return result


def run_status(settings: Settings, knobs: Knobs = DEFAULTS) -> Status:
    with open_session(settings, knobs) as s:
        snap = read_snapshot(s, command="status", runs=False)
        st = planning.status(s.target, s.package, snap)
        held = held_lock(s, snap)
    return dataclasses.replace(st, notes=(held, *st.notes)) if held else st


def check_drift(st: Status) -> None:
    """Raise :class:`DriftDetected` (exit 3) when more than one version is live. The fix names
    the step that brings the lagging objects to the newest version: a deploy cannot touch a
    manual-mode cluster (only its admin can, by the runbook), so those get the runbook."""
    if not st.drift:
        return
    newest = st.live[0]
    lagging = [o for o in st.objects if set(o.versions) - {newest}]
    manual = [o for o in lagging if o.kind == "cluster" and o.mode == "manual"]
    deploy = f"deploy one version to every selected job and cluster ('wheelship deploy --target {st.target}')"
    runbook = (
        f"the admin of the manual-mode cluster{'s' if len(manual) > 1 else ''} "
        f"{', '.join(f'{o.id} ({o.name})' for o in manual)} installs {newest} by the runbook "
        f"('wheelship runbook --target {st.target}' writes it; the deploy job keeps it as runbook.md)"
    )
    if manual and len(manual) == len(lagging):
        fix = runbook
    elif manual:
        fix = f"{deploy}; {runbook}"
    else:
        fix = deploy
    raise DriftDetected(
        f"{len(st.live)} versions of {st.package} are live on {st.target}: {', '.join(st.live)}",
        fix,
    )


def rollback_release(s: Session, snap: Snapshot, to: str | None) -> Release:
    """The retained version the plan chooses to go back to, with the size and sha256 of its file
    as the workspace holds it (for the report and the runbook)."""
    choice = planning.rollback_choice(s.target, s.package, snap, to)
    size, sha = s.storage.digest(choice.wheel)
    return Release(s.package, choice.version, choice.wheel, size, sha, local=False)


def run_rollback(settings: Settings, knobs: Knobs = DEFAULTS) -> tuple[Plan, ApplyResult]:
    with open_session(settings, knobs) as s, take_lock(s, settings, knobs, "rollback", ""):
        snap = locked_snapshot(s, command="rollback")
        release = rollback_release(s, snap, settings.to)
        the_plan = checked_plan(s, release, snap, "rollback")
        return _apply(s, the_plan, settings, knobs, "rollback", None, read=snap)


def run_runbook(settings: Settings, knobs: Knobs = DEFAULTS) -> Plan:
    """The admin runbook for the selected clusters (all of them, whatever their mode)."""
    target, package = load_target(settings, knobs)
    if not target.cluster_groups:
        raise ConfigurationError(
            f"target {target.name} selects no clusters (clusters.mode: off)",
            "set clusters.mode (manual or automated) and the clusters to select",
        )
    manual = dataclasses.replace(
        target,
        clusters=tuple(dataclasses.replace(g, mode="manual") for g in target.cluster_groups),
    )
    local = None if settings.to else release_from_dist(settings.dist, package)
    with open_session(settings, knobs, Loaded(manual, package)) as s:
        if local is None:
            snap = read_snapshot(s, command="runbook", runs=False)
            release = rollback_release(s, snap, settings.to)
        else:
            release = local
            snap = read_snapshot(s, command="runbook", digest=release.wheel, runs=False)
    the_plan = planning.plan(manual, release, snap, action="runbook")
    write_runbook(the_plan, settings.out)
    return the_plan

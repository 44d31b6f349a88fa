"""``wheelship doctor``: a preflight against the real workspace that changes nothing visible.

One table of checks, each ``pass``, ``warn`` or ``fail`` with what to do: the identity the
credentials resolve to (user or service principal, groups, admin or not); the artifacts folder
(exists, writable — a probe file created and removed under ``.wheelship/``); every selected job
and cluster with the permission the deploy needs and whether the identity has it; jobs a bundle
manages or git defines; library-source rules that will refuse the wheel (DBFS on
newer runtimes, standard access mode, an identity without ``READ VOLUME``); a held deploy
lock; what retention would delete. Exit 1 when any check fails, 0 otherwise; bad input exits 2 before
any check, like every command.

The identity, the access lists and the bundle/git test are the deploy's own
(:mod:`wheelship.databricks.identity`, :mod:`wheelship.databricks.permissions`,
:func:`wheelship.deploy.plan.managed_by`), and so is the lock (:mod:`wheelship.deploy.lock`):
doctor says in advance what the deploy's preflight would refuse. The library-source and volume
rules are pure functions of what was read (unit-tested on plain data).
"""

from __future__ import annotations

import re
import socket
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from wheelship import log
from wheelship.databricks import clusters, identity, jobs, paths, permissions, unity
from wheelship.databricks.model import Identity, Job, Snapshot
from wheelship.databricks.permissions import ObjectType
from wheelship.databricks.storage import open_storage
from wheelship.deploy import lock as locking
from wheelship.deploy import plan as planning
from wheelship.deploy import report, workflow
from wheelship.deploy.plan import Plan, Release
from wheelship.deploy.targets import Target
from wheelship.deploy.workflow import Knobs, Session, Settings
from wheelship.errors import DatabricksError, PlanError, WheelshipError

Verdict = Literal["pass", "warn", "fail"]
PROBE_FOLDER = ".wheelship"
_ICON: dict[Verdict, str] = {"pass": "pass", "warn": "WARN", "fail": "FAIL"}


@dataclass(frozen=True)
class Row:
    """One check: what was checked, on what, the verdict, what was found, and what to do."""

    check: str
    subject: str
    verdict: Verdict
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Report:
    target: str
    host: str
    package: str
    rows: tuple[Row, ...]
    identity: str = ""

    @property
    def failed(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.verdict == "fail")

    @property
    def warned(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.verdict == "warn")

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "wheelship-doctor/1",
            "target": self.target,
            "host": self.host,
            "package": self.package,
            "identity": self.identity,
            "exit_code": self.exit_code,
            "counts": {v: sum(1 for r in self.rows if r.verdict == v) for v in _ICON},
            "checks": [asdict(r) for r in self.rows],
        }


# -- pure rules ------------------------------------------------------------------------------

AccessMode = Literal["standard", "dedicated", "no isolation", "unknown"]
_MODES: dict[str, AccessMode] = {
    "USER_ISOLATION": "standard",
    "DATA_SECURITY_MODE_STANDARD": "standard",
    "SINGLE_USER": "dedicated",
    "DATA_SECURITY_MODE_DEDICATED": "dedicated",
    "NONE": "no isolation",
}
_DBR = re.compile(r"^(\d+)\.(\d+)")
#: DBFS stops being a library source after 14.3: the Libraries docs say "disabled by default in
#: Databricks Runtime 15.1 and above", the service answers "not supported on DBR 15 or above".
DBFS_LAST = (14, 3)
#: Volumes are a library source from 13.3 LTS.
VOLUMES_FIRST = (13, 3)


@dataclass(frozen=True)
class Compute:
    """What decides whether a library source installs: runtime and access mode."""

    label: str
    runtime: tuple[int, int] | None
    mode: AccessMode
    assigned: str | None = None  # dedicated compute: the principal that reads the files

    @classmethod
    def of(cls, label: str, spec: Mapping[str, Any]) -> Compute:
        version = spec.get("spark_version")
        m = _DBR.match(version) if isinstance(version, str) else None
        runtime = (int(m.group(1)), int(m.group(2))) if m else None
        mode = _MODES.get(str(spec.get("data_security_mode") or ""), "unknown")
        user = spec.get("single_user_name")
        return cls(label, runtime, mode, user if isinstance(user, str) else None)


class Finding(NamedTuple):
    """A problem a row reports, and what to do about it."""

    detail: str
    fix: str


def source_problem(store: str, compute: Compute) -> Finding | None:
    """Why the wheel in ``store`` will be refused on ``compute``, and what to do."""
    rt = compute.runtime
    if store == "dbfs" and rt and rt > DBFS_LAST:
        return Finding(
            f"DBR {rt[0]}.{rt[1]}: libraries from DBFS are refused from Databricks Runtime 15 on",
            "keep the wheels in a volume (artifacts: /Volumes/<catalog>/<schema>/<volume>/...), "
            "or run this compute on 14.3 LTS",
        )
    if store == "dbfs" and compute.mode == "standard":
        return Finding(
            "standard (shared) access mode does not install libraries from DBFS",
            "keep the wheels in a volume (artifacts: /Volumes/...)",
        )
    if store == "volumes" and compute.mode == "no isolation":
        return Finding(
            "no-isolation shared access mode does not read Unity Catalog volumes",
            "use standard or dedicated access mode, or keep the wheels in workspace files",
        )
    if store == "volumes" and rt and rt < VOLUMES_FIRST:
        return Finding(
            f"DBR {rt[0]}.{rt[1]}: libraries from volumes need Databricks Runtime 13.3 LTS or above",
            "upgrade the compute's runtime, or keep the wheels in workspace files",
        )
    return None


_PRIVS = ("USE_CATALOG", "USE_SCHEMA", "READ_VOLUME")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _norm(privilege: str) -> str:
    return privilege.upper().replace(" ", "_")


def volume_read(
    grants: unity.Privileges, principal: str, groups: Iterable[str] | None
) -> tuple[Verdict, str]:
    """Whether ``principal`` reads the volume: USE CATALOG, USE SCHEMA and READ VOLUME, held
    directly, through ``account users``, or through one of ``groups`` (None: its groups are
    unknown — a group grantee then makes the answer uncertain, a warning)."""
    if not grants.by_grantee:
        return "warn", "no grants on the volume are visible to this identity"
    known = {principal, "account users", *(groups or ())}
    held = {_norm(p) for g in known for p in grants.by_grantee.get(g, ())}
    if "ALL_PRIVILEGES" in held or all(p in held for p in _PRIVS):
        return "pass", "holds " + ", ".join(p.replace("_", " ") for p in _PRIVS)
    missing = [p.replace("_", " ") for p in _PRIVS if p not in held]
    through_group = groups is None and any(
        "@" not in g and not _UUID.match(g) and g not in known for g in grants.by_grantee
    )
    if through_group:
        return "warn", f"holds no {', '.join(missing)} itself; a group it may be in does"
    return "fail", f"lacks {', '.join(missing)}"


def managed_job(job: Job, policy: str) -> Finding | None:
    """What the deploy will do with a job a bundle or git defines, and what to do — the deploy's
    own test (:func:`wheelship.deploy.plan.managed_by`) and the target's ``jobs.managed``."""
    why = planning.managed_by(job)
    if why is None:
        return None
    if policy == "rewrite":
        return Finding(
            f"{why}; jobs.managed: rewrite repoints it, and its next bundle or git deploy puts "
            "its own wheel back",
            "change the wheel where the job is defined too, or exclude the job",
        )
    return Finding(
        f"{why}: the deploy skips it (jobs.managed: skip), so it stays on its version",
        "change the wheel where the job is defined and deploy that, or set jobs.managed: "
        "rewrite if wheelship should repoint it anyway",
    )


def markdown(r: Report) -> str:
    counts = r.to_json()["counts"]
    lines = [
        f"# wheelship doctor: {r.package} on {r.target}",
        "",
        f"Workspace: {r.host}  ",
        f"Identity: {r.identity or 'unknown'}  ",
        f"Result: {counts['fail']} fail, {counts['warn']} warn, {counts['pass']} pass",
        "",
        "| | Check | Object | Found | Fix |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in r.rows:
        cells = (_ICON[row.verdict], row.check, row.subject, row.detail, row.fix or "—")
        lines.append(
            "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
        )
    lines.append("")
    return "\n".join(lines)


def text(r: Report) -> str:
    """The table for the log: one line per check, fixes under warnings and failures."""
    out = [f"doctor: {r.package} on {r.target} ({r.host}) as {r.identity or 'unknown'}"]
    width = max((len(row.check) for row in r.rows), default=0)
    for row in r.rows:
        out.append(f"  {_ICON[row.verdict]:<4}  {row.check:<{width}}  {row.subject}: {row.detail}")
        if row.verdict != "pass" and row.fix:
            out.append(f"        {'':<{width}}  -> {row.fix}")
    return "\n".join(out)


# -- the checks, reading the workspace ---------------------------------------------------------


@dataclass
class _Doctor:
    s: Session
    release: Release | None
    read_only: bool = False
    rows: list[Row] = field(default_factory=list)
    me: Identity | None = None
    _grants: dict[str, unity.Privileges | str] = field(default_factory=dict)

    @property
    def target(self) -> Target:
        return self.s.target

    def add(self, check: str, subject: str, verdict: Verdict, detail: str, fix: str = "") -> None:
        self.rows.append(Row(check, subject, verdict, detail, fix))

    # identity -------------------------------------------------------------------------------

    def identity(self) -> bool:
        try:
            me = identity.me(self.s.client)
        except DatabricksError as exc:
            self.add(
                "identity",
                self.s.client.host,
                "fail",
                f"authentication failed: {exc.what}",
                "check the credentials for this workspace (DATABRICKS_TOKEN, OAuth M2M or OIDC; "
                "see docs/security.md#authentication)",
            )
            return False
        self.me = me
        groups = ", ".join(me.groups) or "none besides users"
        admin = "a workspace admin" if me.is_admin else "not a workspace admin"
        kind = "service principal" if me.service_principal else "user"
        shown = f" ({me.display})" if me.display not in ("", me.name) else ""
        detail = f"{kind} {me.name}{shown}; {admin}; groups: {groups}"
        if not me.service_principal:
            self.add(
                "identity",
                me.name,
                "warn",
                detail + " — a person's credentials",
                "deploy as a service principal (OAuth M2M, or OIDC federation without a stored "
                "secret): a pipeline should not depend on one person's token",
            )
        else:
            self.add("identity", me.name, "pass", detail)
        return True

    # artifacts ------------------------------------------------------------------------------

    def artifacts(self, snap: Snapshot) -> None:
        folder = self.target.artifacts
        if snap.artifacts is None:
            volume = _volume(folder)
            root = "/Volumes/" + volume.replace(".", "/") if volume else None
            # The volume itself (not a folder inside it) must exist: a deploy cannot create it.
            if root is not None and (
                root == folder or open_storage(self.s.client, root).list() is None
            ):
                self.add(
                    "artifacts folder",
                    folder,
                    "fail",
                    f"the volume {volume} does not exist (or this identity cannot see it)",
                    f"create the volume (CREATE VOLUME {volume}) or fix artifacts: in wheelship.yml",
                )
            else:
                self.add(
                    "artifacts folder",
                    folder,
                    "warn",
                    "does not exist yet: the first deploy creates it",
                    "nothing to do if the deploy identity may create it; or create it now",
                )
            self.add(
                "artifacts writable",
                folder,
                "warn",
                "not probed: the folder does not exist",
                "create the folder and run doctor again",
            )
            return
        wheels = [f for f in snap.artifacts if f.name.endswith(".whl")]
        self.add("artifacts folder", folder, "pass", f"exists, {len(wheels)} wheel(s)")
        if self.read_only:
            self.add(
                "artifacts writable",
                folder,
                "warn",
                "not probed (--read-only: this run writes nothing)",
                "run `wheelship doctor` without --read-only with the deploy identity; a deploy's "
                "first write is its lock file, so an identity that may not write is refused "
                "before any change",
            )
            return
        name = f"doctor-{uuid.uuid4().hex[:12]}.probe"
        probe = f"{PROBE_FOLDER}/{name}"
        # Its own folder: the probe never sits next to the wheels, where retention looks.
        storage = open_storage(self.s.client, paths.join(folder, PROBE_FOLDER))
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "probe"
            local.write_bytes(b"wheelship doctor: a write probe, removed right away\n")
            try:
                storage.upload(name, local, create_folder=storage.list() is None)
            except DatabricksError as exc:
                self.add(
                    "artifacts writable",
                    folder,
                    "fail",
                    f"cannot create {probe}: {exc.what}",
                    "grant the deploy identity write access (WRITE VOLUME on the volume, "
                    "CAN MANAGE on the workspace folder)",
                )
                return
            try:
                storage.delete(name)
            except DatabricksError as exc:
                self.add(
                    "artifacts writable",
                    folder,
                    "warn",
                    f"created {probe} but could not remove it: {exc.what}",
                    f"delete {paths.join(folder, probe)} by hand",
                )
                return
        self.add("artifacts writable", folder, "pass", f"created and removed {probe}")

    # jobs -----------------------------------------------------------------------------------

    def _level(self, kind: ObjectType, object_id: str | int) -> str | Exception | None:
        """The identity's level, read with the deploy preflight's own functions."""
        assert self.me is not None
        try:
            entries = permissions.access_list(self.s.client, kind, str(object_id))
        except DatabricksError as exc:
            return exc
        return permissions.level_of(self.me, kind, entries)

    def job(self, job: Job, needed: str, why: str) -> None:
        label = f"{job.job_id} ({job.name})"
        level = self._level("job", job.job_id)
        if isinstance(level, Exception):
            self.add(
                "job",
                label,
                "fail",
                f"cannot read its permissions ({level})",
                f"grant the deploy identity {needed} on job {job.job_id}",
            )
            return
        if not permissions.allows("job", level, needed):
            self.add(
                "job",
                label,
                "fail",
                f"{level or 'no permission'}; {why} needs {needed}",
                f"grant the deploy identity {needed} on job {job.job_id}, or exclude it",
            )
            return
        found = managed_job(job, self.target.jobs.managed)
        if found:
            self.add("job", label, "warn", f"{level}; {found.detail}", found.fix)
        else:
            self.add("job", label, "pass", f"{level} ({why} needs {needed})")

    # clusters -------------------------------------------------------------------------------

    def cluster(self, cluster_id: str, name: str, mode: str) -> None:
        label = f"{cluster_id} ({name})"
        if mode == "manual":
            self.add(
                "cluster",
                label,
                "warn",
                "manual mode: the deploy leaves it to a cluster admin (runbook.md)",
                "follow the runbook after each deploy, or give the deploy identity CAN_MANAGE "
                "and move the cluster to mode: automated",
            )
            return
        level = self._level("cluster", cluster_id)
        if isinstance(level, Exception):
            self.add(
                "cluster",
                label,
                "fail",
                f"cannot read its permissions ({level})",
                "grant the deploy identity CAN_MANAGE on the cluster, or put it in manual mode",
            )
        elif permissions.allows("cluster", level, "CAN_MANAGE"):
            self.add("cluster", label, "pass", f"{level} (installing libraries needs CAN_MANAGE)")
        else:
            self.add(
                "cluster",
                label,
                "fail",
                f"{level or 'no permission'}; installing libraries needs CAN_MANAGE",
                "grant the deploy identity CAN_MANAGE on the cluster, or put it in a "
                "mode: manual group (the admin gets a runbook)",
            )

    # library sources ----------------------------------------------------------------------------

    def _privileges(self, volume: str) -> unity.Privileges | str:
        if volume not in self._grants:
            try:
                self._grants[volume] = unity.effective_privileges(self.s.client, "volume", volume)
            except DatabricksError as exc:
                self._grants[volume] = exc.what
        return self._grants[volume]

    def source(self, label: str, computes: list[Compute]) -> None:
        """One row per object: the wheel's source against each compute it installs on."""
        store = self.target.storage_kind
        for compute in computes:
            problem = source_problem(store, compute)
            if problem:
                where = label if compute.label == label else f"{label} on {compute.label}"
                self.add("library source", where, "fail", problem.detail, problem.fix)
                return
        runtimes = ", ".join(sorted({_compute_text(c) for c in computes}))
        if store == "dbfs":
            self.add(
                "library source",
                label,
                "warn",
                f"dbfs on {runtimes}: works, but DBFS library sources end with DBR 14.3 LTS",
                "move artifacts: to a volume before these computes move past 14.3",
            )
        else:
            self.add("library source", label, "pass", f"{store} on {runtimes}")

    def readers(self, needs: Mapping[tuple[str, str], list[str]]) -> None:
        """One READ VOLUME row per identity that reads the wheel (run-as identities of the
        jobs, the installer on standard clusters, the assigned principal on dedicated ones)."""
        volume = _volume(self.target.artifacts)
        if volume is None or not needs:
            return
        grants = self._privileges(volume)
        owner = unity.volume_owner(self.s.client, volume)
        for (who, role), objects in sorted(needs.items()):
            subject = f"{who} ({role} of {', '.join(objects)})"
            if isinstance(grants, str):
                self.add(
                    "READ VOLUME",
                    subject,
                    "warn",
                    f"cannot read the grants of {volume} ({grants})",
                    f"make sure {who} holds USE CATALOG, USE SCHEMA and READ VOLUME on {volume}",
                )
                continue
            if who == owner:
                self.add("READ VOLUME", subject, "pass", f"owns {volume}")
                continue
            mine = self.me is not None and who == self.me.name
            verdict, detail = volume_read(grants, who, self.me.groups if mine and self.me else None)
            fix = (
                ""
                if verdict == "pass"
                else f"GRANT USE CATALOG, USE SCHEMA, READ VOLUME on {volume} (or its schema) "
                f"TO `{who}` (owners and metastore admins need no grant)"
            )
            self.add("READ VOLUME", subject, verdict, f"{detail} on {volume}", fix)

    def lock(self, snap: Snapshot) -> None:
        """A held deploy lock, read with the deploy's own lock code."""
        name = locking.lock_name(self.target.name)
        info = locking.read(self.s.storage, self.target.name) if snap.artifact(name) else None
        if info is None:
            self.add("lock", name, "pass", "no deploy holds the target's lock")
            return
        now = time.time()
        stale = info.stale(now, host=socket.gethostname(), alive=locking.pid_alive)
        if stale:
            self.add(
                "lock",
                name,
                "warn",
                f"left by {info.describe(now)}, stale ({stale}): the next deploy takes it over",
                "nothing to do; 'wheelship deploy --force-unlock' removes it at once",
            )
        else:
            self.add(
                "lock",
                name,
                "fail",
                f"held by {info.describe(now)}: a deploy now waits for it (lock.wait)",
                "let that deploy finish; if it is gone, 'wheelship deploy --force-unlock' "
                "removes the lock",
            )

    def plan_row(self, the_plan: Plan | None, error: PlanError | None) -> None:
        """What the deploy of this build would do, and what retention would delete."""
        subject = f"{self.s.package} {self.release.version}" if self.release else self.s.package
        if error is not None:
            self.add("plan", subject, "fail", error.what, error.fix or "")
            return
        if the_plan is None:
            self.add(
                "plan",
                subject,
                "warn",
                "no build to plan with (no wheelship-manifest.json in --dist): the deploy and "
                "what retention deletes are not known",
                "run doctor after 'wheelship build' (--dist), as the template does",
            )
            return
        gone = ", ".join(d.wheel for d in the_plan.deletions) or "nothing"
        detail = f"{report.plan_summary(the_plan)}; retention deletes {gone}"
        admin = self.me is not None and self.me.is_admin
        if the_plan.deletions and not admin:
            self.add(
                "plan",
                subject,
                "warn",
                detail + " — judged on the jobs this identity can see, not every job",
                f"raise keep: (now {self.target.keep}) so unseen jobs keep their wheel, or "
                "deploy as a workspace admin",
            )
        else:
            self.add("plan", subject, "pass", detail)


def _who(me: Identity | None) -> str:
    if me is None:
        return ""
    return f"{'service principal' if me.service_principal else 'user'} {me.name}"


def _volume(artifacts: str) -> str | None:
    parts = [p for p in artifacts.split("/") if p]
    return ".".join(parts[1:4]) if artifacts.startswith("/Volumes/") and len(parts) >= 4 else None


def _compute_text(c: Compute) -> str:
    rt = f"DBR {c.runtime[0]}.{c.runtime[1]}" if c.runtime else "DBR ?"
    mode = "access mode not set" if c.mode == "unknown" else f"{c.mode} access"
    return f"{rt}, {mode}"


def _job_computes(settings: Mapping[str, Any]) -> list[Compute]:
    """The job clusters of a job (shared ones and per-task ones)."""
    out = [
        Compute.of(f"job cluster {jc.get('job_cluster_key')}", jc.get("new_cluster") or {})
        for jc in settings.get("job_clusters") or []
        if isinstance(jc, Mapping)
    ]
    for task in settings.get("tasks") or []:
        if isinstance(task, Mapping) and isinstance(task.get("new_cluster"), Mapping):
            out.append(Compute.of(f"task {task.get('task_key')}", task["new_cluster"]))
    return out


def _run_as(raw: Mapping[str, Any]) -> str | None:
    run_as = (raw.get("settings") or {}).get("run_as") or {}
    for key in ("user_name", "service_principal_name"):
        if isinstance(run_as, Mapping) and run_as.get(key):
            return str(run_as[key])
    for key in ("run_as_user_name", "creator_user_name"):
        if raw.get(key):
            return str(raw[key])
    return None


def run_doctor(settings: Settings, knobs: Knobs = workflow.DEFAULTS) -> Report:
    """Run every check against the target's workspace; write doctor.md and doctor.json."""
    loaded = workflow.load_target(settings, knobs)
    release = None
    if (settings.dist / "wheelship-manifest.json").is_file():
        release = workflow.release_from_dist(settings.dist, loaded.package)
    with workflow.open_session(settings, knobs, loaded) as s:
        d = _Doctor(s, release, read_only=settings.read_only)
        with log.section("wheelship_doctor", f"Check {s.target.name} on {s.client.host}"):
            if d.identity():
                _checks(d)
        result = Report(s.target.name, s.client.host, loaded.package, tuple(d.rows), _who(d.me))
    report.write_json(settings.out / "doctor.json", result.to_json())
    report.write_text(settings.out / "doctor.md", markdown(result))
    return result


def _checks(d: _Doctor) -> None:
    s, target = d.s, d.s.target
    snap = workflow.read_snapshot(
        s, command="doctor", digest=d.release.wheel if d.release else None
    )
    d.artifacts(snap)
    try:
        selected = planning.select_jobs(snap.jobs, target.jobs, s.package)
        groups = planning.select_cluster_groups(snap.clusters, target)
    except PlanError as exc:
        d.add("selection", target.name, "fail", exc.what, exc.fix or "")
        return
    automated = sum(1 for _c, g in groups if g.mode == "automated")
    if selected:
        d.add(
            "selection",
            target.name,
            "pass",
            f"{len(selected)} job(s), {len(groups)} cluster(s) ({automated} automated)",
        )
    else:
        d.add(
            "selection",
            target.name,
            "warn",
            f"selects no job that references {s.package}",
            "check jobs: in wheelship.yml against the workspace",
        )
    the_plan: Plan | None = None
    error: PlanError | None = None
    if d.release is not None:
        try:
            the_plan = planning.plan(target, d.release, snap)
        except PlanError as exc:
            error = exc
    for job in selected:
        d.job(job, "CAN_MANAGE", "repointing")
    if target.smoke is not None:
        for job in snap.jobs:
            if target.smoke.job in (job.job_id, job.name) and job not in selected:
                d.job(job, "CAN_MANAGE_RUN", "the smoke run")
    for cluster, group in groups:
        d.cluster(cluster.cluster_id, cluster.name, group.mode)
    readers: dict[tuple[str, str], list[str]] = {}
    volumes = target.storage_kind == "volumes"
    for cluster, group in groups:
        label = f"cluster {cluster.cluster_id}"
        try:
            spec = clusters.get_raw(s.client, cluster.cluster_id)
        except WheelshipError as exc:
            d.add("library source", label, "warn", f"cannot read the cluster ({exc})", "")
            continue
        compute = Compute.of(label, spec)
        d.source(label, [compute])
        if volumes and group.mode == "automated":
            # Standard compute reads the file as the installer (the deploy identity),
            # dedicated compute as its assigned principal.
            if compute.mode == "dedicated" and compute.assigned:
                readers.setdefault((compute.assigned, "assigned user"), []).append(label)
            elif compute.mode == "standard" and d.me is not None:
                readers.setdefault((d.me.name, "installer"), []).append(label)
    for job in selected:
        label = f"job {job.job_id}"
        try:
            raw = jobs.get_raw(s.client, job.job_id)
        except WheelshipError as exc:
            d.add("library source", label, "warn", f"cannot read the job ({exc})", "")
            continue
        computes = _job_computes(raw.get("settings") or {})
        if computes:
            d.source(label, computes)
        run_as = _run_as(raw)
        if volumes and run_as:
            readers.setdefault((run_as, "run-as identity"), []).append(label)
    d.readers(readers)
    d.lock(snap)
    d.plan_row(the_plan, error)

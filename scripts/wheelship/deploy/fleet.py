"""Many workspaces in one command: a group of targets (``groups:`` in ``wheelship.yml``) planned,
deployed, checked or rolled back one target after another.

Each target is its own deploy — its own session, lock, plan and report in ``<out>/<target>/`` —
so a failure in one workspace is that workspace's alone: its own engine leaves it converged or as
it was, and the others go on. The build is read and verified once, so every workspace gets the
same bytes (each upload is verified against the same sha256). One summary
(``<command>-summary.md`` / ``.json`` in ``<out>``) names every workspace and its outcome.

In GitLab the same fan-out runs as one job per target (``parallel: matrix``); this is the path
for one command on a laptop or in a single job.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from wheelship import log
from wheelship.deploy import report, workflow
from wheelship.deploy.workflow import Knobs, Settings
from wheelship.errors import EXIT_BAD_INPUT, EXIT_FAILURE, ConfigurationError, WheelshipError

Command = Literal["plan", "deploy", "status", "rollback", "doctor"]
Outcome = Literal[
    "planned", "deployed", "unchanged", "one version", "drift", "checked", "failed", "refused"
]


@dataclass(frozen=True)
class Member:
    """One target's part of a group command."""

    target: str
    host: str
    outcome: Outcome
    detail: str  # what happened, or the error line
    version: str | None = None
    sha256: str | None = None
    seconds: float = 0.0
    exit_code: int = 0
    reports: str = ""  # the folder with this target's plan and reports, relative to --out


@dataclass(frozen=True)
class Summary:
    command: Command
    group: str
    package: str
    members: tuple[Member, ...]

    @property
    def failed(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.exit_code != 0)

    @property
    def exit_code(self) -> int:
        """0 when every target went through; 1 when any failed; 2 when the only failures are
        refusals before anything changed (bad input, policy)."""
        codes = {m.exit_code for m in self.failed}
        if not codes:
            return 0
        return EXIT_BAD_INPUT if codes == {EXIT_BAD_INPUT} else EXIT_FAILURE

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "wheelship-group/1",
            "command": self.command,
            "group": self.group,
            "package": self.package,
            "exit_code": self.exit_code,
            "failed": [m.target for m in self.failed],
            "targets": [dataclasses.asdict(m) for m in self.members],
        }


def group_members(settings: Settings, knobs: Knobs = workflow.DEFAULTS) -> tuple[str, ...] | None:
    """The targets of the group ``--target`` names, or None when it names a single target.
    Every member must name its workspace with ``host:`` (a shared DATABRICKS_HOST would send
    every member to one workspace)."""
    cfg = workflow.load_config(settings, knobs)
    members = cfg.members(settings.target)
    if members is None:
        return None
    for name in members:
        if cfg.targets[name].host is None:
            raise ConfigurationError(
                f"targets.{name}.host: missing, and {name} is in group {settings.target}",
                "in a group every target names its workspace with host:",
            )
    hosts: dict[str, str] = {}
    for name in members:
        host = str(cfg.targets[name].host)
        if host in hosts:
            raise ConfigurationError(
                f"group {settings.target}: targets {hosts[host]} and {name} are both {host}",
                "a group deploys to several workspaces: give each target its own host:",
            )
        hosts[host] = name
    return members


def run_group(
    settings: Settings, command: Command, members: tuple[str, ...], knobs: Knobs = workflow.DEFAULTS
) -> Summary:
    """Run ``command`` for every target of the group, in the order the group lists them."""
    group = str(settings.target)
    cfg = workflow.load_config(settings, knobs)
    loaded = workflow.load_target(dataclasses.replace(settings, target=members[0]), knobs)
    release = None
    if command in ("plan", "deploy"):
        # Read and verified once: a bad build stops the group before any workspace is read.
        release = workflow.release_from_dist(settings.dist, loaded.package)
    results: list[Member] = []
    for name in members:
        host = str(cfg.targets[name].host)
        one = dataclasses.replace(settings, target=name, out=settings.out / name)
        with log.section(f"wheelship_{command}_{_slug(name)}", f"Target {name} ({host})"):
            results.append(_one(command, one, knobs, host, release.sha256 if release else None))
        m = results[-1]
        (log.warn if m.exit_code else log.info)(f"{name}: {m.outcome} — {m.detail}")
    summary = Summary(command, group, loaded.package, tuple(results))
    write_summary(summary, settings.out)
    return summary


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _one(command: Command, settings: Settings, knobs: Knobs, host: str, sha: str | None) -> Member:
    started = time.monotonic()
    rel = settings.out.name
    try:
        member = _RUNNERS[command](settings, knobs, host)
    except WheelshipError as exc:
        outcome: Outcome = "refused" if exc.exit_code == EXIT_BAD_INPUT else "failed"
        member = Member(
            settings.target or "", host, outcome, f"error: {exc}", exit_code=exc.exit_code
        )
    if sha is not None and member.sha256 not in (None, sha):
        # Cannot happen while every target reads the one dist; say so loudly if it ever does.
        member = dataclasses.replace(
            member,
            outcome="failed",
            exit_code=EXIT_FAILURE,
            detail=f"error: sha256 {member.sha256} differs from the build's {sha}",
        )
    return dataclasses.replace(member, seconds=round(time.monotonic() - started, 3), reports=rel)


def _plan(settings: Settings, knobs: Knobs, host: str) -> Member:
    plan = workflow.run_plan(settings, knobs)
    return Member(
        plan.target, host, "planned", report.plan_summary(plan), plan.version, plan.sha256
    )


def _deploy(settings: Settings, knobs: Knobs, host: str) -> Member:
    plan, result = workflow.run_deploy(settings, knobs)
    changed = plan.changes_anything
    detail = (
        f"{result.changed} change(s) in {result.seconds:.1f} s ({result.requests} requests)"
        if changed
        else "nothing to change"
    )
    return Member(
        plan.target,
        host,
        "deployed" if changed else "unchanged",
        detail,
        plan.version,
        plan.sha256,
    )


def _rollback(settings: Settings, knobs: Knobs, host: str) -> Member:
    plan, result = workflow.run_rollback(settings, knobs)
    return Member(
        plan.target,
        host,
        "deployed" if plan.changes_anything else "unchanged",
        f"back to {plan.version}: {result.changed} change(s)",
        plan.version,
        plan.sha256,
    )


def _status(settings: Settings, knobs: Knobs, host: str) -> Member:
    st = workflow.run_status(settings, knobs)
    report.write_json(settings.out / "status.json", st.to_json())
    live = ", ".join(st.live) or "none"
    return Member(
        st.target,
        host,
        "drift" if st.drift else "one version",
        f"live: {live}",
        st.live[0] if st.live else None,
    )


def _doctor(settings: Settings, knobs: Knobs, host: str) -> Member:
    # Imported here: plan, deploy and the rest do not load the doctor's checks at start.
    from wheelship.deploy import doctor

    r = doctor.run_doctor(settings, knobs)
    counts = r.to_json()["counts"]
    detail = f"{counts['fail']} fail, {counts['warn']} warn, {counts['pass']} pass"
    if r.failed:
        first = r.failed[0]
        detail += f"; first failure: {first.check} {first.subject}: {first.detail}"
    return Member(
        r.target, host, "failed" if r.failed else "checked", detail, exit_code=r.exit_code
    )


_RUNNERS: dict[Command, Callable[[Settings, Knobs, str], Member]] = {
    "plan": _plan,
    "deploy": _deploy,
    "rollback": _rollback,
    "status": _status,
    "doctor": _doctor,
}


def summary_markdown(s: Summary) -> str:
    lines = [
        f"# wheelship {s.command}: {s.package} on group {s.group} ({len(s.members)} workspaces)",
        "",
    ]
    versions = {m.version for m in s.members if m.version}
    shas = {m.sha256 for m in s.members if m.sha256}
    if len(versions) == 1 and len(shas) == 1:
        lines += [f"Release: {versions.pop()} (sha256 `{shas.pop()}`) in every workspace", ""]
    lines += [
        "| Target | Workspace | Outcome | Version | Seconds | Detail | Reports |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in s.members:
        cells = (m.target, m.host, m.outcome, m.version or "—", f"{m.seconds:.1f}", m.detail)
        row = " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells)
        lines.append(f"| {row} | {m.reports}/ |")
    lines.append("")
    if s.failed:
        lines.append(
            f"**{len(s.failed)} of {len(s.members)} failed:** "
            + ", ".join(m.target for m in s.failed)
            + ". Each failed workspace was left as its own report says; the others are complete."
        )
    else:
        lines.append(f"All {len(s.members)} workspaces went through.")
    lines.append("")
    return "\n".join(lines)


def write_summary(s: Summary, out: Path) -> tuple[Path, Path]:
    stem = f"{s.command}-summary"
    return (
        report.write_json(out / f"{stem}.json", s.to_json()),
        report.write_text(out / f"{stem}.md", summary_markdown(s)),
    )

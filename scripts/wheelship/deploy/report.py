"""Markdown and JSON views of a plan, a deploy result and a status (for logs and artifacts).

Nothing here holds a secret: plans and reports name hosts, paths, ids and versions only, and
every file written passes through :func:`wheelship.log.redact` as a last guard.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from wheelship import log
from wheelship.databricks import paths
from wheelship.deploy.apply import ApplyResult
from wheelship.deploy.plan import ClusterChange, Plan, Status
from wheelship.deploy.references import library_label


def _table(headers: list[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    for row in rows:
        out.append(
            "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |"
        )
    return out


def _cluster_action(c: ClusterChange, package: str) -> tuple[str, str, str]:
    install = ", ".join(library_label(x, package) for x in c.install) or "—"
    uninstall = ", ".join(library_label(x, package) for x in c.uninstall) or "—"
    if c.mode == "manual":
        restart = "admin (runbook)" if c.needs_restart else "no"
    elif c.restart:
        restart = "yes"
    elif c.needs_restart:
        restart = "pending"
    else:
        restart = "no"
    return install, uninstall, restart


def plan_markdown(plan: Plan) -> str:
    verb = "rollback" if plan.action == "rollback" else "deploy"
    lines = [
        f"# wheelship {verb} plan: {plan.package} {plan.version} → {plan.target}",
        "",
        f"Workspace: {plan.host}",
        "",
    ]
    size = f"{plan.size:,} bytes, " if plan.size is not None else ""
    sha = f"sha256 `{plan.sha256}`" if plan.sha256 else "sha256 unknown"
    lines.append(f"Artifact: `{plan.artifact}` ({size}{sha})")
    lines.append("")
    lines.append("- upload: " + ("yes" if plan.upload else "no, already there with the same bytes"))
    lines.append("")

    lines.append(
        f"## Jobs: {len(plan.jobs)} to repoint, {plan.unchanged_jobs} already on {plan.version}"
    )
    if plan.jobs:
        lines.append("")
        rows = []
        for j in plan.jobs:
            for c in j.changes:
                rows.append(
                    (
                        j.label,
                        c.location,
                        paths.basename(c.old) if "/" in c.old else c.old,
                        paths.basename(c.new) if "/" in c.new else c.new,
                    )
                )
        lines += _table(["Job", "Reference", "Old", "New"], rows)
    lines.append("")

    auto = [c for c in plan.clusters if c.mode == "automated"]
    manual = plan.manual_clusters
    lines.append(
        f"## Clusters: {len([c for c in auto if c.mutates])} to update, {len(manual)} manual, "
        f"{plan.unchanged_clusters} already on {plan.version}"
    )
    if plan.clusters:
        lines.append("")
        rows2 = []
        for cc in plan.clusters:
            install, uninstall, restart = _cluster_action(cc, plan.package)
            rows2.append(
                (
                    cc.label,
                    cc.state,
                    cc.mode,
                    ", ".join(cc.versions_before) or "—",
                    install,
                    uninstall,
                    restart,
                    cc.note or "",
                )
            )
        lines += _table(
            ["Cluster", "State", "Mode", "Now", "Install", "Uninstall", "Restart", "Note"], rows2
        )
    lines.append("")

    lines.append(f"## Retention: {len(plan.deletions)} to delete")
    lines.append("")
    for d in plan.deletions:
        guard = (
            f" (after cluster(s) {', '.join(d.guard_clusters)} drop it)" if d.guard_clusters else ""
        )
        lines.append(f"- delete `{d.wheel}`{guard}")
    for k in plan.kept:
        lines.append(f"- keep `{k.wheel}`: {k.reason}")
    if not plan.deletions and not plan.kept:
        lines.append("- nothing else in the folder")
    lines.append("")

    if plan.smoke:
        lines.append(
            f"## Smoke run: job {plan.smoke.job_id} ({plan.smoke.name}), timeout {plan.smoke.timeout} s"
        )
        lines.append("")
    if plan.skipped:
        lines += ["## Skipped (they stay on their version: drift)", ""]
        lines += [f"- {x.label}: {x.reason}" for x in plan.skipped]
        lines.append("")
    if plan.warnings:
        lines.append("## Warnings")
        lines.append("")
        lines += [f"- {w}" for w in plan.warnings]
        lines.append("")
    lines.append("## Steps")
    lines.append("")
    steps = plan.steps()
    if not plan.changes_anything:
        lines.append("Nothing to change: the workspace is already on this version.")
        if plan.smoke:
            lines.append("")
            lines.append(f"1. smoke run {plan.smoke.job_id} ({plan.smoke.name})")
    else:
        lines += [f"{i}. {s} {o}" for i, (s, o) in enumerate(steps, 1)]
    lines.append("")
    return "\n".join(lines)


def plan_summary(plan: Plan) -> str:
    """The short text the plan and deploy commands print."""
    settling = len(plan.settling_clusters)
    if not plan.changes_anything:
        return f"{plan.package} {plan.version} on {plan.target}: nothing to change" + (
            f"; waiting for {settling} cluster(s) to finish installing it" if settling else ""
        )
    parts = []
    if plan.upload:
        parts.append("upload 1 wheel")
    if plan.jobs:
        parts.append(f"repoint {len(plan.jobs)} job(s)")
    n_auto = len(plan.automated_clusters)
    if n_auto:
        restarts = sum(1 for c in plan.automated_clusters if c.restart)
        parts.append(f"update {n_auto} cluster(s) ({restarts} restart(s))")
    if plan.deletions:
        parts.append(f"delete {len(plan.deletions)} old wheel(s)")
    return f"{plan.package} {plan.version} on {plan.target}: " + ", ".join(parts)


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(log.redact(text), encoding="utf-8")
    return path


def write_json(path: Path, data: Any) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def write_plan(plan: Plan, out_dir: Path) -> tuple[Path, Path]:
    return (
        write_json(out_dir / "plan.json", plan.to_json()),
        write_text(out_dir / "plan.md", plan_markdown(plan)),
    )


def _outcome(plan: Plan, result: ApplyResult) -> str:
    if result.error:
        return "failed"
    return "deployed" if plan.changes_anything else "unchanged"


def deploy_json(plan: Plan, result: ApplyResult) -> dict[str, Any]:
    return {
        "target": plan.target,
        "host": plan.host,
        "package": plan.package,
        "version": plan.version,
        "action": plan.action,
        "artifact": plan.artifact,
        "sha256": plan.sha256,
        "outcome": _outcome(plan, result),
        "error": result.error,
        "seconds": result.seconds,
        "phases": result.phases,
        "requests": result.requests,
        "requests_total": result.requests_total,
        "request_counts": result.request_counts,
        # how the changed jobs were read right before their writes, and the oldest such read
        "job_reads": result.job_reads or None,
        "oldest_read": result.oldest_read,
        "steps": [asdict(s) for s in result.steps],
        "clusters": [asdict(c) for c in result.clusters],
        "smoke": result.smoke,
        "warnings": list(plan.warnings) + result.warnings,
        "versions": result.versions,
        "pending": result.pending,
        "problems": result.problems,
        "plan": plan.to_json(),
    }


def deploy_markdown(plan: Plan, result: ApplyResult) -> str:
    verb = "Rollback" if plan.action == "rollback" else "Deploy"
    lines = [
        f"# {verb} of {plan.package} {plan.version} to {plan.target}: {_outcome(plan, result)}",
        "",
        f"Workspace: {plan.host}  ",
        f"Artifact: `{plan.artifact}`"
        + (f" (sha256 `{plan.sha256}`)" if plan.sha256 else "")
        + "  ",
        f"Duration: {result.seconds:.1f} s, {result.requests} API requests "
        f"({result.requests_total} with the reads)",
        "",
    ]
    if result.error:
        lines += [f"**Error:** {result.error}", ""]
    if not plan.changes_anything and not result.steps:
        lines += ["Nothing to change: the workspace was already on this version.", ""]
    if result.steps:
        lines.append("## Steps")
        lines.append("")
        lines += _table(
            ["Step", "Object", "Outcome", "Detail", "Seconds"],
            ((s.step, s.obj, s.outcome, s.detail, f"{s.seconds:.1f}") for s in result.steps),
        )
        lines.append("")
    if result.clusters:
        lines.append("## Clusters")
        lines.append("")
        lines += _table(
            ["Cluster", "Result", "Restarted", "Libraries", "Messages"],
            (
                (
                    f"{c.cluster_id} ({c.name})",
                    c.state,
                    "yes" if c.restarted else "no",
                    "; ".join(
                        f"{library_label(x['library'], plan.package)}: {x['status']}"
                        for x in c.libraries
                    ),
                    " ".join(c.messages),
                )
                for c in result.clusters
            ),
        )
        lines.append("")
    if plan.manual_clusters:
        lines.append(
            f"{len(plan.manual_clusters)} cluster(s) in manual mode: see runbook.md for the admin steps."
        )
        lines.append("")
    if result.smoke:
        s = result.smoke
        lines += [
            "## Smoke run",
            "",
            f"Run {s.get('run_id')}: {s.get('result')} {s.get('url') or ''}".rstrip(),
            "",
        ]
    if result.versions:
        lines += ["## Which object is on which version", ""]
        lines += _table(
            ["Object", "Versions"],
            (
                (f"{v['kind']} {v['id']} ({v['name']})", ", ".join(v["versions"]) or "—")
                for v in result.versions
            ),
        )
        lines.append("")
    if result.problems:
        lines += ["## Not converged", ""]
        lines += [f"- {p}" for p in result.problems]
        lines.append("")
    if result.pending:
        lines += ["## Pending", ""]
        lines += [f"- {p}" for p in result.pending]
        lines.append("")
    warnings = [*plan.warnings, *result.warnings]
    if warnings:
        lines.append("## Warnings")
        lines.append("")
        lines += [f"- {w}" for w in warnings]
        lines.append("")
    if result.phases:
        lines.append("## Durations")
        lines.append("")
        lines += [f"- {k}: {v:.1f} s" for k, v in result.phases.items()]
        if result.job_reads:
            how = "their list pages" if result.job_reads == "pages" else "jobs/get"
            lines.append(
                f"- every changed job was written from a read at most {result.oldest_read:.2f} s "
                f"old (read again through {how})"
            )
        lines.append("")
    return "\n".join(lines)


def write_deploy_report(plan: Plan, result: ApplyResult, out_dir: Path) -> tuple[Path, Path]:
    return (
        write_json(out_dir / "deploy-report.json", deploy_json(plan, result)),
        write_text(out_dir / "deploy-report.md", deploy_markdown(plan, result)),
    )


def status_text(st: Status) -> str:
    lines = [f"{st.package} on {st.target} ({st.host})", ""]
    if not st.objects:
        lines.append("no selected job or cluster references the package")
    else:
        width = max(len(f"{o.kind} {o.id} ({o.name})") for o in st.objects)
        for o in st.objects:
            label = f"{o.kind} {o.id} ({o.name})"
            versions = ", ".join(o.versions) or "—"
            detail = f"  [{o.detail}]" if o.detail else ""
            lines.append(f"{label:<{width}}  {versions}{detail}")
    lines.append("")
    live = ", ".join(st.live) or "none"
    lines.append(f"live: {live}" + ("  — DRIFT: more than one version is live" if st.drift else ""))
    lines.append(f"retained: {', '.join(st.retained) or 'none'}")
    lines += [f"note: {n}" for n in st.notes]
    return "\n".join(lines)

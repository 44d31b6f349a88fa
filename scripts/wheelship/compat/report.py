"""Renderings of a :class:`~wheelship.compat.check.CompatReport`: text, JSON and GitLab code quality.

The code-quality report is the JSON array GitLab reads from ``artifacts:reports:codequality``
(``description``, ``check_name``, ``fingerprint``, ``severity``, ``location.path``,
``location.lines.begin``), so merge requests show each break on its line. Fingerprints hash the
object and the kind of change, not the line, so a break keeps its identity while code moves.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from wheelship.compat.check import CompatReport, Verdict
from wheelship.files import write_atomic

SCHEMA = "wheelship-compat/1"


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "-"


def verdict_line(report: CompatReport) -> str:
    n = len(report.breaks)
    if report.verdict is Verdict.NOTHING_TO_COMPARE:
        return "compat: nothing to compare: no previous release tag is reachable from HEAD"
    if report.verdict is Verdict.COMPATIBLE:
        return f"compat: compatible with {report.against} ({report.release_label})"
    plural = "s" if n != 1 else ""
    if report.verdict is Verdict.ALLOWED:
        return (
            f"compat: {n} breaking change{plural} since {report.against}, allowed by "
            f"{report.allowed_by} ({report.release_label})"
        )
    return (
        f"compat: {n} breaking change{plural} since {report.against}, not allowed in "
        f"{report.release_label}"
    )


def render_text(report: CompatReport, *, verdict: bool = True) -> list[str]:
    """The readable report: what was compared, each break (file:line, object, what, why), the
    verdict (``verdict=False`` leaves it to the error line that follows a failed check)."""
    lines = []
    if report.against:
        lines.append(
            f"compat: {', '.join(report.packages)} at HEAD ({_short(report.head)}) against "
            f"{report.against} ({_short(report.against_commit)})"
        )
    lines.append(f"compat: {report.release_label}: {report.level_reason}")
    lines += [f"compat: {note}" for note in report.notes]
    if report.breaks:
        n = len(report.breaks)
        lines.append(f"{n} breaking change{'s' if n != 1 else ''} to the public API:")
        for b in report.breaks:
            where = f"{b.path}:{b.line}" + (f" (in {b.ref})" if b.ref != "HEAD" else "")
            shown = b.object + (f" (defined as {b.defined_as})" if b.defined_as else "")
            lines.append(f"  {where}: {shown}: {b.what}")
            lines.append(f"      breaks callers: {b.why}")
    if verdict:
        lines.append(verdict_line(report))
    return lines


def to_json(report: CompatReport) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "verdict": report.verdict.value,
        "exit_code": report.exit_code,
        "allowed_by": report.allowed_by,
        "head": {"ref": "HEAD", "commit": report.head},
        "against": (
            {"ref": report.against, "commit": report.against_commit} if report.against else None
        ),
        "release": {
            "version": report.version,
            "level": report.level.value,
            "reason": report.level_reason,
        },
        "packages": report.packages,
        "notes": report.notes,
        "breaks": [b.as_dict() for b in report.breaks],
    }


def fingerprint(kind: str, obj: str, parameter: str | None) -> str:
    return hashlib.sha256(f"wheelship-compat|{kind}|{obj}|{parameter or ''}".encode()).hexdigest()


def to_codequality(report: CompatReport) -> list[dict[str, Any]]:
    severity = "critical" if report.failed else "info"
    return [
        {
            "description": f"{b.object}: {b.what} — breaks callers: {b.why} "
            f"(since {report.against})",
            "check_name": f"wheelship-compat/{b.kind}",
            "fingerprint": fingerprint(b.kind, b.object, b.parameter),
            "severity": severity,
            "location": {"path": b.head_path, "lines": {"begin": b.head_line}},
        }
        for b in report.breaks
    ]


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` atomically (a reader never sees half a report)."""
    write_atomic(
        path,
        json.dumps(data, indent=2, ensure_ascii=False) + "\n",
        what="the report ",
        fix="pass a writable path (--json / --codequality)",
        make_parents=True,
    )

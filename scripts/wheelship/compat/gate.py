"""The compat check as a step of ``wheelship tag``: no breaking patch gets tagged.

:func:`pre_tag_check` runs between the tag decision and the tag's creation. For a patch release it
compares HEAD with the release the decision follows; breaks refuse the tag (exit 4, nothing is
created) unless ``--allow-breaking``, and then the release notes list them. Other levels pass
through: minor and major releases are judged by the ``compat`` job, and a final release after its
own pre-release (``v1.2.0-rc.1`` -> ``v1.2.0``) is the first final of its line, not a patch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from wheelship import log
from wheelship.compat.check import CompatReport, CompatSettings, Level, check
from wheelship.compat.report import render_text
from wheelship.release.decide import TagDecision
from wheelship.release.tag import PreTagCheck, TagSettings


def pre_tag_check(
    base: CompatSettings | None = None, environ: Mapping[str, str] | None = None
) -> PreTagCheck:
    """The check, with the compat settings the tag command resolved (packages, ... from the
    ``compat:`` section and ``WHEELSHIP_COMPAT_*`` variables); what the tag decision knows
    overrides them."""

    def run(decision: TagDecision, settings: TagSettings, repo: Path) -> list[str]:
        previous = decision.previous
        if decision.level != "patch" or previous is None or previous.release is None:
            return []
        if previous.release.is_prerelease:
            return []
        report = check(
            dataclasses.replace(
                base or CompatSettings(),
                project_dir=settings.project,
                against=previous.name,
                version=decision.tag,
                level=Level.PATCH,
                allow_breaking=settings.allow_breaking,
                allow_breaking_minor=False,
                tag_pattern=settings.tag_pattern,
                release_branch_pattern=settings.release_branch_pattern,
                branch=decision.branch,
                offline=not settings.fetch,
                environ=environ,
                context=f"the tag {decision.tag} being created",
            )
        )
        with log.section("wheelship_compat", f"API compatibility with {previous.name}"):
            # a refusal's error line says what the verdict line would: print it once
            for line in render_text(report, verdict=not report.failed):
                log.info(line)
        report.raise_if_failed()
        return release_note_lines(report, decision.tag or str(decision.release))

    return run


def release_note_lines(report: CompatReport, tag: str) -> list[str]:
    """What the release notes say about the API: the accepted breaks, or that there are none."""
    if not report.breaks:
        return [f"Public API: no breaking changes since {report.against} (wheelship compat)."]
    log.warn(
        f"tagging {tag} with {len(report.breaks)} breaking API change(s) "
        "(--allow-breaking); the release notes list them"
    )
    lines = [
        f"### Breaking API changes since {report.against} (released with --allow-breaking)",
        "",
    ]
    for b in report.breaks:
        where = f"{b.path}:{b.line}" + (f" in {b.ref}" if b.ref != "HEAD" else "")
        lines.append(f"- `{b.object}` ({where}): {b.what} — {b.why}")
    return lines

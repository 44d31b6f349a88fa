"""``wheelship plan``: what deploy would change (read-only; writes plan.json and plan.md)."""

from __future__ import annotations

import argparse

from wheelship import log
from wheelship.commands import _targets
from wheelship.deploy import mrnote, report, workflow
from wheelship.options import DIST, VARIABLE, opt

EXTRA = [
    DIST,
    opt(
        "mr_note",
        "--mr-note",
        help="also post the plan as a note on the merge request",
        kind="flag",
        default=False,
    ),
    opt(
        "note_token_var",
        "--note-token-var",
        help="name of the CI/CD variable holding a GitLab token that may comment (never the token)",
        default="WHEELSHIP_GITLAB_TOKEN",
        type=VARIABLE,
        metavar="VAR",
    ),
]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "Read-only (a read-only token suffices). Writes plan.md and plan.json to --out."
    _targets.configure(parser, EXTRA)


def main(args: argparse.Namespace) -> int:
    settings, values = _targets.settings(args, "plan", EXTRA)
    if _targets.run_group(settings, "plan") is not None:
        return 0
    plan = workflow.run_plan(settings)
    markdown = report.plan_markdown(plan)
    log.result(markdown)
    if values["mr_note"]:
        mrnote.post_plan_note(markdown, plan.target, values["note_token_var"])
    log.info(report.plan_summary(plan))
    log.info(f"wrote {settings.out / 'plan.json'} and {settings.out / 'plan.md'}")
    return 0

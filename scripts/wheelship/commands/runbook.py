"""``wheelship runbook``: the admin runbook for clusters the pipeline may not change."""

from __future__ import annotations

import argparse

from wheelship import log
from wheelship.commands import _targets
from wheelship.deploy import handoff, runbook, workflow
from wheelship.options import DIST, opt

EXTRA = [
    DIST,
    opt("to", "--to", help="a retained version instead of the build in --dist", metavar="X.Y.Z"),
    *_targets.ISSUE,
]


def configure(parser: argparse.ArgumentParser) -> None:
    _targets.configure(parser, EXTRA)


def main(args: argparse.Namespace) -> int:
    settings, values = _targets.settings(args, "runbook", EXTRA)
    plan = workflow.run_runbook(settings)
    log.result(runbook.runbook_markdown(plan))
    log.info(f"wrote {settings.out / 'runbook.md'} and {settings.out / 'runbook.json'}")
    if values["issue"]:
        # After the artifact is written: without a token the job warns and the file remains.
        handoff.open_or_update(plan, handoff.IssueSettings.from_options(values))
    return 0

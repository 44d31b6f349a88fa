"""``wheelship rollback``: deploy the previous (or a named) retained version again."""

from __future__ import annotations

import argparse

from wheelship import log
from wheelship.commands import _targets
from wheelship.deploy import workflow
from wheelship.options import opt

EXTRA = [
    opt(
        "to",
        "--to",
        help="the retained version to go back to (default: the previous one)",
        metavar="X.Y.Z",
    ),
    _targets.FORCE_UNLOCK,
]


def configure(parser: argparse.ArgumentParser) -> None:
    _targets.configure(parser, EXTRA)


def main(args: argparse.Namespace) -> int:
    settings, _values = _targets.settings(args, "rollback", EXTRA)
    if _targets.run_group(settings, "rollback") is not None:
        return 0
    plan, result = workflow.run_rollback(settings)
    _targets.print_applied(
        plan, result, f"rolled {plan.target} back to {plan.package} {plan.version}"
    )
    log.info(f"wrote {settings.out / 'deploy-report.md'} and {settings.out / 'deploy-report.json'}")
    return 0

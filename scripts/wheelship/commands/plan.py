"""``wheelship plan``: what deploy would change (read-only; writes plan.json and plan.md)."""

from __future__ import annotations

import argparse

from wheelship import log
from wheelship.commands import _targets
from wheelship.deploy import report, workflow

EXTRA = [_targets.DIST]


def configure(parser: argparse.ArgumentParser) -> None:
    _targets.configure(parser, EXTRA)


def main(args: argparse.Namespace) -> int:
    settings, _values = _targets.settings(args, "plan", EXTRA)
    plan = workflow.run_plan(settings)
    log.result(report.plan_markdown(plan))
    log.info(report.plan_summary(plan))
    log.info(f"wrote {settings.out / 'plan.json'} and {settings.out / 'plan.md'}")
    return 0

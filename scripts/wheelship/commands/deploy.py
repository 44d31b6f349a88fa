"""``wheelship deploy``: upload the wheel, repoint jobs, update clusters, apply retention."""

from __future__ import annotations

import argparse

from wheelship import log
from wheelship.commands import _targets
from wheelship.deploy import workflow
from wheelship.options import DIST

EXTRA = [DIST, _targets.FORCE_UNLOCK]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Steps, in order: upload (verified; never overwrites other bytes), repoint jobs,\n"
        "clusters (automated mode), retention, smoke run. Idempotent: run it again after any\n"
        "interruption. Writes plan.md/json, deploy-report.md/json (and runbook.md/json for\n"
        "manual-mode clusters) to --out. Exit 2: bad configuration; 1: a step failed."
    )
    _targets.configure(parser, EXTRA)


def main(args: argparse.Namespace) -> int:
    settings, _values = _targets.settings(args, "deploy", EXTRA)
    if _targets.run_group(settings, "deploy") is not None:
        return 0
    plan, result = workflow.run_deploy(settings)
    _targets.print_applied(plan, result, f"deployed {plan.package} {plan.version} to {plan.target}")
    if plan.manual_clusters:
        log.result(
            f"{len(plan.manual_clusters)} cluster(s) need an admin: see {settings.out / 'runbook.md'}"
        )
    log.info(f"wrote {settings.out / 'deploy-report.md'} and {settings.out / 'deploy-report.json'}")
    return 0

"""``wheelship config --check``: validate wheelship.yml without calling the workspace."""

from __future__ import annotations

import argparse
import json

from wheelship import log, schema
from wheelship.commands import _targets
from wheelship.deploy import workflow
from wheelship.options import opt

EXTRA = [
    opt(
        "check",
        "--check",
        help="validate and exit (the only mode today)",
        kind="flag",
        default=False,
        in_file=False,
    ),
    opt(
        "schema",
        "--schema",
        help="print the JSON Schema of wheelship.yml (for editor completion) and exit",
        kind="flag",
        default=False,
        in_file=False,
    ),
]


def configure(parser: argparse.ArgumentParser) -> None:
    _targets.configure(parser, EXTRA)


def main(args: argparse.Namespace) -> int:
    if args.schema:  # needs no file: what every command validates the file with
        log.result(json.dumps(schema.wheelship_schema(), indent=2, ensure_ascii=False))
        return 0
    settings, _values = _targets.settings(args, "config", EXTRA)
    cfg, package = workflow.check_config(settings)
    for name, t in cfg.targets.items():
        if settings.target and name != settings.target:
            continue
        host = t.host or "DATABRICKS_HOST"
        log.result(
            f"{name}: {package} -> {t.artifacts} on {host}; jobs: {t.jobs.select}; "
            f"clusters: {t.cluster_modes}; keep {t.keep}"
            + (f"; smoke: {t.smoke.job}" if t.smoke else "")
            + (
                f"; canary: {len(t.canary.jobs)} job(s), {len(t.canary.clusters)} cluster(s)"
                if t.canary
                else ""
            )
        )
    for name, members in cfg.groups.items():
        log.result(f"group {name}: {', '.join(members)}")
    log.info(f"{settings.config}: valid")
    return 0

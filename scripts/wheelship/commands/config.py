"""``wheelship config --check``: validate wheelship.yml without calling the workspace."""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Mapping
from typing import Any

from wheelship import cli, log, schema
from wheelship.commands import _targets
from wheelship.deploy import workflow
from wheelship.errors import ConfigurationError
from wheelship.options import Option, opt, resolve

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
    settings, values = _targets.settings(args, "config", EXTRA)
    cfg, package = workflow.check_config(settings)
    check_sections(values.data, {*cfg.targets, *cfg.groups})
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


def _file_options(command: str) -> list[Option]:
    """The options of ``command`` that its section of the file may set."""
    module = importlib.import_module(f"wheelship.commands.{command}")
    options: list[Option] = (
        list(module.OPTIONS) if hasattr(module, "OPTIONS") else [*_targets.COMMON, *module.EXTRA]
    )
    return [o for o in options if o.in_file]


def check_sections(data: Mapping[str, Any], targets: set[str]) -> None:
    """Every command section's values through that command's own parsing (what the schema
    cannot say: shell quoting, ...), and a ``target`` one of the file's targets or groups — so
    a file the check calls valid is not refused by a command for its shape."""
    for command, section in data.items():
        if command not in cli.COMMANDS or not isinstance(section, Mapping):
            continue
        values = resolve(
            argparse.Namespace(), _file_options(command), section, command, {}, quiet=True
        )
        target = values.values.get("target")
        if target and target not in targets:
            raise ConfigurationError(
                f"{command}.target: unknown target {target!r}",
                f"use one of: {', '.join(sorted(targets))}",
            )

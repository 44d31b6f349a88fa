"""``wheelship demo``: build the bundled example and deploy it to an embedded emulator."""

from __future__ import annotations

import argparse

from wheelship.demo.run import DemoSettings, run_demo
from wheelship.errors import ConfigurationError
from wheelship.options import add_options, load, opt

OPTIONS = [
    opt(
        "workdir",
        "--workdir",
        help="an empty directory for the example project and the reports (default: a new temporary one)",
        metavar="DIR",
        path="out-dir",
    ),
]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Offline and self-contained: a tagged copy of the example package tsff, an embedded\n"
        "Databricks workspace emulator on 127.0.0.1 with jobs and clusters on tsff 1.0.0, then\n"
        "a 1.1.0 release built and taken through plan, deploy, status and the admin runbook."
    )
    add_options(parser, OPTIONS)


def main(args: argparse.Namespace) -> int:
    workdir = load(args, OPTIONS)["workdir"]
    if workdir is not None and workdir.is_dir() and any(workdir.iterdir()):
        raise ConfigurationError(
            f"--workdir {workdir} is not empty",
            "pass an empty or new directory (the demo writes a project and reports there)",
        )
    result = run_demo(DemoSettings(workdir=workdir))
    return 0 if not result.invariants and not result.drift else 1

"""``wheelship test``: install the built wheel with its test extras and run pytest on it."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from wheelship.commands._common import CONFIG, DIST, PROJECT, load_section
from wheelship.options import Option, add_options, opt, parse_list, resolve
from wheelship.testrun.run import TestSettings, run_tests

OPTIONS: list[Option] = [
    PROJECT,
    CONFIG,
    DIST,
    opt(
        "extras",
        help="extras of the wheel that bring the test dependencies (comma list; empty for none)",
        default="test",
    ),
    opt(
        "junit",
        help="JUnit XML report to write, relative to the project (empty: none)",
        default="junit.xml",
        metavar="FILE",
    ),
    opt(
        "coverage",
        help="Cobertura coverage report to write, relative to the project (empty: no coverage)",
        default="coverage.xml",
        metavar="FILE",
    ),
    opt(
        "pytest_args",
        help="more arguments for pytest, as one shell-quoted string",
        default="",
        metavar="ARGS",
    ),
    opt(
        "no_install",
        help="test what is installed already; do not install the wheel",
        kind="flag",
        default=False,
    ),
]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Runs from the project directory: pytest --junitxml --cov=<the wheel's packages>.\n"
        "The exit code is pytest's (0 passed, 1 tests failed)."
    )
    add_options(parser, OPTIONS)


def settings_from(args: argparse.Namespace) -> TestSettings:
    r = resolve(args, OPTIONS, load_section(args, OPTIONS, "test"), "test")
    project = Path(r["project"])

    def under_project(value: str) -> Path | None:
        if not value:
            return None
        path = Path(value)
        return path if path.is_absolute() else project / path

    dist = under_project(r["dist"]) or project / "dist"
    return TestSettings(
        project=project,
        dist=dist,
        extras=tuple(parse_list(r["extras"])),
        junit=under_project(r["junit"]),
        coverage=under_project(r["coverage"]),
        pytest_args=tuple(shlex.split(r["pytest_args"])),
        install=not r["no_install"],
    )


def main(args: argparse.Namespace) -> int:
    return run_tests(settings_from(args))

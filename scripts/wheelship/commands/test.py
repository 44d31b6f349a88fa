"""``wheelship test``: install the built wheel with its test extras and run pytest on it."""

from __future__ import annotations

import argparse
import shlex

from wheelship.options import (
    CONFIG,
    DIST,
    PROJECT,
    VARIABLE,
    Option,
    ValueType,
    add_options,
    load,
    opt,
)
from wheelship.testrun.run import TestSettings, run_tests


def _shell_words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:  # "No closing quotation"
        raise ValueError(f"{text!r} is not shell-quoted words ({str(exc).lower()})") from None


#: More pytest arguments, as one shell-quoted string.
SHELL_WORDS = ValueType("shell words", _shell_words, {"type": "string"})

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
        path="out-file",
        under_project=True,
        make_parents=True,
    ),
    opt(
        "coverage",
        help="Cobertura coverage report to write, relative to the project (empty: no coverage)",
        default="coverage.xml",
        metavar="FILE",
        path="out-file",
        under_project=True,
        make_parents=True,
    ),
    opt(
        "pytest_args",
        help="more arguments for pytest, as one shell-quoted string",
        default="",
        type=SHELL_WORDS,
        metavar="ARGS",
    ),
    opt(
        "pass_env",
        "--pass-env",
        help="a secret variable the project's tests need after all (say, a token for its own "
        "integration tests); every other credential is removed from their environment",
        kind="list",
        type=VARIABLE,
        metavar="NAME",
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


def main(args: argparse.Namespace) -> int:
    return run_tests(TestSettings.from_options(load(args, OPTIONS, "test")))

"""The ``wheelship`` command: a dispatcher to one module per subcommand.

Each module in :mod:`wheelship.commands` exposes ``configure(parser)`` (its arguments) and
``main(args) -> int`` (parse settings, call the work layer). Modules are imported only when their
command runs, so ``wheelship --help`` stays fast. This function is the only place that catches
:class:`~wheelship.errors.WheelshipError`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from wheelship import __version__, log
from wheelship.errors import EXIT_BAD_INPUT, UsageError, WheelshipError

#: command -> one-line summary. The module is ``wheelship.commands.<command>``.
COMMANDS: dict[str, str] = {
    "version": "Print the version derived from git tags; optionally write a dotenv file.",
    "build": "Build sdist and wheel reproducibly, check them, write the manifest.",
    "test": "Install the built wheel with its test extras and run pytest (JUnit, coverage).",
    "compat": "Check the public API against the previous release for breaking changes.",
    "tag": "Create the next release tag (GitLab flow: release/X.Y branches).",
    "publish": "Upload the built files to a package index, never overwriting a version.",
    "config": "Validate wheelship.yml without calling the workspace.",
    "doctor": "Check a target's workspace before deploying: identity, permissions, sources.",
    "plan": "Show what deploy would change in a Databricks workspace (read-only).",
    "deploy": "Upload the wheel, repoint jobs, update clusters, apply retention.",
    "status": "Report which version every selected job and cluster runs (drift).",
    "rollback": "Deploy the previous (or a named) retained version again.",
    "runbook": "Write the admin runbook for clusters the pipeline may not change.",
    "emulator": "Serve an offline Databricks workspace emulator on loopback.",
    "demo": "Build the bundled example and deploy it to an embedded emulator.",
}


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}", f"see '{self.prog} --help'")


def new_parser(command: str, description: str) -> argparse.ArgumentParser:
    return _Parser(
        prog=f"wheelship {command}",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _top_parser() -> argparse.ArgumentParser:
    epilog = "commands:\n" + "\n".join(f"  {n:<10} {h}" for n, h in COMMANDS.items())
    parser = _Parser(
        prog="wheelship",
        description="Ship a Python wheel from a GitLab repository to Databricks.",
        epilog=epilog + "\n\nRun 'wheelship <command> --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wheelship {__version__}")
    parser.add_argument("command", metavar="command", help="one of the commands below")
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def run(argv: Sequence[str]) -> int:
    top = _top_parser()
    ns = top.parse_args(list(argv))
    name: str = ns.command
    if name not in COMMANDS:
        raise UsageError(f"unknown command {name!r}", f"use one of: {', '.join(COMMANDS)}")
    try:
        module = importlib.import_module(f"wheelship.commands.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"wheelship.commands.{name}":
            raise
        # listed for the help text, but its module is not in this installation
        raise UsageError(
            f"command {name!r} is not available in wheelship {__version__}",
            "upgrade wheelship (pip install -U wheelship)",
        ) from None
    parser = new_parser(name, COMMANDS[name])
    module.configure(parser)
    args = parser.parse_args(ns.args)
    code: int = module.main(args)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except WheelshipError as exc:
        log.info(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        log.info("error: interrupted — run the command again to finish; every step is idempotent")
        return 130
    except SystemExit as exc:  # argparse --help / --version
        return exc.code if isinstance(exc.code, int) else (EXIT_BAD_INPUT if exc.code else 0)
    except Exception:
        # A bug, not bad input: the traceback helps a report, but goes through the log so a
        # registered secret quoted in an exception message (requests does that) is masked.
        details = log.redact(traceback.format_exc().rstrip())
        log.info(details)
        where = _save_details(details)
        log.info(
            "error: unexpected internal error (see the traceback above"
            + (f", also in {where}" if where else "")
            + ") — this is a bug in wheelship: please report it with that traceback"
        )
        return 1


def _save_details(details: str) -> str | None:
    """The traceback in a file of its own (a CI log may be cut or collapsed), or None."""
    import tempfile

    try:
        fd, path = tempfile.mkstemp(prefix="wheelship-error-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"wheelship {__version__}\n{details}\n")
    except OSError:
        return None
    return path


if __name__ == "__main__":
    raise SystemExit(main())

"""``wheelship doctor``: check a target's workspace before the first deploy (changes nothing)."""

from __future__ import annotations

import argparse

from wheelship import log
from wheelship.commands import _targets
from wheelship.deploy import doctor
from wheelship.errors import ChecksFailed
from wheelship.options import DIST, opt

EXTRA = [
    DIST,
    opt(
        "read_only",
        "--read-only",
        help="write nothing at all: skip the artifacts write probe (what merge-request "
        "pipelines run)",
        kind="flag",
        default=False,
    ),
]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Checks, each pass/warn/fail with its fix: the identity (user or service principal,\n"
        "groups, admin), the artifacts folder (exists; writable: a probe file created and\n"
        "removed under .wheelship/, unless --read-only), the permission each selected job and cluster needs,\n"
        "bundle-managed and git-sourced jobs, library-source rules (DBFS on DBR 15+, access\n"
        "modes, READ VOLUME), a held deploy lock, what the deploy and retention would do\n"
        "(with --dist).\n"
        "Writes doctor.md and doctor.json to --out. Exit 1: a check failed; 2: bad input."
    )
    _targets.configure(parser, EXTRA)


def main(args: argparse.Namespace) -> int:
    settings, _values = _targets.settings(args, "doctor", EXTRA)
    if _targets.run_group(settings, "doctor") is not None:
        return 0
    result = doctor.run_doctor(settings)
    log.result(doctor.text(result))
    log.info(f"wrote {settings.out / 'doctor.md'} and {settings.out / 'doctor.json'}")
    if result.failed:
        # After the table: the failing check shows every row with its fix.
        first = result.failed[0]
        raise ChecksFailed(
            f"{len(result.failed)} check(s) failed on {result.target}, first: {first.check} "
            f"{first.subject}: {first.detail}",
            first.fix or "see doctor.md",
        )
    return 0

"""``wheelship status``: which version each selected job and cluster runs (drift report)."""

from __future__ import annotations

import argparse
import json

from wheelship import log
from wheelship.commands import _targets
from wheelship.deploy import report, workflow
from wheelship.settings import opt

EXTRA = [
    opt(
        "fail_on_drift",
        "--fail-on-drift",
        help="exit 3 when more than one version is live",
        kind="flag",
        default=False,
    ),
    opt("format", "--format", help="output format", choices=("text", "json"), default="text"),
]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "Read-only. Exit 3 with --fail-on-drift when more than one version is live."
    _targets.configure(parser, EXTRA)


def main(args: argparse.Namespace) -> int:
    settings, values = _targets.settings(args, "status", EXTRA)
    settings = settings.__class__(
        **{**settings.__dict__, "fail_on_drift": bool(values["fail_on_drift"])}
    )
    try:
        st = workflow.run_status(settings)
    except Exception:
        raise
    if values["format"] == "json":
        log.result(json.dumps(st.to_json(), indent=2, sort_keys=True))
    else:
        log.result(report.status_text(st))
    return 0

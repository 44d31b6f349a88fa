"""``wheelship status``: which version each selected job and cluster runs (drift report)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from wheelship import log
from wheelship.commands import _targets
from wheelship.deploy import handoff, report, workflow
from wheelship.errors import DriftDetected
from wheelship.options import opt

EXTRA = [
    opt(
        "fail_on_drift",
        "--fail-on-drift",
        help="exit 3 when more than one version is live (after printing the report)",
        kind="flag",
        default=False,
    ),
    opt("format", "--format", help="output format", choices=("text", "json"), default="text"),
    opt(
        "json",
        "--json",
        help="also write the report as JSON to PATH (relative to --project), drift or not",
        env="WHEELSHIP_STATUS_JSON",
        metavar="PATH",
        path="out-file",
        under_project=True,
        make_parents=True,
    ),
    *_targets.ISSUE,
]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Read-only (writes only the --json report). Exit 3 with --fail-on-drift when more than "
        "one version is live, after printing the report."
    )
    _targets.configure(parser, EXTRA)


def main(args: argparse.Namespace) -> int:
    settings, values = _targets.settings(args, "status", EXTRA)
    group = _targets.run_group(settings, "status")
    if group is not None:
        if values["fail_on_drift"] and any(m.outcome == "drift" for m in group.members):
            drifting = ", ".join(m.target for m in group.members if m.outcome == "drift")
            raise DriftDetected(
                f"more than one version is live on {drifting}",
                "deploy one version to every selected job and cluster of those targets",
            )
        return 0
    st = workflow.run_status(settings)
    data = st.to_json()
    if values["format"] == "json":
        log.result(json.dumps(data, indent=2, sort_keys=True))
    else:
        log.result(report.status_text(st))
    path: Path | None = values["json"]
    if path:
        report.write_json(path, data)
        log.info(f"wrote {path}")
    if values["issue"]:
        handoff.follow_up(st, handoff.IssueSettings.from_options(values))
    if values["fail_on_drift"]:
        # After the report is out: a failing drift check shows where the versions are.
        workflow.check_drift(st)
    return 0

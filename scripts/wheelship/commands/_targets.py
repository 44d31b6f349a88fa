"""Options and output shared by the commands that talk to a deploy target (plan, deploy, ...)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from wheelship import config, log
from wheelship.deploy import fleet, handoff, report
from wheelship.deploy.apply import ApplyResult
from wheelship.deploy.plan import Plan
from wheelship.deploy.workflow import Settings
from wheelship.errors import GroupFailed
from wheelship.options import Option, add_options, opt, resolve


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"expected a positive number, got {value}")
    return value


CONFIG = opt(
    "config",
    "--config",
    help="the configuration file (relative to --project)",
    env="WHEELSHIP_CONFIG",
    default=config.DEFAULT_CONFIG,
    metavar="FILE",
)
TARGET = opt(
    "target",
    "--target",
    help="the deploy target (a key of targets:), or a group of them (a key of groups:)",
    metavar="T",
)
DIST = opt(
    "dist",
    "--dist",
    help="the build's dist directory with wheelship-manifest.json (relative to --project)",
    default="dist",
    metavar="DIR",
)
OUT = opt(
    "out",
    "--out",
    help="where plan, report and runbook files are written (relative to --project)",
    default=".",
    metavar="DIR",
)
PROJECT = opt(
    "project",
    "--project",
    help="the project directory: package name from its pyproject.toml, base of relative paths",
    default=".",
    metavar="DIR",
)
CONCURRENCY = opt(
    "concurrency",
    "--concurrency",
    help="how many job/cluster calls run at once",
    type=_positive,
    default=16,
    metavar="N",
)

ISSUE = [
    opt(
        "issue",
        "--issue",
        help="open/update (runbook) or follow up (status) the cluster admins' hand-off issue",
        kind="flag",
        default=False,
    ),
    opt(
        "issue_token_var",
        "--issue-token-var",
        help="name of the CI/CD variable holding a project access token with the api scope "
        "(never the token)",
        default="WHEELSHIP_GITLAB_TOKEN",
        metavar="VAR",
    ),
    opt(
        "issue_labels",
        "--issue-labels",
        help="more labels for the hand-off issue, e.g. the cluster admins' team label",
        kind="list",
        metavar="LABEL",
    ),
]


def issue_settings(values: dict[str, Any]) -> handoff.IssueSettings:
    return handoff.IssueSettings(
        token_var=values["issue_token_var"], labels=tuple(values["issue_labels"])
    )


_PATHS = {"config", "dist", "out", "project"}

COMMON: list[Option] = [CONFIG, TARGET, OUT, PROJECT, CONCURRENCY]


def configure(parser: argparse.ArgumentParser, extra: list[Option]) -> None:
    add_options(parser, [*COMMON, *extra])


def settings(
    args: argparse.Namespace, command: str, extra: list[Option]
) -> tuple[Settings, dict[str, Any]]:
    """Resolve the options (flag > env > the command's section of the config file > default)."""
    first = resolve(args, [CONFIG, PROJECT], quiet=True)
    config_path = Path(first["config"])
    if not config_path.is_absolute():
        config_path = Path(first["project"]) / config_path
    args.config = str(config_path)
    data = config.load(config_path)
    values = resolve(args, [*COMMON, *extra], config.section(data, command), command)
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    kwargs: dict[str, Any] = {}
    project = Path(values["project"])
    for key, value in values.values.items():
        if key in fields and value is not None:
            kwargs[key] = Path(value) if key in _PATHS else value
    # Like the templates say: the configuration, dist/ and the reports live in the project.
    for key in ("dist", "out"):
        if key in kwargs and not kwargs[key].is_absolute():
            kwargs[key] = project / kwargs[key]
    return Settings(**kwargs), values.values


def print_applied(plan: Plan, result: ApplyResult, headline: str) -> None:
    """What deploy and rollback print: the warnings, then the outcome in one line (``headline``
    names what was done when something changed)."""
    for warning in [*plan.warnings, *result.warnings]:
        log.warn(warning)
    if not plan.changes_anything:
        log.result(report.plan_summary(plan))
    else:
        log.result(
            f"{headline}: {result.changed} change(s) in {result.seconds:.1f} s "
            f"({result.requests} requests)"
        )


def run_group(settings: Settings, command: fleet.Command) -> fleet.Summary | None:
    """When ``--target`` names a group: run ``command`` for each of its targets, print the
    summary, and raise :class:`GroupFailed` naming the targets that failed. None for a single
    target."""
    members = fleet.group_members(settings)
    if members is None:
        return None
    summary = fleet.run_group(settings, command, members)
    log.result(fleet.summary_markdown(summary))
    log.info(f"wrote {settings.out / f'{command}-summary.md'} and the reports of each target")
    if summary.failed:
        names = ", ".join(m.target for m in summary.failed)
        raise GroupFailed(
            f"{command} failed on {len(summary.failed)} of {len(summary.members)} targets of "
            f"group {summary.group}: {names}",
            f"see {command}-summary.md and each target's report in --out/<target>/; the other "
            "workspaces went through",
            summary.exit_code,
        )
    return summary

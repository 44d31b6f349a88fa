"""Options and output shared by the commands that talk to a deploy target (plan, deploy, ...)."""

from __future__ import annotations

import argparse

from wheelship import log
from wheelship.deploy import fleet, report
from wheelship.deploy.apply import ApplyResult
from wheelship.deploy.plan import Plan
from wheelship.deploy.workflow import Settings
from wheelship.errors import GroupFailed
from wheelship.options import (
    CONCURRENCY,
    CONFIG,
    OUT,
    PROJECT,
    TARGET,
    VARIABLE,
    Option,
    Resolved,
    add_options,
    load,
    opt,
)

COMMON: list[Option] = [CONFIG, TARGET, OUT, PROJECT, CONCURRENCY]

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
        type=VARIABLE,
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


FORCE_UNLOCK = opt(
    "force_unlock",
    "--force-unlock",
    help="remove the target's workspace lock first (when the deploy that holds it is gone)",
    kind="flag",
    default=False,
)


def configure(parser: argparse.ArgumentParser, extra: list[Option]) -> None:
    add_options(parser, [*COMMON, *extra])


def settings(
    args: argparse.Namespace, command: str, extra: list[Option]
) -> tuple[Settings, Resolved]:
    """Resolve the options (flag > env > the command's section of the config file > default);
    the deploy settings carry the file read here, so it is read once."""
    resolved = load(args, [*COMMON, *extra], command)
    return Settings.from_options(resolved), resolved


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

"""``wheelship tag``: create the next release tag the GitLab-flow way.

On ``release/X.Y`` the next patch of X.Y; on the default branch only with ``--bump`` or
``--version``; nothing when HEAD is tagged already. Prints the tag on stdout.
"""

from __future__ import annotations

import argparse

from wheelship.commands import compat
from wheelship.compat.check import CompatSettings
from wheelship.compat.gate import pre_tag_check
from wheelship.options import (
    CONFIG,
    PROJECT,
    RELEASE_BRANCH_PATTERN,
    TAG_PATTERN,
    URL,
    VARIABLE,
    Option,
    Resolved,
    add_options,
    load,
    opt,
    resolve,
)
from wheelship.release.tag import PreTagCheck, TagSettings, tag_release

OPTIONS: list[Option] = [
    PROJECT,
    CONFIG,
    opt(
        "branch",
        help="the branch being built (default: CI_COMMIT_BRANCH, then the checked-out branch)",
        metavar="NAME",
    ),
    opt(
        "default_branch",
        help="the default branch (default: CI_DEFAULT_BRANCH, then origin/HEAD, then main)",
        metavar="NAME",
    ),
    RELEASE_BRANCH_PATTERN,
    TAG_PATTERN,
    opt(
        "prefix",
        "--tag-prefix",
        help="prefix of the tags created",
        default="v",
        env="WHEELSHIP_TAG_PREFIX",
        config_key="tag-prefix",
    ),
    opt(
        "support_old_lines",
        help="allow patches on release lines older than the newest released one (turns off "
        "the single-production-release policy)",
        kind="flag",
        default=False,
    ),
    opt(
        "bump",
        help="on the default branch: cut the next major, minor or patch release",
        choices=("major", "minor", "patch"),
    ),
    opt(
        "version",
        "--version",
        help="tag exactly this version (X.Y.Z or X.Y.Z-rc.N)",
        env="WHEELSHIP_RELEASE_VERSION",
        metavar="X.Y.Z",
    ),
    opt(
        "method",
        help="how to create the tag: the Releases API (creates a release and an annotated tag) "
        "or git push of an annotated tag",
        choices=("release-api", "git-push"),
        default="release-api",
    ),
    opt(
        "token_var",
        help="NAME of the environment variable holding the token (never the token itself)",
        default="CI_JOB_TOKEN",
        type=VARIABLE,
        metavar="NAME",
    ),
    opt(
        "token_kind",
        help="how the API token is sent: job (JOB-TOKEN header) or private (PRIVATE-TOKEN); "
        "auto: job for CI_JOB_TOKEN",
        choices=("auto", "job", "private"),
        default="auto",
    ),
    opt("api_url", help="GitLab API v4 URL (default: CI_API_V4_URL)", type=URL, metavar="URL"),
    opt("project_id", help="GitLab project ID or path (default: CI_PROJECT_ID)", metavar="ID"),
    opt(
        "remote",
        help="git remote to fetch tags from and push to",
        default="origin",
        metavar="NAME",
    ),
    opt(
        "push_user",
        help="user name sent with the token on git push over HTTPS",
        default="oauth2",
        metavar="NAME",
    ),
    opt("no_fetch", help="do not fetch tags from the remote first", kind="flag", default=False),
    opt("dry_run", help="print what would be done; change nothing", kind="flag", default=False),
    opt(
        "allow_breaking",
        help="allow breaking API changes in a patch release (recorded in the release notes)",
        kind="flag",
        default=False,
    ),
]


def configure(parser: argparse.ArgumentParser) -> None:
    add_options(parser, OPTIONS)


def checks(resolved: Resolved) -> list[PreTagCheck]:
    """The checks that run between deciding and creating the tag: the API compatibility check
    refuses a breaking patch (its ``compat:`` settings, e.g. packages, come from the same file
    and the ``WHEELSHIP_COMPAT_*`` variables, resolved as ``wheelship compat`` resolves them)."""
    section = compat_section(resolved)
    values = resolve(argparse.Namespace(), compat.OPTIONS, section, "compat", quiet=True)
    values.values["project"] = resolved["project"]
    return [pre_tag_check(CompatSettings.from_options(values))]


def compat_section(resolved: Resolved) -> dict[str, object]:
    data = resolved.data.get("compat") or {}
    return dict(data) if isinstance(data, dict) else {}


def main(args: argparse.Namespace) -> int:
    resolved = load(args, OPTIONS, "tag")
    tag_release(TagSettings.from_options(resolved), checks=checks(resolved))
    return 0

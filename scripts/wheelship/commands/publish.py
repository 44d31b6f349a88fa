"""``wheelship publish``: upload the files of the build manifest, never overwriting a version.

Looks the version up in the index first: files there with the same sha256 are skipped, files
there with other bytes stop the upload before anything is sent.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wheelship.commands._common import (
    CONFIG,
    DIST,
    PROJECT,
    TAG_PATTERN,
    load_config,
    with_version_defaults,
)
from wheelship.options import Option, add_options, opt, resolve
from wheelship.release.publish import PublishSettings, publish

OPTIONS: list[Option] = [
    PROJECT,
    CONFIG,
    DIST,
    opt(
        "repository_url",
        help="upload URL of the index (default in GitLab CI: "
        "${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/pypi)",
        metavar="URL",
    ),
    opt(
        "simple_url",
        help="the index's simple API URL (default: <repository-url>/simple)",
        metavar="URL",
    ),
    opt(
        "username",
        help="user name for the index (default for GitLab: gitlab-ci-token)",
        metavar="NAME",
    ),
    opt(
        "username_var",
        help="NAME of the environment variable holding the user name (default for other "
        "indexes: TWINE_USERNAME)",
        metavar="NAME",
    ),
    opt(
        "password_var",
        help="NAME of the environment variable holding the password or token (default: "
        "CI_JOB_TOKEN for GitLab, TWINE_PASSWORD otherwise); never the secret itself",
        metavar="NAME",
    ),
    opt(
        "local_versions",
        help="versions with a local part (+...): refuse them, or allow them where the index "
        "accepts them",
        choices=("refuse", "allow"),
        default="refuse",
    ),
    TAG_PATTERN,
    opt(
        "dry_run",
        help="show what would be uploaded where; upload nothing",
        kind="flag",
        default=False,
    ),
]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "In a pipeline for a release tag (--tag-pattern) only that tag's version is published."
    )
    add_options(parser, OPTIONS)


def settings_from(args: argparse.Namespace) -> PublishSettings:
    section = with_version_defaults(load_config(args, OPTIONS), "publish", OPTIONS)
    r = resolve(args, OPTIONS, section, "publish")
    dist = Path(r["dist"])
    if not dist.is_absolute():
        dist = Path(r["project"]) / dist
    return PublishSettings(
        dist=dist,
        repository_url=r["repository_url"],
        simple_url=r["simple_url"],
        username=r["username"],
        username_var=r["username_var"],
        password_var=r["password_var"],
        local_versions=r["local_versions"],
        dry_run=r["dry_run"],
        tag_pattern=r["tag_pattern"],
    )


def main(args: argparse.Namespace) -> int:
    publish(settings_from(args))
    return 0

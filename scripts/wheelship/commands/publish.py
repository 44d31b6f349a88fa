"""``wheelship publish``: upload the files of the build manifest, never overwriting a version.

Looks the version up in the index first: files there with the same sha256 are skipped, files
there with other bytes stop the upload before anything is sent.
"""

from __future__ import annotations

import argparse

from wheelship.options import (
    CONFIG,
    DIST,
    PROJECT,
    TAG_PATTERN,
    URL,
    VARIABLE,
    Option,
    add_options,
    load,
    opt,
)
from wheelship.release.publish import PublishSettings, publish

OPTIONS: list[Option] = [
    PROJECT,
    CONFIG,
    DIST,
    opt(
        "repository_url",
        help="upload URL of the index (default in GitLab CI: "
        "${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/pypi)",
        type=URL,
        metavar="URL",
    ),
    opt(
        "simple_url",
        help="the index's simple API URL (default: <repository-url>/simple)",
        type=URL,
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
        type=VARIABLE,
        metavar="NAME",
    ),
    opt(
        "password_var",
        help="NAME of the environment variable holding the password or token (default: "
        "CI_JOB_TOKEN for GitLab, TWINE_PASSWORD otherwise); never the secret itself",
        type=VARIABLE,
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


def main(args: argparse.Namespace) -> int:
    publish(PublishSettings.from_options(load(args, OPTIONS, "publish")))
    return 0

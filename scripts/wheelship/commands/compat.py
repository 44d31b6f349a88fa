"""``wheelship compat``: check the public API against the previous release.

Exit codes: 0 compatible (or the release level allows the breaks, or there is nothing to
compare), 4 breaking changes the release may not carry, 2 bad input.
"""

from __future__ import annotations

import argparse

from wheelship import log
from wheelship.compat.check import CompatSettings, Level, check
from wheelship.compat.report import render_text, to_codequality, to_json, write_json
from wheelship.options import (
    CONFIG,
    OFFLINE,
    PROJECT,
    RELEASE_BRANCH_PATTERN,
    TAG_PATTERN,
    Option,
    add_options,
    load,
    opt,
)

OPTIONS: list[Option] = [
    PROJECT,
    CONFIG,
    opt(
        "against",
        help="the ref to compare HEAD with (default: the previous release tag reachable from HEAD)",
        env="WHEELSHIP_COMPAT_AGAINST",
        metavar="REF",
    ),
    opt(
        "version",
        help="the version being released, e.g. 1.2.4 (default: the release tag on HEAD, or the "
        "next tag on a release/X.Y branch)",
        env="WHEELSHIP_COMPAT_VERSION",
        metavar="X.Y.Z",
    ),
    opt(
        "level",
        help="the semver level being released, overriding what --version or the branch say",
        env="WHEELSHIP_COMPAT_LEVEL",
        choices=tuple(level.value for level in Level),
    ),
    opt(
        "packages",
        "--package",
        help="an import package (or module) whose API to check (default: the one named like the "
        "distribution, else the single package under src/ or at the top level)",
        env="WHEELSHIP_COMPAT_PACKAGES",
        kind="list",
        metavar="NAME",
    ),
    opt(
        "allow_breaking",
        help="accept breaking changes on a patch or minor release (the override 'wheelship tag' "
        "records in the release notes)",
        kind="flag",
    ),
    opt(
        "allow_breaking_minor",
        help="accept breaking changes on a minor release (semver puts them in a major)",
        kind="flag",
    ),
    TAG_PATTERN,
    RELEASE_BRANCH_PATTERN,
    OFFLINE,
    opt(
        "branch",
        help="the branch the release is tagged on (default: the merge request's target branch, "
        "else the pipeline's or the checked-out branch)",
        env="WHEELSHIP_COMPAT_BRANCH",
    ),
    opt(
        "json",
        help="write the JSON report to PATH (relative to the current directory)",
        env="WHEELSHIP_COMPAT_JSON",
        metavar="PATH",
        path="out-file",
        make_parents=True,
    ),
    opt(
        "codequality",
        help="write a GitLab code-quality report (artifacts:reports:codequality) to PATH",
        env="WHEELSHIP_COMPAT_CODEQUALITY",
        metavar="PATH",
        path="out-file",
        make_parents=True,
    ),
]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Semver: a patch release may not break the public API, a minor release may not unless\n"
        "allowed (--allow-breaking-minor), a major release may. Exit codes: 0 compatible or\n"
        "allowed, 4 breaking changes found, 2 bad input."
    )
    add_options(parser, OPTIONS)


def main(args: argparse.Namespace) -> int:
    resolved = load(args, OPTIONS, "compat")
    settings = CompatSettings.from_options(resolved)
    json_path, cq_path = resolved["json"], resolved["codequality"]
    report = check(settings)
    for line in render_text(report):
        log.result(line)
    if json_path:
        write_json(json_path, to_json(report))
    if cq_path:
        write_json(cq_path, to_codequality(report))
    if report.allowed_by == "--allow-breaking":
        log.warn(
            f"{len(report.breaks)} breaking change(s) accepted by --allow-breaking in "
            f"{report.release_label}"
        )
    report.raise_if_failed()
    return 0

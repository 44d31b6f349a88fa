"""``wheelship version``: print the PEP 440 version derived from git tags."""

from __future__ import annotations

import argparse
from pathlib import Path

from wheelship import dotenv, log
from wheelship.building.version import VersionInfo, VersionSettings, derive_version
from wheelship.options import CONFIG, OFFLINE, PROJECT, TAG_PATTERN, Option, add_options, load, opt

#: Options shared with ``wheelship build`` (which derives the version the same way).
VERSION_OPTIONS: list[Option] = [PROJECT, TAG_PATTERN, OFFLINE, CONFIG]
DOTENV = opt(
    "dotenv",
    "--dotenv",
    help="also write WHEELSHIP_VERSION, WHEELSHIP_DIST_NAME, ... to this dotenv file "
    "(relative to the current directory)",
    metavar="FILE",
    path="out-file",
)
OPTIONS: list[Option] = [*VERSION_OPTIONS, DOTENV]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "On a release tag the version is exactly X.Y.Z; elsewhere in a GitLab pipeline\n"
        "X.Y.(Z+1).dev<CI_PIPELINE_IID>; outside CI the setuptools-scm default."
    )
    add_options(parser, OPTIONS)


def main(args: argparse.Namespace) -> int:
    resolved = load(args, OPTIONS, "version")
    info = run(VersionSettings.from_options(resolved), resolved["dotenv"])
    log.result(info.version)
    return 0


def run(settings: VersionSettings, dotenv_path: Path | None = None) -> VersionInfo:
    info = derive_version(settings)
    log.info(describe(info))
    if dotenv_path:
        dotenv.write(dotenv_path, info.dotenv())
        log.info(f"wrote {dotenv_path}")
    return info


def describe(info: VersionInfo) -> str:
    if info.tag:
        why = f"release tag {info.tag}"
    elif info.last_release:
        why = f"{info.distance} commit(s) after {info.last_release.tag}"
    else:
        why = "no release tag yet"
    where = "GitLab pipeline" if info.in_pipeline else "outside CI"
    dirty = ", uncommitted changes" if info.dirty else ""
    return f"{info.name} {info.version} ({why}, {where}{dirty})"

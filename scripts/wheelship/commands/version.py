"""``wheelship version``: print the PEP 440 version derived from git tags."""

from __future__ import annotations

import argparse
from pathlib import Path

from wheelship import dotenv, log
from wheelship.building.version import VersionInfo, VersionSettings, derive_version
from wheelship.commands._common import (
    CONFIG,
    OFFLINE,
    PROJECT,
    TAG_PATTERN,
    check_one_tag_pattern,
    load_section,
)
from wheelship.options import Option, add_options, opt, resolve

#: Options shared with ``wheelship build`` (which derives the version the same way).
VERSION_OPTIONS: list[Option] = [PROJECT, TAG_PATTERN, OFFLINE, CONFIG]

OPTIONS: list[Option] = [
    *VERSION_OPTIONS,
    opt(
        "dotenv",
        "--dotenv",
        help="also write WHEELSHIP_VERSION, WHEELSHIP_DIST_NAME, ... to this dotenv file",
        metavar="FILE",
    ),
]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "On a release tag the version is exactly X.Y.Z; elsewhere in a GitLab pipeline\n"
        "X.Y.(Z+1).dev<CI_PIPELINE_IID>; outside CI the setuptools-scm default."
    )
    add_options(parser, OPTIONS)


def settings_from(values: dict[str, object]) -> VersionSettings:
    return VersionSettings(
        project=Path(str(values["project"])),
        tag_pattern=values.get("tag_pattern") or None,  # type: ignore[arg-type]
        offline=bool(values.get("offline")),
    )


def main(args: argparse.Namespace) -> int:
    section = load_section(args, OPTIONS, "version")
    check_one_tag_pattern(section)
    values = resolve(args, OPTIONS, section, "version")
    info = run(settings_from(values.values), values.get("dotenv"))
    log.result(info.version)
    return 0


def run(settings: VersionSettings, dotenv_path: str | None = None) -> VersionInfo:
    info = derive_version(settings)
    log.info(describe(info))
    if dotenv_path:
        dotenv.write(Path(dotenv_path), info.dotenv())
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

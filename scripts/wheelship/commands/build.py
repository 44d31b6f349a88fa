"""``wheelship build``: sdist + wheel, reproducible and checked, with manifest and dotenv."""

from __future__ import annotations

import argparse

from wheelship import log
from wheelship.building.builder import ISOLATION, BuildResult, BuildSettings, build_project
from wheelship.commands.version import VERSION_OPTIONS
from wheelship.options import Option, add_options, load, opt

OPTIONS: list[Option] = [
    *VERSION_OPTIONS,
    opt(
        "outdir",
        "--outdir",
        help="where the sdist, wheel and manifest go; relative to the project directory",
        metavar="DIR",
        path="out-dir",
        under_project=True,
    ),
    opt(
        "dotenv",
        "--dotenv",
        help="the dotenv file for later jobs, relative to the current directory (default: "
        "build.env in the output directory)",
        metavar="FILE",
        path="out-file",
    ),
    opt(
        "isolation",
        "--isolation",
        help="build environment: cached (reused per build requirements), fresh (new each "
        "time, like python -m build) or none (this interpreter)",
        choices=ISOLATION,
        default="cached",
    ),
    opt(
        "cache_dir",
        "--cache-dir",
        help="where cached build environments live, relative to the current directory (default "
        "$XDG_CACHE_HOME/wheelship)",
        env="WHEELSHIP_CACHE_DIR",
        metavar="DIR",
        path="out-dir",
    ),
    opt(
        "strict",
        "--strict",
        help="fail when the package has no long description (twine check --strict); without "
        "it that is a warning, and every other twine check failure fails the build",
        kind="flag",
        default=False,
    ),
    opt(
        "installer",
        "--installer",
        help="install build requirements with uv or pip (default: uv when available)",
        choices=("uv", "pip"),
    ),
]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Writes DIR/dist/<sdist>, DIR/dist/<wheel>, DIR/dist/wheelship-manifest.json and\n"
        "DIR/dist/build.env (WHEELSHIP_VERSION, WHEELSHIP_WHEEL, ...). The version is the one\n"
        "'wheelship version' prints; SOURCE_DATE_EPOCH is the commit time."
    )
    add_options(parser, OPTIONS)


def main(args: argparse.Namespace) -> int:
    # the version is derived as 'wheelship version' derives it: its section's tag settings apply
    result = run(BuildSettings.from_options(load(args, OPTIONS, "build")))
    log.result(str(result.wheel))
    return 0


def run(settings: BuildSettings) -> BuildResult:
    return build_project(settings)

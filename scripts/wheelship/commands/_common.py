"""What the release commands share: their common options, and finding and reading their
configuration file section."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from wheelship import config
from wheelship.building.version import unslash
from wheelship.errors import ConfigurationError
from wheelship.options import Option, opt, resolve

# Options several release commands have, declared once so that their flag, environment variable,
# metavar and help read the same in every command.
PROJECT = opt(
    "project",
    help="the project directory (where its pyproject.toml and wheelship.yml are)",
    default=".",
    metavar="DIR",
)
CONFIG = opt(
    "config",
    help="the wheelship configuration file, relative to --project (default: wheelship.yml "
    "there, when it exists)",
    metavar="FILE",
)
DIST = opt(
    "dist",
    help="directory with the built files and wheelship-manifest.json, relative to --project",
    default="dist",
    metavar="DIR",
)
TAG_PATTERN = opt(
    "tag_pattern",
    help="regular expression of release tags, with named groups major/minor/patch "
    "(and optional pre_label/pre_num)",
    metavar="RX",
)
RELEASE_BRANCH_PATTERN = opt(
    "release_branch_pattern",
    help="regular expression of release branches, with named groups major and minor "
    "(default: ^release/X.Y$)",
    metavar="RX",
)
OFFLINE = opt(
    "offline",
    help="never fetch tags or history from origin (a shallow clone is then an error)",
    kind="flag",
    default=False,
)


def load_config(args: argparse.Namespace, options: Iterable[Option]) -> dict[str, Any]:
    """The configuration file named by ``--config``, relative to ``--project`` (as the templates'
    ``config`` input says). A missing default file is fine; a file named explicitly must exist."""
    wanted = [o for o in options if o.dest in ("project", "config")]
    first = resolve(args, wanted, quiet=True)
    project = Path(first.get("project") or ".")
    cfg = Path(first.get("config") or config.DEFAULT_CONFIG)
    path = cfg if cfg.is_absolute() else project / cfg
    return config.load(path, required=first.sources.get("config") != "default")


def load_section(args: argparse.Namespace, options: Iterable[Option], name: str) -> dict[str, Any]:
    """The ``name:`` section of the configuration file (see :func:`load_config`)."""
    return config.section(load_config(args, options), name)


#: Keys of the ``version:`` section that every command reading tags shares: one tag pattern (and
#: one fetch policy) for the project, so version, build, tag and compat see the same releases.
SHARED_VERSION_KEYS = ("tag-pattern", "offline")


def with_version_defaults(
    data: dict[str, Any], name: str, options: Iterable[Option]
) -> dict[str, Any]:
    """The ``name:`` section, falling back to the ``version:`` section for the shared keys the
    command has (its own section and its flags still win)."""
    keys = {o.key for o in options} & set(SHARED_VERSION_KEYS)
    version = config.section(data, "version")
    merged = {**{k: version[k] for k in sorted(keys) if k in version}, **config.section(data, name)}
    check_one_tag_pattern(merged)
    return merged


def check_one_tag_pattern(
    section: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> None:
    """The templates' rules decide with WHEELSHIP_TAG_PATTERN which tags start a release
    pipeline; a different pattern in wheelship.yml would be silently outvoted by it (the variable
    wins), so the jobs and the file would disagree about what a release is."""
    env = os.environ if environ is None else environ
    given, written = env.get("WHEELSHIP_TAG_PATTERN", ""), section.get("tag-pattern")
    if given and written and unslash(given) != unslash(str(written)):
        raise ConfigurationError(
            f"WHEELSHIP_TAG_PATTERN {given!r} (the templates' release-tag-pattern input, which "
            f"their rules use) differs from tag-pattern {written!r} in wheelship.yml",
            "set the release-tag-pattern input to the pattern between slashes and delete "
            "tag-pattern from wheelship.yml (rules cannot read the file)",
        )

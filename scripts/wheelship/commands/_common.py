"""What the release commands share: finding and reading their configuration file section."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wheelship import config
from wheelship.settings import Option, resolve


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
    return {**{k: version[k] for k in sorted(keys) if k in version}, **config.section(data, name)}

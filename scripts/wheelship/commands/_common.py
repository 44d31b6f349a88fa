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

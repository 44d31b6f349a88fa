"""Dotenv files for GitLab's ``artifacts: reports: dotenv`` (later jobs get them as variables).

GitLab reads ``KEY=VALUE`` lines literally: no quoting, no multi-line values, keys are variable
names. Anything else is refused here rather than silently mangled by the runner.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from wheelship.errors import ConfigurationError
from wheelship.files import write_atomic

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def render(values: Mapping[str, str]) -> str:
    lines = []
    for key, value in values.items():
        if not _KEY.match(key):
            raise ConfigurationError(f"dotenv key {key!r} is not a variable name", "rename it")
        if "\n" in value or "\r" in value:
            raise ConfigurationError(f"dotenv value of {key} spans lines", "use one line")
        lines.append(f"{key}={value}\n")
    return "".join(lines)


def write(path: Path, values: Mapping[str, str]) -> Path:
    """Write atomically, so a later job never reads half a file."""
    return write_atomic(path, render(values), fix="choose another path (--dotenv)")


def read(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value
    return out

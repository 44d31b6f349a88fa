"""``wheelship.yml``: loading, ``${VAR}`` expansion and key-path errors.

Sections per command (``version:``, ``build:``, ``tag:``, ``publish:``, ``compat:``) hold the same
keys as the command's flags (``tag-pattern``), with flags and ``WHEELSHIP_*`` variables taking
precedence (:mod:`wheelship.options`). ``targets:`` holds the deploy targets (validated by the
deploy configuration schema).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from wheelship.errors import ConfigurationError

DEFAULT_CONFIG = "wheelship.yml"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\$")


def expand(value: Any, path: str, environ: Mapping[str, str] | None = None) -> Any:
    """Expand ``${VAR}`` in every string; ``$$`` is a literal ``$``. Unset variables are an
    error naming the key path."""
    env = os.environ if environ is None else environ
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            name = m.group(1)
            if name not in env:
                raise ConfigurationError(
                    f"{path}: environment variable {name} is not set",
                    f"set {name} or remove ${{{name}}} from the configuration",
                )
            return env[name]

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand(v, f"{path}.{k}" if path else str(k), env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, f"{path}[{i}]", env) for i, v in enumerate(value)]
    return value


def load(
    path: Path, *, required: bool = False, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Read the configuration file; ``{}`` when it is absent and not required."""
    if not path.is_file():
        if required:
            raise ConfigurationError(
                f"configuration file {path} not found",
                "create it (see docs/configuration.md) or pass --config",
            )
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigurationError(f"{where}: {problem}", "fix the YAML syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"{path}: expected a mapping at the top level", "see docs/configuration.md"
        )
    expanded: dict[str, Any] = expand(data, "", environ)
    return expanded


def section(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name) or {}
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"{name}: expected a mapping", f"write {name}: as key: value pairs"
        )
    return value

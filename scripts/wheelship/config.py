"""``wheelship.yml``: bounded loading, ``${VAR}`` expansion and validation against the schema.

Sections per command (``version:``, ``build:``, ``tag:``, ``publish:``, ``compat:``) hold the same
keys as the command's flags (``tag-pattern``), with flags and ``WHEELSHIP_*`` variables taking
precedence (:mod:`wheelship.options`). ``targets:`` holds the deploy targets. The whole file is
checked against ``wheelship.schema.json`` (:mod:`wheelship.schema`) when it is loaded, by every
command alike.

The file is untrusted input of a kind that can be made expensive: it is read only up to
:data:`MAX_BYTES`, and YAML aliases may expand it to at most :data:`MAX_NODES` values (a 1 KB
"billion laughs" document otherwise expands past any memory); a duplicate key is an error, not
"the last one wins".
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
import yaml.nodes

from wheelship import schema
from wheelship.errors import ConfigurationError

DEFAULT_CONFIG = "wheelship.yml"
#: A real wheelship.yml is a few KB; a cap keeps a wrong file (a log, a wheel) from being parsed.
MAX_BYTES = 1024 * 1024
#: Values after alias expansion; a large real configuration has a few hundred.
MAX_NODES = 100_000
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


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader (libyaml's parser when it is built) refusing duplicate keys (YAML says
    keys are unique; PyYAML keeps the last)."""

    where = ""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key (a list): the base class says so
                break
            if first is not None:
                raise ConfigurationError(
                    f"{self.where}:{key_node.start_mark.line + 1}: duplicate key {key!r} "
                    f"(first at line {first.start_mark.line + 1})",
                    "keep one of them: YAML keys must be unique",
                )
            seen[key] = key_node
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def _expanded_size(root: yaml.Node, where: str, max_nodes: int) -> int:
    """How many values the document has once every alias is expanded; refuses a recursive alias
    (``a: &a [*a]``) and more than :data:`MAX_NODES` values, before anything is constructed."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ConfigurationError(
                f"{where}:{node.start_mark.line + 1}: an alias refers to itself",
                "replace the recursive alias (*name inside &name) by the values",
            )
        active.add(key)
        total = 1
        if isinstance(node, yaml.nodes.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.nodes.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        if total > max_nodes:
            raise ConfigurationError(
                f"{where}: more than {max_nodes} values once YAML aliases are expanded",
                "write the configuration without nested aliases (*name)",
            )
        sizes[key] = total
        return total

    return size(root)


def read_text(
    path: Path,
    *,
    what: str = "configuration file",
    flag: str = "--config",
    max_bytes: int = MAX_BYTES,
) -> str:
    """The file's text, refused with one line when it is too big, not a file or not UTF-8."""
    try:
        with path.open("rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read {what} {path}: {exc.strerror or exc}",
            f"pass a readable YAML file with {flag}",
        ) from None
    if len(raw) > max_bytes:
        raise ConfigurationError(
            f"{what} {path} is larger than {max_bytes // 1024} KiB",
            f"pass the right file with {flag}",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            f"{what} {path} is not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start})",
            f"save it as UTF-8 YAML (a binary file was passed as {flag}?)",
        ) from None


def parse_yaml(text: str, where: str, *, max_nodes: int = MAX_NODES) -> Any:
    """Parse a YAML document with the caps and the duplicate-key check."""
    loader = _Loader(text)
    loader.where = where
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, where, max_nodes)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigurationError(f"{at}: {problem}", "fix the YAML syntax") from None
    except RecursionError:
        raise ConfigurationError(
            f"{where}: nested too deeply", "write the configuration with fewer levels"
        ) from None
    finally:
        loader.dispose()


def load(
    path: Path,
    *,
    required: bool = False,
    environ: Mapping[str, str] | None = None,
    validate: bool = True,
) -> dict[str, Any]:
    """Read, expand and validate the configuration file; ``{}`` when it is absent and not
    required."""
    if path.is_dir():
        raise ConfigurationError(
            f"configuration file {path} is a directory", "pass the YAML file with --config"
        )
    if not path.exists():
        if required:
            raise ConfigurationError(
                f"configuration file {path} not found",
                "create it (see docs/configuration.md) or pass --config",
            )
        return {}
    data = parse_yaml(read_text(path), str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"{path}: expected a mapping at the top level, got {schema.type_of(data)}",
            "write key: value pairs (see docs/configuration.md)",
        )
    expanded: dict[str, Any] = expand(data, "", environ)
    if validate:
        schema.validate(expanded, str(path))
    return expanded


def section(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name) or {}
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"{name}: expected a mapping", f"write {name}: as key: value pairs"
        )
    return value

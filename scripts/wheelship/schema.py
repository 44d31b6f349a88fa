"""Validate data against the JSON Schema of ``wheelship.yml`` (``wheelship.schema.json``).

The schema is the one description of the file's shape: editors complete and check it, the
configuration reference (docs/configuration.md) is generated from it, and every command validates
the loaded file with it before reading a single value — so ``config --check`` and the commands
cannot disagree.

This is a small validator for the subset of JSON Schema (2020-12) the schema uses, not the
``jsonschema`` library: that one pulls four packages (one a compiled Rust extension) into every CI
job that installs wheelship, and its messages name a schema path, where a user needs the file's key
path and the nearest valid key ("did you mean"). A test validates the same documents with
``jsonschema`` and requires the same verdict, and :func:`check_keywords` refuses a schema that
uses a keyword this module does not implement.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from wheelship.errors import ConfigurationError

SCHEMA_FILE = "wheelship.schema.json"

#: Keywords that constrain (implemented below) and keywords that only annotate (ignored).
ASSERTIONS = frozenset(
    {
        "type",
        "properties",
        "additionalProperties",
        "propertyNames",
        "required",
        "enum",
        "minimum",
        "maximum",
        "pattern",
        "format",
        "items",
        "minItems",
        "anyOf",
        "$ref",
    }
)
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples"}
)
#: Our extensions: the message for a value that fails ``pattern`` (a pattern is unreadable), and
#: the named groups a ``format: regex`` value must define (a tag pattern's major/minor/patch) —
#: what the commands require of it, so the check does not call valid what they refuse.
MESSAGE = "x-message"
GROUPS = "x-groups"

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing",
}


@cache
def wheelship_schema() -> dict[str, Any]:
    """The schema shipped in the package."""
    text = resources.files("wheelship").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def check_keywords(schema: Any, where: str = "#") -> list[str]:
    """Keywords in ``schema`` this validator does not implement (each with its location)."""
    problems: list[str] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key not in ASSERTIONS | ANNOTATIONS | {MESSAGE, GROUPS}:
                problems.append(f"{where}/{key}")
            if key in {"properties", "$defs"}:
                for name, sub in value.items():
                    problems += check_keywords(sub, f"{where}/{key}/{name}")
            elif key in {"items", "additionalProperties", "propertyNames"}:
                problems += check_keywords(value, f"{where}/{key}")
            elif key == "anyOf":
                for i, sub in enumerate(value):
                    problems += check_keywords(sub, f"{where}/{key}/{i}")
    return problems


def type_of(value: Any) -> str:
    """The JSON type of a loaded YAML value (YAML has more: dates, binary, sets)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__  # a YAML date or timestamp: no JSON type accepts it


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Validator:
    """Validate one document; raises :class:`ConfigurationError` for the first problem, with the
    key path (``deploy.concurrency``) after ``prefix`` (the file name)."""

    def __init__(self, schema: Mapping[str, Any], prefix: str = "") -> None:
        self.root = schema
        self.prefix = prefix

    def fail(self, path: str, what: str, fix: str) -> ConfigurationError:
        where = f"{self.prefix}: " if self.prefix else ""
        return ConfigurationError(f"{where}{path or '(top level)'}: {what}", fix)

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            ref = str(schema["$ref"])
            if not ref.startswith("#/$defs/"):
                raise ValueError(f"only local $defs references are supported, got {ref}")
            schema = self.root["$defs"][ref.removeprefix("#/$defs/")]
        return schema

    def problem(
        self, value: Any, schema: Mapping[str, Any], path: str
    ) -> ConfigurationError | None:
        """The first problem of ``value`` at ``path``, or None."""
        schema = self.resolve(schema)
        if "anyOf" in schema:
            return self._any_of(value, schema, path)
        kind = type_of(value)
        if "type" in schema:
            allowed = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            ok = kind in allowed or (kind == "integer" and "number" in allowed)
            if not ok:
                names = " or ".join(_TYPE_NAMES[t] for t in allowed)
                return self.fail(path, f"expected {names}, got {_describe(value)}", _fix(schema))
        if "enum" in schema and value not in schema["enum"]:
            # a bare YAML `off` is accepted as false, but the word is what to write
            listed = [c for c in schema["enum"] if isinstance(c, str)] or schema["enum"]
            choices = ", ".join(str(c) for c in listed)
            near = _near(str(value), [str(c) for c in schema["enum"]])
            return self.fail(
                path,
                f"expected one of {choices}, got {_shown(value)}",
                near or "use one of the listed values",
            )
        if kind in {"integer", "number"}:
            if "minimum" in schema and value < schema["minimum"]:
                return self.fail(
                    path, f"must be at least {schema['minimum']}, got {value}", _fix(schema)
                )
            if "maximum" in schema and value > schema["maximum"]:
                return self.fail(
                    path, f"must be at most {schema['maximum']}, got {value}", _fix(schema)
                )
        if kind == "string":
            if "pattern" in schema and not re.search(schema["pattern"], value):
                # the value is not repeated: it may be a secret where a name belongs, or a URL
                # with a password in it
                what = schema.get(MESSAGE, f"does not match {schema['pattern']}")
                return self.fail(path, what, _fix(schema))
            if schema.get("format") == "regex":
                try:
                    rx = re.compile(value)
                except re.error as exc:
                    return self.fail(
                        path, f"{_shown(value)} is not a regular expression ({exc})", _fix(schema)
                    )
                missing = sorted(set(schema.get(GROUPS, ())) - set(rx.groupindex))
                if missing:
                    return self.fail(
                        path, f"lacks the named groups {', '.join(missing)}", _fix(schema)
                    )
        if kind == "array":
            if len(value) < schema.get("minItems", 0):
                return self.fail(path, f"needs at least {schema['minItems']} item(s)", _fix(schema))
            if "items" in schema:
                for i, item in enumerate(value):
                    found = self.problem(item, schema["items"], f"{path}[{i}]")
                    if found:
                        return found
        if kind == "object":
            return self._object(value, schema, path)
        return None

    def _object(
        self, value: Mapping[Any, Any], schema: Mapping[str, Any], path: str
    ) -> ConfigurationError | None:
        props: Mapping[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key in value:
            if not isinstance(key, str):
                return self.fail(
                    _join(path, str(key)),
                    f"keys must be strings, got {_describe(key)}",
                    "quote the key (YAML reads yes/no/on/off as booleans, digits as numbers)",
                )
        for name in schema.get("required", []):
            if name not in value:
                return self.fail(_join(path, name), "missing", _fix(props.get(name, {})))
        if "propertyNames" in schema:
            for key in value:
                found = self.problem(key, schema["propertyNames"], _join(path, key))
                if found:
                    return found
        for key, item in value.items():
            sub = _join(path, key)
            if key in props:
                found = self.problem(item, props[key], sub)
            elif extra is False:
                near = _near(key, list(props))
                keys = ", ".join(props)
                return self.fail(
                    sub,
                    "unknown key",
                    f"{near} (keys here: {keys})" if near else f"use one of: {keys}",
                )
            elif isinstance(extra, dict):
                found = self.problem(item, extra, sub)
            else:
                found = None
            if found:
                return found
        return None

    def _any_of(
        self, value: Any, schema: Mapping[str, Any], path: str
    ) -> ConfigurationError | None:
        branches = [self.resolve(b) for b in schema["anyOf"]]
        problems = []
        for branch in branches:
            found = self.problem(value, branch, path)
            if found is None:
                return None
            problems.append((branch, found))
        # Report the branch meant for this kind of value (a mapping's problem for a mapping).
        kind = type_of(value)
        for branch, found in problems:
            types = branch.get("type", [])
            if kind in (types if isinstance(types, list) else [types]):
                return found
        names = sorted({t for b in branches for t in _types(b)}, key=list(_TYPE_NAMES).index)
        allowed = " or ".join(_TYPE_NAMES[t] for t in names)
        return self.fail(path, f"expected {allowed}, got {_describe(value)}", _fix(schema))

    def validate(self, value: Any) -> None:
        found = self.problem(value, self.root, "")
        if found:
            raise found


def _types(schema: Mapping[str, Any]) -> list[str]:
    t = schema.get("type", [])
    return t if isinstance(t, list) else [t]


def _describe(value: Any) -> str:
    kind = type_of(value)
    name = _TYPE_NAMES.get(kind, f"a YAML {kind}")
    if kind in {"object", "array", "null"}:
        return name
    return f"{name} ({_shown(value)})"


def _near(word: str, candidates: list[str]) -> str:
    match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"did you mean {match[0]}?" if match else ""


def _fix(schema: Mapping[str, Any]) -> str:
    """A fix for a value that breaks ``schema``: what the value is for, from its description."""
    description = str(schema.get("description", "")).split(". ")[0].rstrip(".")
    if description:
        return f"fix the value ({description}); see docs/configuration.md"
    return "fix the value; see docs/configuration.md"


def validate(data: Any, prefix: str = "") -> None:
    """Validate a loaded ``wheelship.yml`` (after ``${VAR}`` expansion)."""
    Validator(wheelship_schema(), prefix).validate(data)

"""What a library spec or a dependency line refers to: a file in one of the three stores, and a
Python package (name, version) when one can be read from it.

Path forms as the real service accepts them in library specs: ``/Volumes/...`` (Unity Catalog
volumes), ``/Workspace/...`` (workspace files), ``dbfs:/...`` (legacy DBFS; a bare absolute path
outside ``/Volumes`` and ``/Workspace`` is DBFS too). Cloud URLs (``s3://``, ``abfss://``,
``gs://``) cannot be checked offline and are taken as present.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

FILE_KEYS = ("whl", "jar", "egg", "requirements")
_CLOUD = re.compile(r"^(s3a?|abfss?|wasbs?|gs|https?)://", re.IGNORECASE)


@dataclass(frozen=True)
class FileRef:
    store: Literal["volumes", "workspace", "dbfs"]
    path: str  # normalized path inside the store (Volumes paths keep their /Volumes prefix)


def file_ref(path: str) -> FileRef | None:
    """The store and path a library path points at; None for cloud URLs / non-paths."""
    if not isinstance(path, str) or not path or _CLOUD.match(path):
        return None
    if path.startswith("dbfs:"):
        rest = path[5:]
        return FileRef("dbfs", _clean(rest if rest.startswith("/") else "/" + rest))
    if not path.startswith("/"):
        return None
    if path == "/Volumes" or path.startswith("/Volumes/"):
        return FileRef("volumes", _clean(path))
    if path == "/Workspace" or path.startswith("/Workspace/"):
        return FileRef("workspace", _clean(path[len("/Workspace") :] or "/"))
    if path.startswith("/dbfs/"):
        return FileRef("dbfs", _clean(path[len("/dbfs") :]))
    return FileRef("dbfs", _clean(path))


def _clean(path: str) -> str:
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return "/" + "/".join(parts)


def library_path(spec: dict[str, Any]) -> str | None:
    for key in FILE_KEYS:
        value = spec.get(key)
        if isinstance(value, str):
            return value
    return None


def wheel_package(path: str) -> tuple[str, str] | None:
    """(canonical name, version) from a wheel file name, else None."""
    name = posixpath.basename(path)
    if not name.endswith(".whl"):
        return None
    try:
        dist, version, _, _ = parse_wheel_filename(name)
    except InvalidWheelFilename:
        return None
    return str(dist), str(version)


def requirement_package(line: str) -> tuple[str, str | None] | None:
    """(canonical name, pinned version or None) from a pip requirement line."""
    try:
        req = Requirement(line)
    except InvalidRequirement:
        return None
    pinned = None
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "==="):
        pinned = specs[0].version
    return canonicalize_name(req.name), pinned


def package_of(spec: dict[str, Any]) -> tuple[str, str | None] | None:
    """The Python package a library spec installs, when it can be told."""
    path = spec.get("whl")
    if isinstance(path, str):
        return wheel_package(path)
    pypi = spec.get("pypi")
    if isinstance(pypi, dict) and isinstance(pypi.get("package"), str):
        return requirement_package(pypi["package"])
    return None


def dependency_package(line: str) -> tuple[str, str | None] | None:
    """A serverless environment dependency: a wheel path or a requirement line."""
    if line.endswith(".whl") and ("/" in line):
        return wheel_package(line)
    return requirement_package(line)


def dependency_file(line: str) -> FileRef | None:
    """Environment dependencies that are local paths (wheels, requirement files)."""
    if line.startswith("-r "):
        line = line[3:].strip()
    if line.startswith(("/", "dbfs:")):
        return file_ref(line.split(" ")[0])
    return None


def canonical(name: str) -> str:
    return str(canonicalize_name(name))

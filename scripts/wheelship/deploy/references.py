"""Find and rewrite references to one package in job settings and cluster libraries.

A reference is any place that pins a version of the package:

- ``libraries[].whl`` — a wheel path (Volumes, Workspace, DBFS, cloud URL) whose file name parses
  as a wheel of the package;
- ``libraries[].pypi.package`` — a requirement pinning the package (``tsff==1.2.0``);
- ``environments[].spec.dependencies[]`` — pip requirement lines: a wheel path, a pinned
  requirement, or a direct reference (``tsff @ /Volumes/.../tsff-1.2.0-py3-none-any.whl``);
- all of the above inside tasks nested in ``for_each_task``.

Unpinned requirements (``tsff``, ``tsff>=1``) are reported but never rewritten: they float.
Everything here is pure: plain dicts in, plain dicts out; the input is never mutated.
"""

from __future__ import annotations

import copy
import functools
import json
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from wheelship.databricks import paths


@dataclass(frozen=True)
class Ref:
    """One reference to the package. ``version`` is None for unpinned requirements."""

    location: str  # tasks[train].libraries[0].whl
    kind: Literal["whl", "pypi", "dependency"]
    value: str
    version: str | None

    @property
    def is_pinned(self) -> bool:
        return self.version is not None


@dataclass(frozen=True)
class RefChange:
    location: str
    old: str
    new: str


#: Parsing is most of a plan's CPU on a large workspace, and the same few strings (one wheel
#: path, one pin) come back on every job: the pure string parsers below are memoized.
_PARSE_CACHE = 8192


@functools.lru_cache(maxsize=_PARSE_CACHE)
def wheel_version(value: str, package: str) -> str | None:
    """The version of ``package`` a wheel path or URL names, or None when it is not a wheel of
    the package."""
    base = posixpath.basename(value.split("#", 1)[0].split("?", 1)[0])
    if not base.endswith(".whl"):
        return None
    try:
        name, version, _build, _tags = parse_wheel_filename(base)
    except InvalidWheelFilename:
        return None
    return str(version) if name == canonicalize_name(package) else None


def same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def _is_pathlike(value: str) -> bool:
    return value.startswith(("/", "dbfs:", "file:", "./")) or "://" in value


#: The name at the start of a requirement, as packaging's tokenizer reads it (its IDENTIFIER):
#: a line whose name is another package is not ours, whether or not the rest parses.
_REQUIREMENT_NAME = re.compile(r"\b[a-zA-Z0-9][a-zA-Z0-9._-]*\b")


@functools.lru_cache(maxsize=_PARSE_CACHE)
def requirement_ref(value: str, package: str) -> tuple[bool, str | None]:
    """``(is_package, pinned_version)`` for a pip requirement line."""
    text = value.strip()
    if not text or text.startswith(("-", "#")):
        return False, None  # pip options (--index-url ...) and comments
    if _is_pathlike(text):
        version = wheel_version(text, package)
        return version is not None, version
    name = _REQUIREMENT_NAME.match(text)
    if name is None or canonicalize_name(name.group()) != canonicalize_name(package):
        return False, None  # another package (or no name): the full parse cannot make it ours
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return False, None
    if canonicalize_name(req.name) != canonicalize_name(package):
        return False, None
    if req.url:
        return True, wheel_version(req.url, package)
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator in {"==", "==="} and "*" not in specs[0].version:
        return True, specs[0].version
    return True, None


@functools.lru_cache(maxsize=_PARSE_CACHE)
def rewrite_requirement(value: str, package: str, version: str, wheel_path: str) -> str:
    """The requirement line pinned to ``version``: wheel paths become ``wheel_path``, direct
    references keep their form, pinned requirements keep extras and markers. A line that
    already pins ``version`` is returned unchanged (however it is spelled)."""
    text = value.strip()
    if _is_pathlike(text):
        return wheel_path
    req = Requirement(text)
    if not req.url:
        pinned = requirement_ref(text, package)[1]
        if pinned is not None and same_version(pinned, version):
            return value
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    marker = f" ; {req.marker}" if req.marker else ""
    if req.url:
        return f"{req.name}{extras} @ {wheel_path}{marker}"
    return f"{req.name}{extras}=={version}{marker}"


class LibraryRef(NamedTuple):
    """A Libraries API spec that references the package; ``version`` is None when unpinned."""

    kind: Literal["whl", "pypi"]
    value: str
    version: str | None


def library_ref(library: Mapping[str, Any], package: str) -> LibraryRef | None:
    """The reference when a Libraries API spec references the package."""
    whl = library.get("whl")
    if isinstance(whl, str):
        version = wheel_version(whl, package)
        return LibraryRef("whl", whl, version) if version else None
    pypi = library.get("pypi")
    if isinstance(pypi, Mapping) and isinstance(pypi.get("package"), str):
        is_pkg, version = requirement_ref(pypi["package"], package)
        return LibraryRef("pypi", pypi["package"], version) if is_pkg else None
    return None


def library_label(library: Mapping[str, Any], package: str) -> str:
    """How reports and logs name a library: the version it pins, else its path or requirement."""
    found = library_ref(library, package)
    if found and found.version:
        return found.version
    pypi = library.get("pypi") or {}
    return str(library.get("whl") or pypi.get("package") or json.dumps(dict(library)))


def installs(library: Mapping[str, Any], path: str) -> bool:
    """Whether a Libraries API spec is the wheel file at ``path`` (however the path is spelled:
    ``dbfs:/x`` and ``/dbfs/x``, ``/Workspace/x`` and ``/x``)."""
    whl = library.get("whl")
    return isinstance(whl, str) and paths.canonical(whl) == paths.canonical(path)


def _task_libraries(
    task: Mapping[str, Any], prefix: str
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for i, lib in enumerate(task.get("libraries") or []):
        if isinstance(lib, Mapping):
            yield f"{prefix}.libraries[{i}]", lib
    nested = (task.get("for_each_task") or {}).get("task")
    if isinstance(nested, Mapping):
        yield from _task_libraries(nested, f"{prefix}.for_each_task.task")


def find_refs(settings: Mapping[str, Any], package: str) -> list[Ref]:
    """Every reference to ``package`` in a job's settings, in document order."""
    refs: list[Ref] = []
    for task in settings.get("tasks") or []:
        key = task.get("task_key", "?")
        for where, lib in _task_libraries(task, f"tasks[{key}]"):
            found = library_ref(lib, package)
            if found:
                kind, value, version = found
                suffix = ".whl" if kind == "whl" else ".pypi.package"
                refs.append(Ref(where + suffix, kind, value, version))
    for env in settings.get("environments") or []:
        key = env.get("environment_key", "?")
        for i, dep in enumerate((env.get("spec") or {}).get("dependencies") or []):
            if not isinstance(dep, str):
                continue
            is_pkg, version = requirement_ref(dep, package)
            if is_pkg:
                refs.append(
                    Ref(f"environments[{key}].spec.dependencies[{i}]", "dependency", dep, version)
                )
    return refs


def referenced_versions(settings: Mapping[str, Any], package: str) -> set[str]:
    return versions_of(find_refs(settings, package))


def versions_of(refs: Iterable[Ref]) -> set[str]:
    """The versions references pin (found once with :func:`find_refs`, read many times)."""
    return {r.version for r in refs if r.version}


def referenced_wheels(settings: Mapping[str, Any], package: str) -> set[str]:
    """Wheel paths (whl libraries, path dependencies, direct references) the job needs."""
    return wheels_of(find_refs(settings, package))


def wheels_of(refs: Iterable[Ref]) -> set[str]:
    """The wheel paths among references (see :func:`referenced_wheels`)."""
    out: set[str] = set()
    for ref in refs:
        if ref.kind == "whl":
            out.add(ref.value)
        elif ref.kind == "dependency":
            text = ref.value.strip()
            if _is_pathlike(text):
                out.add(text)
            else:
                req = Requirement(text)
                if req.url:
                    out.add(req.url)
    return out


@dataclass(frozen=True)
class JobRewrite:
    """What repointing one job changes: complete replacement entries for the changed tasks
    (``update`` merges ``tasks`` by ``task_key``) and the complete ``environments`` array when
    a dependency changed. Nothing else in the settings is touched."""

    tasks: tuple[dict[str, Any], ...]
    environments: tuple[dict[str, Any], ...] | None
    changes: tuple[RefChange, ...]

    @property
    def new_settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.tasks:
            out["tasks"] = [copy.deepcopy(t) for t in self.tasks]
        if self.environments is not None:
            out["environments"] = [copy.deepcopy(e) for e in self.environments]
        return out

    def taken_settings(self) -> dict[str, Any]:
        """``new_settings`` without copying, for a caller that drops this rewrite right away
        (the plan): the result holds the rewrite's own entries."""
        out: dict[str, Any] = {}
        if self.tasks:
            out["tasks"] = list(self.tasks)
        if self.environments is not None:
            out["environments"] = list(self.environments)
        return out

    def __bool__(self) -> bool:
        return bool(self.changes)


class _LibraryEdit(NamedTuple):
    """One library entry to repoint: ``depth`` for_each_task levels down, ``position`` in its
    task's libraries."""

    depth: int
    position: int
    kind: Literal["whl", "pypi"]
    change: RefChange


def _library_edits(
    task: Mapping[str, Any], prefix: str, package: str, version: str, wheel_path: str, depth: int
) -> list[_LibraryEdit]:
    edits: list[_LibraryEdit] = []
    for i, lib in enumerate(task.get("libraries") or []):
        if not isinstance(lib, dict):
            continue
        found = library_ref(lib, package)
        if not found or found.version is None:
            continue
        kind, value, _old = found
        if kind == "whl" and value != wheel_path:
            where = f"{prefix}.libraries[{i}].whl"
            edits.append(_LibraryEdit(depth, i, kind, RefChange(where, value, wheel_path)))
        elif kind == "pypi":
            new = rewrite_requirement(value, package, version, wheel_path)
            if new != value:
                where = f"{prefix}.libraries[{i}].pypi.package"
                edits.append(_LibraryEdit(depth, i, kind, RefChange(where, value, new)))
    nested = (task.get("for_each_task") or {}).get("task")
    if isinstance(nested, dict):
        edits += _library_edits(
            nested, f"{prefix}.for_each_task.task", package, version, wheel_path, depth + 1
        )
    return edits


def _copy(value: Any) -> Any:
    """``copy.deepcopy`` for what a JSON body holds, several times faster on plain dicts,
    lists and strings (anything else goes to deepcopy)."""
    kind = type(value)
    if kind is dict:
        return {k: _copy(v) for k, v in value.items()}
    if kind is list:
        return [_copy(v) for v in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    return copy.deepcopy(value)


def _edited_task(task: Mapping[str, Any], edits: Iterable[_LibraryEdit]) -> dict[str, Any]:
    """A copy of ``task`` with the edits made (the input is not touched)."""
    out: dict[str, Any] = _copy(dict(task))
    for edit in edits:
        where = out
        for _ in range(edit.depth):
            where = where["for_each_task"]["task"]
        lib = where["libraries"][edit.position]
        if edit.kind == "whl":
            lib["whl"] = edit.change.new
        else:
            lib["pypi"]["package"] = edit.change.new
    return out


def rewrite(settings: Mapping[str, Any], package: str, version: str, wheel_path: str) -> JobRewrite:
    """Repoint every pinned reference to ``package`` at ``version`` / ``wheel_path``."""
    # The changes are found on the input and only the entries that change are copied: a
    # large workspace plans a thousand jobs, and deep copies were a third of its CPU.
    tasks: list[dict[str, Any]] = []
    changes: list[RefChange] = []
    for task in settings.get("tasks") or []:
        key = task.get("task_key", "?")
        edits = _library_edits(task, f"tasks[{key}]", package, version, wheel_path, 0)
        if edits:
            tasks.append(_edited_task(task, edits))
            changes += [e.change for e in edits]
    env_edits: list[tuple[int, int, RefChange]] = []
    for e, env in enumerate(settings.get("environments") or []):
        key = env.get("environment_key", "?")
        deps = (env.get("spec") or {}).get("dependencies")
        if not isinstance(deps, list):
            continue
        for i, dep in enumerate(deps):
            if not isinstance(dep, str):
                continue
            is_pkg, old = requirement_ref(dep, package)
            if not is_pkg or old is None:
                continue
            new = rewrite_requirement(dep, package, version, wheel_path)
            if new != dep:
                where = f"environments[{key}].spec.dependencies[{i}]"
                env_edits.append((e, i, RefChange(where, dep, new)))
    environments: tuple[dict[str, Any], ...] | None = None
    if env_edits:
        copied = _copy([dict(e) for e in settings.get("environments") or []])
        for e, i, change in env_edits:
            copied[e]["spec"]["dependencies"][i] = change.new
            changes.append(change)
        environments = tuple(copied)
    return JobRewrite(tasks=tuple(tasks), environments=environments, changes=tuple(changes))


def rewritten(settings: Mapping[str, Any], rw: JobRewrite) -> dict[str, Any]:
    """What :func:`apply_rewrite` returns, without copying anything: the result shares its
    values with ``settings`` and ``rw``, so it is for reading only (a plan reads every job's
    settings after the deploy once)."""
    out = dict(settings)
    by_key = {t.get("task_key"): t for t in rw.tasks}
    if by_key:
        out["tasks"] = [by_key.get(t.get("task_key"), t) for t in settings.get("tasks") or []]
    if rw.environments is not None:
        out["environments"] = list(rw.environments)
    return out


def apply_rewrite(settings: Mapping[str, Any], rw: JobRewrite) -> dict[str, Any]:
    """The settings after an ``update`` with ``rw.new_settings`` (tasks merged by key,
    environments replaced) — what the workspace will hold afterwards."""
    out = copy.deepcopy(dict(settings))
    by_key = {t.get("task_key"): t for t in rw.tasks}
    if by_key:
        out["tasks"] = [
            copy.deepcopy(by_key.get(t.get("task_key"), t)) for t in out.get("tasks") or []
        ]
    if rw.environments is not None:
        out["environments"] = [copy.deepcopy(e) for e in rw.environments]
    return out

"""Public API differences between two commits, found by griffe.

Both sides are read from git objects (one ``git cat-file --batch``) into temporary directories,
never from the working tree or an installed copy, and griffe reads them statically (no import, no
project code runs). griffe decides what is public: names without a leading underscore, or
exactly the names in ``__all__`` where a module defines it. On top of that, a name a package's
``__init__`` imports from inside the same package is public (``from pkg._impl import train`` makes
``pkg.train`` public) unless ``__all__`` says otherwise — that is how packages expose their API;
imports in ordinary modules stay private, so dropping an unused import is not a break.
"""

from __future__ import annotations

import ast
import logging
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import griffe

from wheelship import git, log
from wheelship.errors import ConfigurationError


@dataclass(frozen=True)
class Break:
    """One breaking change, located where a reader can act on it."""

    kind: str  # slug of griffe's BreakageKind, e.g. "parameter-removed"
    object: str  # dotted path callers use, e.g. "pkg.train"
    what: str  # what changed
    why: str  # why callers break
    path: str  # repo-relative file of the change (the old file for removals)
    line: int
    ref: str  # the ref ``path:line`` refers to ("HEAD" or the baseline's name)
    head_path: str  # where to point in HEAD (for removals: the nearest surviving parent)
    head_line: int
    parameter: str | None = None
    old: str | None = None
    new: str | None = None
    defined_as: str | None = None  # canonical path when ``object`` is a re-export

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "object": self.object,
            "defined_as": self.defined_as,
            "parameter": self.parameter,
            "old": self.old,
            "new": self.new,
            "what": self.what,
            "why": self.why,
            "path": self.path,
            "line": self.line,
            "ref": self.ref,
            "head_path": self.head_path,
            "head_line": self.head_line,
        }


def locate_package(files: Iterable[str], name: str, prefix: str = "") -> str | None:
    """The directory (repo-relative, '' for the root) that holds package or module ``name``.

    The shallowest match under ``prefix`` wins, so ``src/pkg`` beats ``tests/fixtures/pkg``.
    """
    found: list[tuple[int, bool, str]] = []
    for f in files:
        if not f.startswith(prefix):
            continue
        parts = f.split("/")
        if parts[-1] in ("__init__.py", "__init__.pyi") and len(parts) >= 2 and parts[-2] == name:
            where = parts[:-2]
        elif parts[-1] in (f"{name}.py", f"{name}.pyi"):
            where = parts[:-1]
        else:
            continue
        directory = "/".join(where)
        found.append((len(where), not directory.endswith("src"), directory))
    return min(found)[2] if found else None


def top_level_packages(files: Iterable[str], directory: str) -> list[str]:
    """Packages directly under ``directory`` (``src`` layout discovery)."""
    base = f"{directory}/" if directory else ""
    names = set()
    for f in files:
        if f.startswith(base):
            parts = f[len(base) :].split("/")
            if len(parts) == 2 and parts[1] == "__init__.py" and parts[0].isidentifier():
                names.add(parts[0])
    return sorted(names)


def normalize_dist_name(name: str) -> str:
    """The import name a distribution name most likely has (``tsff-forecast`` -> ``tsff_forecast``)."""
    return re.sub(r"[-_.]+", "_", name).lower()


# --------------------------------------------------------------------------------------------
# Git: read-only snapshots


def python_files(repo: Path, commit: str, prefix: str) -> list[str]:
    """Every .py/.pyi file in ``commit`` under ``prefix`` (repo-relative paths)."""
    args = ["ls-tree", "-r", "-z", "--name-only", "--full-tree", commit]
    if prefix:
        args += ["--", prefix.rstrip("/")]
    out = git.run(repo, *args)
    return [p for p in out.split("\0") if p.endswith((".py", ".pyi"))]


def export(repo: Path, snapshot: Snapshot, paths: list[str]) -> None:
    """Write ``paths`` as they are in the snapshot's commit under its root (one ``git cat-file``
    process, read as bytes so no encoding is assumed)."""
    if not paths:
        return
    commit, dest = snapshot.commit, snapshot.root
    request = "".join(f"{commit}:{p}\n" for p in paths).encode()
    out, pos = git.run_binary(repo, "cat-file", "--batch", stdin=request), 0
    for path in paths:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) != 3 or header[1] != b"blob":
            # a submodule entry or a vanished object: not a source file we can read
            continue
        size = int(header[2])
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(out[pos : pos + size])
        snapshot.exported.append(path)
        pos += size + 1


@dataclass
class Snapshot:
    """One side of the comparison: a commit's source files, exported on demand under ``root``."""

    label: str
    commit: str
    root: Path
    files: list[str]  # every .py/.pyi file of the commit under the project
    exported: list[str] = field(default_factory=list)


@contextmanager
def snapshots(repo: Path, sides: list[tuple[str, str]], prefix: str) -> Iterator[list[Snapshot]]:
    with tempfile.TemporaryDirectory(prefix="wheelship-compat-") as tmp:
        out = []
        for i, (label, commit) in enumerate(sides):
            root = Path(tmp) / str(i)
            root.mkdir()
            files = python_files(repo, commit, prefix)
            out.append(Snapshot(label, commit, root, files))
        yield out


# --------------------------------------------------------------------------------------------
# griffe


class _ToDebugLog(logging.Handler):
    """griffe's own warnings (unresolvable aliases, syntax it skips) go to the debug log."""

    def emit(self, record: logging.LogRecord) -> None:
        log.debug(f"griffe: {record.getMessage()}")


@contextmanager
def _griffe_logging() -> Iterator[None]:
    logger = logging.getLogger("griffe")
    handler = _ToDebugLog()
    saved = (logger.propagate, logger.level)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG if log.verbose() else logging.WARNING)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate, _ = saved
        logger.setLevel(saved[1])


def _load(name: str, snapshot: Snapshot, directory: str) -> griffe.Object | griffe.Alias:
    search = snapshot.root / directory if directory else snapshot.root
    try:
        return griffe.load(
            name,
            search_paths=[search],
            try_relative_path=False,
            allow_inspection=False,
            store_source=False,
        )
    except (griffe.LoadingError, ModuleNotFoundError, SyntaxError, UnicodeDecodeError) as exc:
        problems = _unparsable(snapshot, directory, name, set())
        raise _unreadable(name, snapshot, problems[0] if problems else str(exc)) from None


def _unreadable(name: str, snapshot: Snapshot, problem: str) -> ConfigurationError:
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    return ConfigurationError(
        f"cannot read the API of {name} at {snapshot.label}: {problem}",
        f"make the sources parse with Python {py} (the one running wheelship), or check --package",
    )


def _unparsable(snapshot: Snapshot, directory: str, name: str, loaded: set[Path]) -> list[str]:
    """Sources griffe could not read (it skips a submodule with a syntax error and logs at debug
    level, which would turn the module into a false "removed" break)."""
    problems = []
    package = f"{directory}/{name}" if directory else name
    for rel in snapshot.exported:
        path = snapshot.root / rel
        if not rel.startswith(f"{package}/") and rel != f"{package}.py":
            continue
        if not rel.endswith(".py") or path in loaded or "." in path.stem:
            continue
        if path.name != "__init__.py" and not (path.parent / "__init__.py").exists():
            continue  # griffe skips scripts outside packages on purpose
        try:
            compile(path.read_bytes(), rel, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        except SyntaxError as exc:
            problems.append(f"{rel}:{exc.lineno or 1}: {exc.msg}")
        except ValueError as exc:  # null bytes
            problems.append(f"{rel}: {exc}")
    return problems


def _loaded_files(package: griffe.Object | griffe.Alias) -> set[Path]:
    out: set[Path] = set()
    for module in _iter_modules(package):
        filepath = module.filepath
        out.update(filepath if isinstance(filepath, list) else [filepath])
    return out


def _iter_modules(obj: griffe.Object | griffe.Alias) -> Iterator[griffe.Module]:
    if isinstance(obj, griffe.Module):
        yield obj
        for member in obj.modules.values():
            if isinstance(member, griffe.Module):
                yield from _iter_modules(member)


def _mark_reexports_public(package: griffe.Object | griffe.Alias, name: str) -> dict[str, str]:
    """Make names a package's ``__init__`` imports from the same package public (unless the
    module has ``__all__``). Returns canonical path -> public re-export path, shortest first."""
    exposed: dict[str, str] = {}
    for module in _iter_modules(package):
        filepath = module.filepath
        is_init = not isinstance(filepath, list) and filepath.name.startswith("__init__.")
        for member in module.members.values():
            if not isinstance(member, griffe.Alias):
                continue
            target = member.target_path
            internal = target == name or target.startswith(f"{name}.")
            if (
                is_init
                and internal
                and not module.exports
                and not member.name.startswith("_")
                and not _is_module_alias(member)
            ):
                member.public = True
            # name breaks after the public re-export only when the definition's own path is
            # private (pkg._impl.train is known to callers as pkg.train)
            if member.is_public and internal and _has_private_part(target):
                known = exposed.get(target)
                if known is None or len(member.path) < len(known):
                    exposed[target] = member.path
    return exposed


def _has_private_part(path: str) -> bool:
    return any(p.startswith("_") and not p.endswith("__") for p in path.split("."))


def _is_module_alias(alias: griffe.Alias) -> bool:
    try:
        return alias.final_target.is_module
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return False


# --------------------------------------------------------------------------------------------
# Breakages -> Break records

_WHY = {
    "PARAMETER_MOVED": "calls that pass it by position now hand their values to other parameters",
    "PARAMETER_REMOVED": "calls that pass it fail with TypeError",
    "PARAMETER_CHANGED_KIND": "calls that pass it the old way (by position or by keyword) "
    "fail with TypeError",
    "PARAMETER_CHANGED_DEFAULT": "calls that rely on the default silently behave differently",
    "PARAMETER_CHANGED_REQUIRED": "calls that omit it fail with TypeError",
    "PARAMETER_ADDED_REQUIRED": "existing calls do not pass it and fail with TypeError",
    "RETURN_CHANGED_TYPE": "callers that use the result can no longer rely on its type",
    "OBJECT_REMOVED": "code that imports or uses it fails with ImportError or AttributeError",
    "OBJECT_CHANGED_KIND": "code that uses it as before (calls it, subclasses it, imports "
    "from it) breaks",
    "ATTRIBUTE_CHANGED_TYPE": "code that relies on the old type breaks",
    "ATTRIBUTE_CHANGED_VALUE": "code that relies on the old value behaves differently",
    "CLASS_REMOVED_BASE": "isinstance checks and members inherited from the removed base "
    "no longer work",
}


def _what(b: griffe.Breakage) -> tuple[str, str | None, str | None, str | None]:
    """(what changed, parameter, old, new) in words."""
    kind = b.kind.name
    old, new = b.old_value, b.new_value
    if kind.startswith("PARAMETER_"):
        param = (new if kind == "PARAMETER_ADDED_REQUIRED" else old).name
        if kind == "PARAMETER_MOVED":
            m = re.search(r"from (\d+) to (\d+)", b.details)
            where = f"from position {m[1]} to {m[2]}" if m else b.details
            return f"positional parameter '{param}' moved {where}", param, None, None
        if kind == "PARAMETER_REMOVED":
            return f"parameter '{param}' was removed", param, None, None
        if kind == "PARAMETER_CHANGED_KIND":
            o, n = old.kind.value, new.kind.value
            return f"parameter '{param}' changed kind: {o} -> {n}", param, o, n
        if kind == "PARAMETER_CHANGED_DEFAULT":
            o, n = str(old.default), str(new.default)
            return f"default of parameter '{param}' changed: {o} -> {n}", param, o, n
        if kind == "PARAMETER_CHANGED_REQUIRED":
            return f"parameter '{param}' lost its default (now required)", param, None, None
        return f"new required parameter '{param}'", param, None, None
    if kind == "RETURN_CHANGED_TYPE":
        if new is None:
            return f"return annotation '{old}' was removed", None, str(old), None
        return f"return type changed: {old} -> {new}", None, str(old), str(new)
    if kind == "OBJECT_REMOVED":
        if b.obj.is_alias:
            what = "re-exported name"
        elif b.obj.is_function and b.obj.parent is not None and b.obj.parent.is_class:
            what = "method"
        else:
            what = b.obj.kind.value
        return f"{what} was removed (or renamed)", None, None, None
    if kind == "OBJECT_CHANGED_KIND":
        return (
            f"changed from a {old.value} to a {new.value}",
            None,
            str(old.value),
            str(new.value),
        )
    if kind == "CLASS_REMOVED_BASE":
        o = ", ".join(base.canonical_path for base in old)
        n = ", ".join(base.canonical_path for base in new)
        return f"base classes changed: [{o}] -> [{n}]", None, o, n
    return f"{b.kind.value.lower()}: {old} -> {new}", None, str(old), str(new)


def _where(obj: griffe.Object | griffe.Alias, root: Path) -> tuple[str, int]:
    if isinstance(obj, griffe.Alias):
        holder: griffe.Object | griffe.Alias = obj.parent if obj.parent else obj
        line = obj.alias_lineno or 1
    else:
        holder, line = obj, obj.lineno or 1
    filepath = holder.filepath
    if isinstance(filepath, list):  # namespace package: no single file
        filepath = filepath[0]
    try:
        rel = filepath.relative_to(root)
    except ValueError:
        rel = filepath
    return rel.as_posix(), max(line, 1)


def _nearest_in_head(
    head_pkg: griffe.Object | griffe.Alias, path: str, head_root: Path, fallback: tuple[str, int]
) -> tuple[str, int]:
    parts = path.split(".")[1:]
    while parts:
        parts.pop()
        try:
            obj = head_pkg[".".join(parts)] if parts else head_pkg
        except (KeyError, ValueError, griffe.AliasResolutionError):
            continue
        try:
            return _where(obj, head_root)
        except griffe.BuiltinModuleError:
            break
    return fallback


def _to_break(
    b: griffe.Breakage,
    exposed: Mapping[str, str],
    head_pkg: griffe.Object | griffe.Alias,
    head: Snapshot,
    base: Snapshot,
) -> Break:
    obj = b.obj
    canonical = obj.path if obj.is_alias else obj.canonical_path
    public = exposed.get(canonical, canonical)
    what, param, old, new = _what(b)
    removed = b.kind is griffe.BreakageKind.OBJECT_REMOVED
    if removed:
        path, line = _where(obj, base.root)
        head_path, head_line = _nearest_in_head(head_pkg, obj.path, head.root, (path, line))
        ref = base.label
    else:
        path, line = _where(obj, head.root)
        head_path, head_line, ref = path, line, head.label
    return Break(
        kind=b.kind.name.lower().replace("_", "-"),
        object=public,
        defined_as=canonical if public != canonical else None,
        parameter=param,
        old=old,
        new=new,
        what=what,
        why=_WHY.get(b.kind.name, "callers written for the previous release may break"),
        path=path,
        line=line,
        ref=ref,
        head_path=head_path,
        head_line=head_line,
    )


def find_breaks(
    name: str, head: Snapshot, base: Snapshot, head_dir: str, base_dir: str
) -> list[Break]:
    """griffe's breaking changes of package ``name`` from ``base`` to ``head``."""
    with _griffe_logging():
        old = _load(name, base, base_dir)
        new = _load(name, head, head_dir)
        problems = _unparsable(head, head_dir, name, _loaded_files(new))
        if problems:
            raise _unreadable(name, head, problems[0])
        for problem in _unparsable(base, base_dir, name, _loaded_files(old)):
            log.warn(f"cannot read {problem} at {base.label}: its API is not compared")
        exposed = _mark_reexports_public(old, name)
        _mark_reexports_public(new, name)
        found = [
            _to_break(b, exposed, new, head, base) for b in griffe.find_breaking_changes(old, new)
        ]
    unique = {(f.object, f.kind, f.parameter): f for f in found}
    return sorted(unique.values(), key=lambda f: (f.head_path, f.head_line, f.object, f.kind))

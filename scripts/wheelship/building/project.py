"""What a Python project declares about itself: name, build backend, and where its version comes
from — read statically from ``pyproject.toml`` / ``setup.cfg``, without running any build code.

wheelship needs three facts before it builds anything: the distribution name (for the dotenv, the
manifest and ``SETUPTOOLS_SCM_PRETEND_VERSION_FOR_<DIST>``), the build requirements (for the
cached build environment), and whether the version is *static* (pinned in metadata, so it must
agree with the tag) or *dynamic* (taken from git by setuptools-scm / hatch-vcs, so wheelship can
steer it).
"""

from __future__ import annotations

import configparser
import re
import tomllib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelship.errors import ConfigurationError

#: PEP 517's fallback for a project without ``[build-system]``.
LEGACY_REQUIRES = ("setuptools>=40.8.0",)
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"


class VersionSource(Enum):
    STATIC = "static"  # pinned in pyproject/setup.cfg: checked against the tag, rewritten if needed
    SCM = "scm"  # setuptools-scm / hatch-vcs: steered with SETUPTOOLS_SCM_PRETEND_VERSION_FOR_*
    OTHER = "other"  # dynamic through something wheelship cannot steer: checked after the build


@dataclass(frozen=True)
class StaticVersion:
    """A version pinned in a file: where it is, so a staged copy can be rewritten."""

    value: str
    file: str  # relative to the project directory
    table: Literal["project", "tool.poetry", "metadata"]  # metadata: setup.cfg


@dataclass(frozen=True)
class Project:
    root: Path
    name: str
    backend: str
    requires: tuple[str, ...]
    backend_path: tuple[str, ...]
    version_source: VersionSource
    static_version: StaticVersion | None = None
    has_scm_config: bool = False  # [tool.setuptools_scm] present

    @property
    def canonical_name(self) -> str:
        return str(canonicalize_name(self.name))

    @property
    def pretend_env(self) -> str:
        """setuptools-scm's per-distribution override (also read by hatch-vcs)."""
        return "SETUPTOOLS_SCM_PRETEND_VERSION_FOR_" + re.sub(r"[-_.]+", "_", self.name).upper()


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(
            f"{path}: invalid TOML ({exc})", "fix the syntax of pyproject.toml"
        ) from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path}: not UTF-8 text", "save it as UTF-8") from None


def _check_version(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{where}: version must be a string", 'write version = "1.2.3"')
    try:
        Version(value)
    except InvalidVersion:
        raise ConfigurationError(
            f"{where}: {value!r} is not a PEP 440 version", 'write version = "1.2.3"'
        ) from None
    return value


def _requires(build_system: dict[str, Any], path: Path) -> tuple[str, ...]:
    raw = build_system.get("requires")
    if raw is None:
        raise ConfigurationError(
            f"{path}: [build-system] has no 'requires'",
            'list the backend, e.g. requires = ["setuptools>=77", "setuptools-scm>=8"]',
        )
    if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        raise ConfigurationError(
            f"{path}: build-system.requires must be a list of strings",
            'write requires = ["setuptools>=77"]',
        )
    for req in raw:
        try:
            Requirement(req)
        except InvalidRequirement as exc:
            raise ConfigurationError(
                f"{path}: build-system.requires: {req!r} is not a valid requirement ({exc})",
                "fix the requirement string",
            ) from None
    return tuple(raw)


def _uses_scm(requires: tuple[str, ...], data: dict[str, Any]) -> bool:
    names = {canonicalize_name(Requirement(r).name) for r in requires}
    tool = data.get("tool", {})
    if "setuptools-scm" in names or "setuptools_scm" in tool:
        return True
    hatch_version = tool.get("hatch", {}).get("version", {})
    return "hatch-vcs" in names and hatch_version.get("source") == "vcs"


def read_project(root: Path) -> Project:
    """Read the project in ``root`` (a ConfigurationError says what is missing or broken)."""
    if not root.is_dir():
        problem = "is not a directory" if root.exists() else "does not exist"
        raise ConfigurationError(
            f"project directory {root} {problem}", "pass --project DIR of a Python project"
        )
    pyproject = root / "pyproject.toml"
    setup_cfg = root / "setup.cfg"
    data = _toml(pyproject) if pyproject.is_file() else {}
    if not data and not setup_cfg.is_file() and not (root / "setup.py").is_file():
        raise ConfigurationError(
            f"{root} has no pyproject.toml, setup.cfg or setup.py",
            "run in the project directory or pass --project DIR",
        )

    build_system = data.get("build-system")
    if isinstance(build_system, dict):
        requires = _requires(build_system, pyproject)
        backend = build_system.get("build-backend") or LEGACY_BACKEND
        backend_path = tuple(build_system.get("backend-path") or ())
    else:
        requires, backend, backend_path = LEGACY_REQUIRES, LEGACY_BACKEND, ()

    name, static, dynamic_version = _name_and_version(root, data, pyproject, setup_cfg)
    if static is not None:
        source = VersionSource.STATIC
    elif dynamic_version and _uses_scm(requires, data):
        source = VersionSource.SCM
    else:
        source = VersionSource.OTHER
    return Project(
        root=root,
        name=name,
        backend=str(backend),
        requires=requires,
        backend_path=backend_path,
        version_source=source,
        static_version=static,
        has_scm_config="setuptools_scm" in data.get("tool", {}),
    )


def _name_and_version(
    root: Path, data: dict[str, Any], pyproject: Path, setup_cfg: Path
) -> tuple[str, StaticVersion | None, bool]:
    """(name, static version or None, version declared dynamic)."""
    project = data.get("project")
    if isinstance(project, dict):
        name = project.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError(
                f"{pyproject}: [project] has no name", 'add name = "your-distribution"'
            )
        dynamic = project.get("dynamic") or []
        if "version" in project:
            if "version" in dynamic:
                raise ConfigurationError(
                    f"{pyproject}: version is both set and listed in dynamic",
                    "remove one of them (wheelship takes the version from git tags)",
                )
            value = _check_version(project["version"], f"{pyproject} [project]")
            return name, StaticVersion(value, "pyproject.toml", "project"), False
        if "version" not in dynamic:
            # poetry-core 2 reads [tool.poetry] version when [project] omits it
            poetry = data.get("tool", {}).get("poetry", {})
            if "version" in poetry:
                value = _check_version(poetry["version"], f"{pyproject} [tool.poetry]")
                return name, StaticVersion(value, "pyproject.toml", "tool.poetry"), False
            raise ConfigurationError(
                f"{pyproject}: [project] has neither version nor dynamic = ['version']",
                'add dynamic = ["version"] and take it from git tags with setuptools-scm',
            )
        return name, None, True

    poetry = data.get("tool", {}).get("poetry")
    if isinstance(poetry, dict) and "name" in poetry:
        if "version" in poetry:
            value = _check_version(poetry["version"], f"{pyproject} [tool.poetry]")
            return str(poetry["name"]), StaticVersion(value, "pyproject.toml", "tool.poetry"), False
        return str(poetry["name"]), None, True

    if setup_cfg.is_file():
        cfg = configparser.ConfigParser(interpolation=None)
        try:
            cfg.read(setup_cfg, encoding="utf-8")
        except configparser.Error as exc:
            raise ConfigurationError(
                f"{setup_cfg}: invalid ({exc.__class__.__name__})", "fix setup.cfg"
            ) from None
        name = cfg.get("metadata", "name", fallback="").strip()
        if name:
            version = cfg.get("metadata", "version", fallback="").strip()
            if version and not version.startswith(("attr:", "file:")):
                value = _check_version(version, f"{setup_cfg} [metadata]")
                return name, StaticVersion(value, "setup.cfg", "metadata"), False
            return name, None, True
    raise ConfigurationError(
        f"cannot read the distribution name of {root} without running setup.py",
        "declare it in pyproject.toml: [project] name = ...",
    )


_TABLE = re.compile(r"^\s*\[([^\[\]]+)\]\s*(?:#.*)?$")
_VERSION_LINE = re.compile(r"^(\s*version\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s#]+)(.*)$")


def rewrite_static_version(project: Project, dest: Path, version: str) -> None:
    """Write ``version`` over the static version in the copy of the project at ``dest``.

    Only the one ``version`` line of the right table changes, so comments and formatting stay.
    """
    static = project.static_version
    if static is None:
        return
    path = dest / static.file
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    table: str | None = None
    for i, line in enumerate(lines):
        if m := _TABLE.match(line):
            table = m.group(1).strip()
            continue
        if table == static.table and (m := _VERSION_LINE.match(line.rstrip("\r\n"))):
            quote = m.group(2)[0] if m.group(2)[0] in "\"'" else ""
            ending = line[len(line.rstrip("\r\n")) :]
            lines[i] = f"{m.group(1)}{quote}{version}{quote}{m.group(3)}{ending}"
            path.write_text("".join(lines), encoding="utf-8")
            return
    raise ConfigurationError(
        f"{path}: cannot find the version line of [{static.table}] to stamp {version}",
        'write the version on one line: version = "1.2.3"',
    )

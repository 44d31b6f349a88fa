"""Build environments, cached by what they contain.

``python -m build`` creates a fresh virtual environment and installs the backend into it for the
sdist, then again for the wheel: most of its time. wheelship keeps one environment per distinct
set of build requirements (plus interpreter and installer) under the cache directory and reuses
it, so a warm build costs what ``python -m build --no-isolation`` costs, while staying isolated
from the host environment. Environments are made with uv when it is installed (``build[uv]``),
with pip otherwise, and are recreated after :data:`MAX_AGE` so unpinned requirements
(``setuptools>=77``) pick up new releases.

Creation is serialised with a lock file and happens in a temporary directory that is renamed
into place only when complete, so concurrent builds (parallel jobs sharing a cache, pytest-xdist)
never see half an environment.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import time
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from wheelship import log
from wheelship.building.project import LEGACY_BACKEND
from wheelship.environ import installer_env
from wheelship.errors import BuildError, ConfigurationError
from wheelship.files import write_atomic

MAX_AGE = 7 * 24 * 3600
MARKER = "wheelship-env.json"
MEMO = "wheelship-requires.json"
#: Backends whose get_requires_for_build_* answer depends only on the project's configuration
#: files and the backend's version (both in the memo key), so the answer can be remembered.
#: Others (scikit-build-core looks for cmake on PATH, say) are always asked.
MEMO_BACKENDS = frozenset(
    {
        "setuptools.build_meta",
        "setuptools.build_meta:__legacy__",
        "hatchling.build",
        "flit_core.buildapi",
        "poetry.core.masonry.api",
        "pdm.backend",
    }
)
_CONFIG_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
_FORMAT = 1


def default_cache_dir() -> Path:
    explicit = os.environ.get("WHEELSHIP_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wheelship"


def find_uv() -> str | None:
    """The uv binary: the one ``build[uv]`` installs next to us, else one on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


#: the installers a build environment is made with
Installer = Literal["uv", "pip"]


def choose_installer(wanted: Installer | None) -> Installer:
    """The installer asked for (``uv`` or ``pip``), else uv when it is available, else pip."""
    return wanted or ("uv" if find_uv() else "pip")


def _installer_env() -> dict[str, str]:
    """uv ignores pip's settings; carry a configured index over so both install the same."""
    # the installer keeps its own index credentials (PIP_*, UV_*), and nothing else secret
    env = installer_env()
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    for pip_name, uv_name in (
        ("PIP_INDEX_URL", "UV_INDEX_URL"),
        ("PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL"),
    ):
        if env.get(pip_name) and not env.get(uv_name):
            env[uv_name] = env[pip_name]
    # pip separates find-links locations with spaces, uv with commas
    if env.get("PIP_FIND_LINKS") and not env.get("UV_FIND_LINKS"):
        env["UV_FIND_LINKS"] = ",".join(env["PIP_FIND_LINKS"].split())
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(name, None)
    return env


@dataclass(frozen=True)
class BuildEnv:
    path: Path
    installer: Installer

    @property
    def python(self) -> Path:
        return self.path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

    @property
    def site_packages(self) -> Path:
        vars_ = {"base": str(self.path), "platbase": str(self.path)}
        return Path(sysconfig.get_path("purelib", vars=vars_))

    def missing(self, requirements: Iterable[str]) -> list[str]:
        """The requirements this environment does not satisfy (read from its metadata, no
        subprocess)."""
        installed = {
            canonicalize_name(d.metadata["Name"]): d.version
            for d in metadata.distributions(path=[str(self.site_packages)])
            if d.metadata["Name"]
        }
        out = []
        for text in requirements:
            req = _parse(text)
            if req.marker is not None and not req.marker.evaluate():
                continue
            have = installed.get(canonicalize_name(req.name))
            if have is None or not req.specifier.contains(have, prereleases=True):
                out.append(text)
        return out

    def remembered_requires(self, key: str) -> list[str] | None:
        try:
            value = json.loads((self.path / MEMO).read_text()).get(key)
        except (OSError, ValueError, AttributeError):
            return None
        return [str(r) for r in value] if isinstance(value, list) else None

    def remember_requires(self, key: str, requires: Iterable[str]) -> None:
        path = self.path / MEMO
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        data[key] = sorted(requires)
        write_atomic(path, json.dumps(data, sort_keys=True) + "\n", fix="check --cache-dir")

    def install(self, requirements: Sequence[str]) -> None:
        if not requirements:
            return
        if self.installer == "uv":
            uv = find_uv()
            assert uv is not None
            cmd = [uv, "pip", "install", "--quiet", "--python", str(self.python), *requirements]
        else:
            cmd = [sys.executable, "-m", "pip", "--python", str(self.python), "install"]
            cmd += ["--quiet", "--disable-pip-version-check", *requirements]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_installer_env())
        if proc.returncode != 0:
            raise install_failure(requirements, proc.stderr or proc.stdout, proc.returncode)


#: What pip and uv say when the index could not be reached (a rerun may succeed) ...
_UNREACHABLE = (
    "connection",
    "timed out",
    "timeout",
    "name resolution",
    "dns error",
    "max retries exceeded",
    "failed to fetch",
    "error sending request",
    "503",
    "502",
    "504",
)
#: ... and when the requirements cannot be met from it (a rerun will not help).
_UNSATISFIABLE = (
    "no matching distribution",
    "could not find a version",
    "no solution found",
    "not found in the package registry",
    "invalid requirement",
)


def install_failure(requirements: Sequence[str], output: str, code: int) -> BuildError:
    """Installing build requirements failed: the installer's own last line as the cause,
    classified — the index unreachable (retryable) or the requirements unsatisfiable (not)."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    detail = lines[-1] if lines else f"exit {code}"
    text = output.lower()
    what = f"installing the build requirements {', '.join(requirements)} failed ({detail})"
    # unreachable first: pip that could not reach the index ends with "could not find a version"
    if any(marker in text for marker in _UNREACHABLE):
        return BuildError(
            what,
            "retryable: the package index could not be reached; check PIP_INDEX_URL and the "
            "network, then rerun",
        )
    if any(marker in text for marker in _UNSATISFIABLE):
        return BuildError(
            what,
            "not retryable: fix the requirements in [build-system], or point PIP_INDEX_URL at an "
            "index that has them",
        )
    return BuildError(
        what, "check the requirements in [build-system] and that the package index is reachable"
    )


def _build_system(source: Path) -> dict[str, Any]:
    """The ``[build-system]`` table of a source tree (empty when it has no readable one)."""
    try:
        data = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("build-system") or {}


def backend_of(source: Path) -> str:
    """The build-backend a source tree declares (PEP 517's legacy default when none)."""
    return str(_build_system(source).get("build-backend") or LEGACY_BACKEND)


def requires_memo_key(source: Path, distribution: str) -> str | None:
    """Key for remembering a backend's extra build requirements, or None when they must be
    asked for every time (unknown backend, or config_settings-free hooks only)."""
    digest = hashlib.sha256(distribution.encode())
    system = _build_system(source)
    backend = system.get("build-backend") or LEGACY_BACKEND
    if backend not in MEMO_BACKENDS or system.get("backend-path"):
        return None
    for name in _CONFIG_FILES:
        path = source / name
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<absent>")
        digest.update(b"\0")
    return digest.hexdigest()


def _parse(text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise ConfigurationError(
            f"build requirement {text!r} is invalid ({exc})", "fix [build-system] requires"
        ) from None


def env_key(requirements: Iterable[str], installer: Installer) -> str:
    """Same requirements, interpreter and installer -> same environment."""
    spec = {
        "format": _FORMAT,
        "requires": sorted({str(_parse(r)) for r in requirements}),
        "python": sys.version,
        "executable": os.path.realpath(sys.executable),
        "platform": platform.platform(),
        "installer": installer,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:20]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class EnvCache:
    """Build environments under ``root`` (``~/.cache/wheelship/build-envs`` by default)."""

    def __init__(self, root: Path | None = None, installer: Installer | None = None) -> None:
        # Absolute now: a relative cache dir (the templates' .cache/wheelship) must name the same
        # place for the backend processes, which run in other working directories.
        self.root = (root or default_cache_dir()).absolute() / "build-envs"
        self.installer = choose_installer(installer)

    def _fresh(self, path: Path) -> bool:
        marker = path / MARKER
        try:
            created = float(json.loads(marker.read_text())["created"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return time.time() - created < MAX_AGE and (path / "pyvenv.cfg").is_file()

    def get(self, requirements: Sequence[str]) -> BuildEnv:
        """The environment for ``requirements``, created (once) if needed."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot use {self.root.parent} for build environments: {exc.strerror or exc}",
                "choose another --cache-dir (WHEELSHIP_CACHE_DIR)",
            ) from None
        key = env_key(requirements, self.installer)
        path = self.root / key
        env = BuildEnv(path, self.installer)
        if self._fresh(path):
            return env
        with _locked(self.root / f"{key}.lock"):
            if self._fresh(path):  # another process made it while we waited
                return env
            self._create(path, requirements)
        return env

    def ensure(self, env: BuildEnv, requirements: Iterable[str]) -> None:
        """Install what a backend's get_requires_for_build_* asks for, if it is missing."""
        missing = env.missing(requirements)
        if not missing:
            return
        with _locked(env.path.parent / f"{env.path.name}.lock"):
            missing = env.missing(missing)
            if missing:
                log.info(f"installing {', '.join(missing)} into the build environment")
                env.install(missing)

    def _create(self, path: Path, requirements: Sequence[str]) -> None:
        started = time.perf_counter()
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            if self.installer == "uv":
                uv = find_uv()
                assert uv is not None
                cmd = [uv, "venv", "--quiet", "--python", sys.executable, str(tmp)]
            else:
                cmd = [sys.executable, "-m", "venv", "--without-pip", str(tmp)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=_installer_env())
            if proc.returncode != 0:
                raise BuildError(
                    f"creating a build environment failed ({proc.stderr.strip()})",
                    "check that the Python installation can create virtual environments",
                )
            BuildEnv(tmp, self.installer).install(list(requirements))
            (tmp / MARKER).write_text(
                json.dumps({"created": time.time(), "requires": list(requirements)}) + "\n"
            )
            shutil.rmtree(path, ignore_errors=True)
            os.replace(tmp, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        log.info(
            f"created the build environment for {', '.join(requirements)} with "
            f"{self.installer} in {time.perf_counter() - started:.1f}s"
        )

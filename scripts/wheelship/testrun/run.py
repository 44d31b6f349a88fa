"""Run a project's tests against the wheel that was built, not against its source tree.

The test job of the pipeline installs the wheel listed in the build manifest (checked against
its sha256 first) with the project's test extras, then runs pytest with a JUnit report and a
Cobertura coverage report of the wheel's top-level packages, which GitLab shows in merge
requests. Testing the built file catches packaging mistakes (a module or data file left out of
the wheel) that a source-tree test run cannot see.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from wheelship import log
from wheelship.building.manifest import Manifest
from wheelship.environ import child_env
from wheelship.errors import BuildError, ConfigurationError
from wheelship.options import Resolved, parse_list


@dataclass(frozen=True)
class TestSettings:
    __test__ = False  # not a pytest test class, despite the name

    project: Path = Path(".")
    dist: Path = Path("dist")
    extras: tuple[str, ...] = ("test",)
    junit: Path | None = Path("junit.xml")
    coverage: Path | None = Path("coverage.xml")
    pytest_args: tuple[str, ...] = ()
    install: bool = True
    #: secret variables the tests get anyway (--pass-env); every other one is removed
    pass_env: tuple[str, ...] = ()
    python: str = field(default_factory=lambda: sys.executable)

    @classmethod
    def from_options(cls, r: Resolved) -> TestSettings:
        """The one constructor from resolved options (``wheelship test``)."""
        return cls(
            project=r["project"],
            dist=r["dist"] or r["project"] / "dist",
            extras=tuple(parse_list(r["extras"])),
            junit=r["junit"],
            coverage=r["coverage"],
            pytest_args=tuple(r["pytest_args"] or ()),
            install=not r["no_install"],
            pass_env=tuple(r["pass_env"]),
        )


def top_level_packages(wheel: Path) -> list[str]:
    """Import names the wheel installs: its top-level packages and modules."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
    except (OSError, zipfile.BadZipFile) as exc:
        raise BuildError(f"{wheel} is not a readable wheel ({exc})", "rebuild it") from None
    found: set[str] = set()
    for name in names:
        first, sep, _ = name.partition("/")
        if first.endswith((".dist-info", ".data")):
            continue
        if sep:
            found.add(first)  # a package directory
        elif name.endswith(".py"):
            found.add(name.removesuffix(".py"))  # a top-level module
    return sorted(p for p in found if p.isidentifier())


def requirement(manifest: Manifest, wheel: Path, extras: Sequence[str]) -> str:
    """A PEP 508 direct reference to the wheel file, with extras."""
    extra = f"[{','.join(extras)}]" if extras else ""
    return f"{canonicalize_name(manifest.name)}{extra} @ {wheel.resolve().as_uri()}"


def install_command(settings: TestSettings, req: str) -> list[str]:
    # pip, not uv: the consumer's index settings (PIP_INDEX_URL, pip.conf) are what their test
    # dependencies resolve against, and pip also sees packages an image pre-installs.
    return [settings.python, "-m", "pip", "install", "--quiet", req, "pytest-cov"]


def pytest_command(settings: TestSettings, packages: Sequence[str]) -> list[str]:
    cmd = [settings.python, "-m", "pytest"]
    if settings.junit is not None:
        cmd.append(f"--junitxml={settings.junit.resolve()}")
    if settings.coverage is not None:
        cmd += [f"--cov={p}" for p in packages]
        cmd += ["--cov-report=term", f"--cov-report=xml:{settings.coverage.resolve()}"]
    return cmd + list(settings.pytest_args)


def _run(cmd: list[str], cwd: Path, what: str, keep: Sequence[str] = ()) -> int:
    log.debug("running " + " ".join(cmd))
    try:
        # the project's tests and its installer are not wheelship's code: no credentials
        if what == "pip":
            keep = [k for k in os.environ if k.startswith("PIP_")]
        return subprocess.run(cmd, cwd=cwd, env=child_env(keep=keep), check=False).returncode
    except OSError as exc:
        raise ConfigurationError(f"cannot run {what}: {exc}", "check the Python in PATH") from None


def run_tests(settings: TestSettings) -> int:
    """Install the built wheel with its test extras and run pytest; return pytest's exit code."""
    if not settings.project.is_dir():
        raise ConfigurationError(
            f"project directory {settings.project} does not exist", "set --project"
        )
    manifest = Manifest.load(settings.dist)
    manifest.verify(settings.dist)
    wheel = settings.dist / manifest.wheel().name
    packages = top_level_packages(wheel)
    if settings.install:
        req = requirement(manifest, wheel, settings.extras)
        with log.section(
            "wheelship_test_install", f"Installing {wheel.name} {list(settings.extras)}"
        ):
            code = _run(install_command(settings, req), settings.project, "pip")
        if code != 0:
            raise BuildError(
                f"installing {wheel.name} with extras {list(settings.extras)} failed (pip exit {code})",
                "check the extras exist in the project's metadata and the index is reachable",
            )
    log.info(f"testing {manifest.name} {manifest.version} (packages: {', '.join(packages)})")
    code = _run(pytest_command(settings, packages), settings.project, "pytest", settings.pass_env)
    if code == 5:
        raise ConfigurationError(
            f"pytest collected no tests in {settings.project}",
            "add tests, or pass their location with --pytest-args",
        )
    return code

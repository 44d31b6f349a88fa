"""``wheelship build``: sdist, then the wheel from the sdist, reproducible and checked.

1. Derive the version (:mod:`wheelship.building.version`) — the one version everything agrees on.
2. Build the sdist from the project's committed files (:mod:`wheelship.building.staging`) with
   its PEP 517 backend through ``build``'s ``ProjectBuilder``, handing the backend the version (``SETUPTOOLS_SCM_PRETEND_VERSION_FOR_<DIST>``; a static
   version is stamped into a staged copy) and ``SOURCE_DATE_EPOCH`` = the commit time.
3. Unpack the sdist and build the wheel from it (so the sdist is proven to build), in the same
   cached build environment (:mod:`wheelship.building.environments`).
4. Normalise both archives (:mod:`wheelship.building.reproducible`), check names, versions and
   ``twine check`` (:mod:`wheelship.building.checks`; ``--strict`` also refuses a missing
   long description).
5. Only then move them into the output directory and write ``wheelship-manifest.json`` and the
   ``build.env`` dotenv. A failure anywhere leaves the output directory as it was.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NoReturn

from packaging.version import Version

from wheelship import dotenv, log
from wheelship import git as _git
from wheelship.building.checks import check_file
from wheelship.building.environments import (
    BuildEnv,
    EnvCache,
    Installer,
    backend_of,
    choose_installer,
    requires_memo_key,
)
from wheelship.building.manifest import MANIFEST_NAME, DistFile, Manifest
from wheelship.building.project import Project, VersionSource, rewrite_static_version
from wheelship.building.reproducible import normalize_sdist, normalize_wheel
from wheelship.building.staging import stage_committed
from wheelship.building.version import VersionInfo, VersionSettings, derive_version
from wheelship.environ import child_env, scrubbed
from wheelship.errors import BuildError, ConfigurationError
from wheelship.files import check_writable
from wheelship.options import Resolved

if TYPE_CHECKING:
    from build import ProjectBuilder

ISOLATION = ("cached", "fresh", "none")
RUN_BACKEND = Path(__file__).resolve().parent / "hookrunner" / "run_backend.py"
Distribution = Literal["sdist", "wheel"]
#: Variables that would override the version we hand the backend.
_VERSION_OVERRIDES = ("SETUPTOOLS_SCM_PRETEND_VERSION", "PDM_BUILD_SCM_VERSION")


@dataclass(frozen=True)
class BuildSettings:
    version: VersionSettings = field(default_factory=VersionSettings)
    outdir: Path | None = None  # default: <project>/dist
    dotenv: Path | None = None  # default: <outdir>/build.env
    isolation: str = "cached"
    cache_dir: Path | None = None
    installer: Installer | None = None  # None: uv when available
    strict: bool = False  # a missing long description fails the build (twine check --strict)

    @classmethod
    def from_options(cls, r: Resolved) -> BuildSettings:
        """The one constructor from resolved options (``wheelship build``)."""
        return cls(
            version=VersionSettings.from_options(r),
            # the option layer joined --outdir to --project already (relative to the cwd)
            outdir=r["outdir"].absolute() if r["outdir"] else None,
            dotenv=r["dotenv"],
            isolation=r["isolation"],
            cache_dir=r["cache_dir"],
            installer=r["installer"],
            strict=bool(r["strict"]),
        )


@dataclass(frozen=True)
class BuildResult:
    info: VersionInfo
    outdir: Path
    sdist: Path
    wheel: Path
    manifest: Manifest
    dotenv: Path
    seconds: float


class _Runner:
    """Runs backend hooks with our environment; keeps their output for error messages."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.output = ""

    def __call__(
        self,
        cmd: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None:
        proc = subprocess.run(
            list(cmd),
            cwd=cwd,
            env={**self.env, **(extra_environ or {})},
            capture_output=True,
            text=True,
            check=False,
        )
        self.output = (proc.stdout or "") + (proc.stderr or "")
        if log.verbose() and self.output.strip():
            log.info(self.output.rstrip())
        if proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout, proc.stderr)


def hook_environment(project: Project, version: str, epoch: int) -> dict[str, str]:
    # the backend is third-party code: it gets no credential (see wheelship.environ)
    env = {k: v for k, v in child_env().items() if k not in _VERSION_OVERRIDES}
    for name in ("PYTHONPATH", "PYTHONHOME"):  # the host's packages must not leak in
        env.pop(name, None)
    for name in list(env):
        if name.startswith("SETUPTOOLS_SCM_PRETEND_VERSION_FOR_"):
            del env[name]
    env.update(
        {
            "SOURCE_DATE_EPOCH": str(epoch),
            "PYTHONHASHSEED": "0",
            project.pretend_env: version,  # setuptools-scm
            # hatch-vcs calls setuptools-scm without the dist name, so only the generic variable
            # reaches it; the hook process builds this one project, so the generic one is safe.
            "SETUPTOOLS_SCM_PRETEND_VERSION": version,
            "PDM_BUILD_SCM_VERSION": version,  # pdm-backend
        }
    )
    return env


class _Builder:
    """Runs one distribution's build in the chosen kind of environment."""

    def __init__(self, settings: BuildSettings, runner: _Runner) -> None:
        self.settings = settings
        self.runner = runner
        self.cache = (
            EnvCache(settings.cache_dir, settings.installer)
            if settings.isolation == "cached"
            else None
        )

    def build_pair(self, source: Path, work: Path) -> tuple[Path, Path]:
        """The sdist of ``source``, and the wheel built from that sdist (raw, not normalised)."""
        if self.cache is not None and (pair := self._one_process(source, work)) is not None:
            return pair
        sdist = self.build(source, "sdist", work / "out", memo_source=source)
        unpacked = _unpack(sdist, work / "unpacked")
        return sdist, self.build(unpacked, "wheel", work / "out", memo_source=source)

    def _one_process(self, source: Path, work: Path) -> tuple[Path, Path] | None:
        """Both hooks in one backend process (see hookrunner/run_backend.py), when the backend
        is one that builds repeatedly in-process; None means: use one process per hook.

        In a new environment (extra requirements not remembered yet) the same process asks the
        requirement hooks first and builds on when they ask for nothing; their answers are
        remembered either way. When one asks for something, it is installed and the rest of the
        build continues from where the process stopped."""
        import build

        assert self.cache is not None
        sdist_key, wheel_key = (requires_memo_key(source, d) for d in ("sdist", "wheel"))
        if sdist_key is None or wheel_key is None:
            return None
        keys = (sdist_key, wheel_key)
        probe = build.ProjectBuilder(source, runner=self.runner)
        benv = self.cache.get(sorted(probe.build_system_requires))
        known = [benv.remembered_requires(k) for k in keys]
        ask = any(k is None for k in known)
        if not ask and benv.missing([r for k in known for r in k or []]):
            return None
        out, unpack = work / "out", work / "unpacked"
        out.mkdir(parents=True, exist_ok=True)
        unpack.mkdir(parents=True, exist_ok=True)
        request, result = work / "request.json", work / "result.json"
        request.write_text(
            json.dumps(
                {
                    "backend": backend_of(source),
                    "source": str(source),
                    "outdir": str(out),
                    "unpack": str(unpack),
                    "ask": ask,
                }
            )
        )
        log.debug(
            "building sdist and wheel in one backend process"
            + (" (asking for extra requirements first)" if ask else "")
        )
        try:
            self.runner(
                [str(benv.python), str(RUN_BACKEND), str(request), str(result)], str(source)
            )
        except subprocess.CalledProcessError:
            try:
                failed = json.loads(result.read_text()).get("failed")
            except (OSError, ValueError):
                failed = None
            self._fail(failed or "sdist and wheel", self.runner.output)
        names = json.loads(result.read_text())
        for dist, key in zip(("sdist", "wheel"), keys, strict=True):
            if dist in names["requires"]:
                benv.remember_requires(key, names["requires"][dist])
        if names["sdist"] is None:  # the sdist needs more: install it, then the usual path
            self.cache.ensure(benv, names["requires"]["sdist"])
            return None
        sdist = out / names["sdist"]
        if names["wheel"] is None:  # the wheel needs more: install it, build from the sdist
            self.cache.ensure(benv, names["requires"]["wheel"])
            unpacked = Path(names["unpacked"])
            return sdist, self.build(unpacked, "wheel", out, memo_source=source)
        return sdist, out / names["wheel"]

    def _fail(self, what: str, output: str) -> NoReturn:
        tail = [ln for ln in output.splitlines() if ln.strip()][-15:]
        for line in tail:
            log.info(f"  {line}")
        last = tail[-1].strip() if tail else "no output"
        raise BuildError(
            f"the build backend failed to build the {what} ({last})",
            "fix the project's build configuration (the backend's output is above)",
        )

    def build(
        self, source: Path, distribution: Distribution, outdir: Path, memo_source: Path
    ) -> Path:
        import build
        import build.env

        try:
            if self.settings.isolation == "fresh":
                installer = choose_installer(self.settings.installer)
                # build's isolated environment runs pip/uv from os.environ: without secrets
                with (
                    scrubbed(),
                    build.env.DefaultIsolatedEnv(installer=installer) as env,
                ):
                    builder = build.ProjectBuilder.from_isolated_env(env, source, self.runner)
                    env.install(builder.build_system_requires)
                    env.install(builder.get_requires_for_build(distribution))
                    return Path(builder.build(distribution, outdir))
            if self.cache is not None:
                probe = build.ProjectBuilder(source, runner=self.runner)
                benv = self.cache.get(sorted(probe.build_system_requires))
                builder = build.ProjectBuilder(source, str(benv.python), self.runner)
                extra = self._extra_requires(benv, builder, memo_source, distribution)
                self.cache.ensure(benv, extra)
                return Path(builder.build(distribution, outdir))
            builder = build.ProjectBuilder(source, sys.executable, self.runner)
            # the backend itself first: without it the requirements hook cannot even run
            missing = {u for r in builder.build_system_requires for u in build.check_dependency(r)}
            if not missing:
                missing = builder.check_dependencies(distribution)
            if missing:
                names = ", ".join(sorted(" -> ".join(chain) for chain in missing))
                raise BuildError(
                    f"the build requirements {names} are not installed (--isolation none)",
                    "install them in this environment, or use --isolation cached",
                )
            return Path(builder.build(distribution, outdir))
        except build.BuildBackendException as exc:
            self._fail(distribution, self.runner.output or str(exc))
        except build.BuildException as exc:
            raise BuildError(
                f"building the {distribution} failed ({exc})",
                "fix what the message names in [build-system] of pyproject.toml, then build again",
            ) from None

    @staticmethod
    def _extra_requires(
        benv: BuildEnv, builder: ProjectBuilder, memo_source: Path, distribution: Distribution
    ) -> list[str]:
        """get_requires_for_build_* costs a backend process (setuptools runs egg_info); for
        backends whose answer only depends on the config files it is remembered per env, keyed
        by the files of the original source (the sdist's are derived from them)."""
        key = requires_memo_key(memo_source, distribution)
        if key is not None and (known := benv.remembered_requires(key)) is not None:
            return known
        requires = sorted(builder.get_requires_for_build(distribution))
        if key is not None:
            benv.remember_requires(key, requires)
        return requires


def _unpack(sdist: Path, dest: Path) -> Path:
    with tarfile.open(sdist, "r:gz") as tf:
        tf.extractall(dest, filter="data")
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise BuildError(
            f"{sdist.name} has no single top-level directory",
            "upgrade the build backend in [build-system] requires (sdists hold one <name>-<version>/)",
        )
    return tops[0]


def _needs_stamping(project: Project, version: str) -> bool:
    static = project.static_version
    return (
        project.version_source is VersionSource.STATIC
        and static is not None
        and Version(static.value) != Version(version)
    )


def _portable(path: Path) -> str:
    """``path`` relative to the current directory (in a job: the checkout, where GitLab reads
    the dotenv report), so later jobs, whose checkout may be elsewhere, find it; absolute only
    when it lies outside."""
    here = Path.cwd()
    absolute = path.absolute()
    return absolute.relative_to(here).as_posix() if absolute.is_relative_to(here) else str(path)


def _check_outdir(outdir: Path) -> None:
    """The output directory must be a directory, or creatable in the nearest one that exists."""
    existing = next(p for p in (outdir, *outdir.parents) if p.exists())
    if not existing.is_dir():
        raise ConfigurationError(
            f"cannot write to the output directory {outdir}: {existing} is not a directory",
            "choose another --outdir",
        )


def build_project(settings: BuildSettings) -> BuildResult:
    """Build, check and record the distribution of the project (see the module docstring)."""
    if settings.isolation not in ISOLATION:
        raise ConfigurationError(
            f"unknown isolation {settings.isolation!r}", f"use one of {', '.join(ISOLATION)}"
        )
    started = time.perf_counter()
    info = derive_version(settings.version)
    project = info.project
    log.info(f"building {project.name} {info.version}")
    # a relative --outdir is the project's (dist/ next to its pyproject.toml, as the templates
    # expect with project-dir); a relative --dotenv is the current directory's (GitLab reads
    # dotenv reports relative to the checkout root)
    outdir = project.root / (settings.outdir or "dist")
    # not in the project directory by default: sdists of hatchling/flit/poetry projects take
    # every file git does not ignore, so a later build would ship it (outdir is excluded)
    env_file = (settings.dotenv or outdir / "build.env").absolute()
    # refuse unwritable outputs now: found after the build, dist/ would already have changed
    _check_outdir(outdir)
    if settings.dotenv is not None:
        check_writable(settings.dotenv, fix="choose another path (--dotenv)")
    epoch = _git.commit_time(info.git_root)
    runner = _Runner(hook_environment(project, info.version, epoch))
    builder = _Builder(settings, runner)

    with tempfile.TemporaryDirectory(prefix="wheelship-build-") as tmp:
        work = Path(tmp)
        # Only committed files reach the backend (see staging.py): never caches, reports or
        # other untracked files of the checkout, whatever the backend and the .gitignore.
        source = stage_committed(info.git_root, project.root, work / "staged")
        if _needs_stamping(project, info.version):
            log.info(f"stamping {info.version} into a staged copy of {project.static_version.file}")  # type: ignore[union-attr]
            rewrite_static_version(project, source, info.version)
        with log.section("build", f"sdist of {project.name} {info.version}, wheel from it"):
            sdist, wheel = builder.build_pair(source, work)
            normalize_sdist(sdist, epoch)
            normalize_wheel(wheel, epoch)
        for path in (sdist, wheel):
            check_file(path, project.name, info.version, strict=settings.strict)
        outdir.mkdir(parents=True, exist_ok=True)
        final = []
        for path in (sdist, wheel):
            target = outdir / path.name
            shutil.move(str(path), target)
            final.append(target)
    sdist, wheel = final

    manifest = Manifest(
        name=project.name,
        version=info.version,
        commit=info.commit,
        tag=info.tag,
        files=(DistFile.of(sdist), DistFile.of(wheel)),
    )
    manifest.write(outdir)
    wheel_file = manifest.wheel()
    values = {
        **info.dotenv(),
        "WHEELSHIP_DIST_DIR": _portable(outdir),
        "WHEELSHIP_WHEEL": wheel_file.name,
        "WHEELSHIP_WHEEL_SHA256": wheel_file.sha256,
        "WHEELSHIP_SDIST": sdist.name,
        "WHEELSHIP_MANIFEST": _portable(outdir / MANIFEST_NAME),
    }
    dotenv.write(env_file, values)
    seconds = time.perf_counter() - started
    checked = "twine check --strict" if settings.strict else "twine check"
    log.info(f"built {sdist.name} and {wheel.name} in {seconds:.2f}s (checked: {checked})")
    return BuildResult(info, outdir, sdist, wheel, manifest, env_file, seconds)

"""The backward-compatibility guard: has the public API broken since the previous release?

:func:`check` compares the committed API at HEAD with the previous release tag (or any ref),
decides the semver level of the release being made, and returns a :class:`CompatReport` with a
verdict. It reads the repository and changes nothing in it. :mod:`wheelship.compat.apidiff` finds the
breaks (griffe); :mod:`wheelship.compat.report` renders the report (text, JSON, code quality).

The level: ``--level``, else the version being released (``--version``, a release tag on HEAD, or
the next tag on a ``release/X.Y`` branch) against the previous release; elsewhere the next release
is assumed to be a minor. Semver: a patch may not break, a minor may not unless configured, a
major may (and before 1.0.0 a new 0.y counts as major).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from wheelship import git, log
from wheelship.building.project import read_project
from wheelship.building.version import (
    Release,
    VersionSettings,
    _reachable_releases,
    compile_pattern,
    parse_tag,
)
from wheelship.compat.apidiff import (
    Break,
    Snapshot,
    export,
    find_breaks,
    locate_package,
    normalize_dist_name,
    snapshots,
    top_level_packages,
)
from wheelship.errors import BreakingChangesFound, ConfigurationError, VersionError
from wheelship.gitlab import CiEnv
from wheelship.options import Resolved
from wheelship.release.decide import compile_branch_pattern


class Level(StrEnum):
    """The semver level of a release relative to the previous one."""

    PATCH = "patch"
    MINOR = "minor"
    MAJOR = "major"


class Verdict(StrEnum):
    COMPATIBLE = "compatible"
    NOTHING_TO_COMPARE = "nothing-to-compare"
    ALLOWED = "breaking-allowed"
    BREAKING = "breaking"


@dataclass(frozen=True)
class CompatSettings:
    """What to compare and which breaks the release may carry."""

    project_dir: Path = Path(".")
    #: Baseline ref; default: the previous release tag reachable from HEAD.
    against: str | None = None
    #: The version being released (``1.2.4`` / ``v1.2.4``); decides the level with the baseline.
    version: str | None = None
    #: The level being released, overriding what the version / branch say.
    level: Level | None = None
    #: Import packages (or top-level modules) to check; default: found from pyproject.toml.
    packages: tuple[str, ...] = ()
    #: Accept breaks on a patch or minor release (``wheelship tag --allow-breaking``).
    allow_breaking: bool = False
    #: Accept breaks on a minor release (semver says they belong in a major).
    allow_breaking_minor: bool = False
    tag_pattern: str | None = None
    release_branch_pattern: str | None = None
    #: The branch the release is tagged on; default: MR target branch in MR pipelines, else the
    #: pipeline's branch, else the checked-out branch.
    branch: str | None = None
    #: Never fetch history or tags from origin (a shallow clone is then an error).
    offline: bool = False
    #: Where ``version``/``level`` come from, for the report ("the tag being created").
    context: str | None = None
    environ: Mapping[str, str] | None = None

    @classmethod
    def from_options(cls, r: Resolved) -> CompatSettings:
        """The one constructor from resolved options (``wheelship compat``, and the ``compat:``
        settings ``wheelship tag`` hands to its gate)."""
        return cls(
            project_dir=r["project"],
            against=r["against"],
            version=r["version"],
            level=Level(r["level"]) if r["level"] else None,
            packages=tuple(r["packages"]),
            allow_breaking=bool(r["allow_breaking"]),
            allow_breaking_minor=bool(r["allow_breaking_minor"]),
            tag_pattern=r["tag_pattern"],
            release_branch_pattern=r["release_branch_pattern"],
            branch=r["branch"],
            offline=bool(r["offline"]),
        )


@dataclass
class CompatReport:
    """The outcome of one comparison."""

    head: str  # commit sha
    against: str | None  # baseline ref name (None: nothing to compare)
    against_commit: str | None
    version: str | None  # the version being released, when known
    level: Level
    level_reason: str
    packages: list[str]
    breaks: list[Break] = field(default_factory=list)
    verdict: Verdict = Verdict.COMPATIBLE
    allowed_by: str | None = None  # what let breaks pass: "major release", "--allow-breaking", ...
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.verdict is Verdict.BREAKING

    @property
    def exit_code(self) -> int:
        return BreakingChangesFound.exit_code if self.failed else 0

    @property
    def release_label(self) -> str:
        """``patch release 1.2.4`` / ``the next minor release``."""
        if self.version:
            return f"{self.level.value} release {self.version}"
        return f"the next {self.level.value} release"

    def error(self) -> BreakingChangesFound:
        """The error that refuses this release (``error: <what> — <fix>``)."""
        n = len(self.breaks)
        what = (
            f"{n} breaking change{'s' if n != 1 else ''} to the public API since {self.against} "
            f"{'are' if n != 1 else 'is'} not allowed in {self.release_label}"
        )
        if self.level is Level.PATCH:
            fix = (
                "restore compatibility, or release the change as a new major version, "
                "or override with --allow-breaking (recorded in the release notes)"
            )
        else:
            fix = (
                "restore compatibility, or release the change as a new major version, "
                "or allow breaks in minor releases with --allow-breaking-minor "
                "(WHEELSHIP_ALLOW_BREAKING_MINOR, compat.allow-breaking-minor)"
            )
        return BreakingChangesFound(what, fix)

    def raise_if_failed(self) -> None:
        if self.failed:
            raise self.error()


# --------------------------------------------------------------------------------------------
# Pure decisions (unit-tested on plain data)


def release_level(previous: Release, version: Release) -> tuple[Level, str]:
    """The semver level of ``version`` after ``previous``.

    In 0.y.z a minor bump counts as major: semver lets anything change before 1.0.0, and 0.x
    projects use 0.(y+1) for breaking releases (Cargo's convention). Patches of 0.y still may
    not break.
    """
    if version.major != previous.major:
        return Level.MAJOR, f"{version} is a new major version after {previous}"
    if version.minor != previous.minor:
        if version.major == 0:
            return Level.MAJOR, (
                f"{version} is a new 0.y line after {previous}: before 1.0.0 a minor bump "
                "may break (semver item 4), so it counts as major"
            )
        return Level.MINOR, f"{version} is a new minor version after {previous}"
    return Level.PATCH, f"{version} is a patch of {previous}"


def previous_release(releases: Iterable[Release], before: Release | None = None) -> Release | None:
    """The newest final release, older than ``before`` when given.

    Pre-releases are never a baseline: nobody runs an rc in production, so the promise is made
    against the last final release.
    """
    releases = [r for r in releases if not r.is_prerelease]
    if before is not None:
        releases = [r for r in releases if r < before]
    return max(releases, default=None)


def next_on_branch(
    branch: str, branch_pattern: re.Pattern[str], tags: Iterable[str], pattern: re.Pattern[str]
) -> Release | None:
    """The release ``wheelship tag`` makes next on a release branch ``release/X.Y``:
    ``X.Y.(n+1)`` after the highest final ``X.Y.n``, else ``X.Y.0``. None off release branches."""
    m = branch_pattern.match(branch)
    if not m:
        return None
    major, minor = int(m.group("major")), int(m.group("minor"))
    patches = [
        r.patch
        for r in (parse_tag(t, pattern) for t in tags)
        if r and r.line == (major, minor) and not r.is_prerelease
    ]
    return Release(major, minor, max(patches) + 1 if patches else 0)


def decide(
    level: Level, breaks: int, *, allow_breaking: bool, allow_breaking_minor: bool
) -> tuple[Verdict, str | None]:
    """Semver: a patch may not break; a minor may not unless configured; a major may."""
    if breaks == 0:
        return Verdict.COMPATIBLE, None
    if level is Level.MAJOR:
        return Verdict.ALLOWED, "major release"
    if allow_breaking:
        return Verdict.ALLOWED, "--allow-breaking"
    if level is Level.MINOR and allow_breaking_minor:
        return Verdict.ALLOWED, "allow-breaking-minor"
    return Verdict.BREAKING, None


def _resolve_commit(repo: Path, ref: str, what: str) -> str:
    out = git.run(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if not out:
        raise ConfigurationError(
            f"{what} {ref!r} is not a commit, branch or tag in {repo}",
            "fix the ref, or fetch it first (git fetch --tags origin)",
        )
    return out


# --------------------------------------------------------------------------------------------
# The check


def _branch(settings: CompatSettings, repo: Path, ci: CiEnv) -> str | None:
    return (
        settings.branch
        or ci.mr_target_branch
        or ci.commit_branch
        or (None if ci.commit_tag else git.current_branch(repo))
    )


def _project_import_name(project: Path) -> str | None:
    """The import name the project's distribution name suggests (pyproject, setup.cfg, ...)."""
    try:
        return normalize_dist_name(read_project(project).name)
    except ConfigurationError:
        return None


#: Top-level packages that are never the project's API.
_NOT_API = frozenset({"tests", "test", "testing", "docs", "doc", "examples", "benchmarks"})


def _packages(
    settings: CompatSettings, project: Path, head: Snapshot, prefix: str
) -> dict[str, str]:
    """Package name -> its directory at HEAD."""
    where = prefix.rstrip("/") or "the repository root"
    if settings.packages:
        out = {}
        for name in settings.packages:
            directory = locate_package(head.files, name, prefix)
            if directory is None:
                raise ConfigurationError(
                    f"package {name!r} is not in {where} at HEAD ({head.commit[:12]})",
                    "check --package (WHEELSHIP_COMPAT_PACKAGES); it names an import package",
                )
            out[name] = directory
        return out
    dist_name = _project_import_name(project)
    if dist_name:
        directory = locate_package(head.files, dist_name, prefix)
        if directory is not None:
            return {dist_name: directory}
    # a single package under src/, else a single package at the project's top level
    found: list[str] = []
    for directory in (f"{prefix}src", prefix.rstrip("/")):
        found = [p for p in top_level_packages(head.files, directory) if p not in _NOT_API]
        if len(found) == 1:
            return {found[0]: directory}
        if found:
            break
    raise ConfigurationError(
        f"cannot tell which package's API to check in {where}"
        + (f" (found {', '.join(found)})" if found else ""),
        "pass --package NAME (WHEELSHIP_COMPAT_PACKAGES, or compat.packages in wheelship.yml)",
    )


def check(settings: CompatSettings) -> CompatReport:
    """Compare HEAD's public API with the previous release; never changes the repository."""
    project = settings.project_dir.resolve()
    repo = git.toplevel(project) if project.is_dir() else None
    if repo is None:
        raise ConfigurationError(
            f"{settings.project_dir} is not inside a git repository",
            "run wheelship compat in the project's git checkout (or pass --project DIR)",
        )
    prefix = project.relative_to(repo.resolve()).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    ci = CiEnv.from_env(settings.environ)
    rx = compile_pattern(settings.tag_pattern)
    brx = compile_branch_pattern(settings.release_branch_pattern)
    head_commit = _resolve_commit(repo, "HEAD", "HEAD")
    if git.is_dirty(repo):
        log.warn("the working tree has uncommitted changes: compat checks HEAD's commit only")

    # fetches history and tags when the clone is shallow or has none (GitLab CI clones); not
    # needed when the caller knows both the baseline and the level (wheelship tag)
    reachable: list[Release] = []
    if settings.against is None or settings.level is None:
        reachable = _reachable_releases(
            repo,
            rx,
            VersionSettings(
                project=project, tag_pattern=settings.tag_pattern, offline=settings.offline
            ),
            ci.in_pipeline,
        )
    version, version_reason, branch = _version(settings, repo, ci, rx, brx)
    previous = previous_release(reachable, before=version)

    # the baseline
    notes: list[str] = []
    against: str | None
    against_commit: str | None
    if settings.against:
        against = settings.against
        against_commit = _resolve_commit(repo, against, "--against")
        parsed = parse_tag(against, rx)
        if parsed is not None and not parsed.is_prerelease:
            previous = parsed
    elif previous is not None:
        against = previous.tag or previous.format_tag()
        against_commit = _resolve_commit(repo, against, "previous release tag")
    else:
        against, against_commit = None, None

    level, level_reason = _level(settings, version, version_reason, previous, branch)
    if version is not None and previous is not None and not version > previous:
        raise VersionError(
            f"version {version} is not after the previous release {previous.tag or previous}",
            "pass the version being released (--version), or the baseline (--against)",
        )

    sides = [("HEAD", head_commit)]
    if against is not None and against_commit is not None:
        sides.append((against, against_commit))
    with snapshots(repo, sides, prefix) as snaps:
        head_snap = snaps[0]
        packages = _packages(settings, project, head_snap, prefix)
        report = CompatReport(
            head=head_commit,
            against=against,
            against_commit=against_commit,
            version=str(version) if version else None,
            level=level,
            level_reason=level_reason,
            packages=sorted(packages),
            notes=notes,
        )
        if against is None or against_commit is None:
            report.verdict = Verdict.NOTHING_TO_COMPARE  # its verdict line says why
            return report
        base_snap = snaps[1]
        for name, head_dir in sorted(packages.items()):
            base_dir = locate_package(base_snap.files, name, prefix)
            if base_dir is None:
                notes.append(f"{name} did not exist at {against}: nothing to compare for it")
                continue
            head_paths = _under(head_snap.files, head_dir, name)
            base_paths = _under(base_snap.files, base_dir, name)
            export(repo, head_snap, head_paths)
            export(repo, base_snap, base_paths)
            report.breaks.extend(find_breaks(name, head_snap, base_snap, head_dir, base_dir))

    report.verdict, report.allowed_by = decide(
        level,
        len(report.breaks),
        allow_breaking=settings.allow_breaking,
        allow_breaking_minor=settings.allow_breaking_minor,
    )
    return report


def _under(files: list[str], directory: str, name: str) -> list[str]:
    base = f"{directory}/" if directory else ""
    pkg = f"{base}{name}/"
    single = {f"{base}{name}.py", f"{base}{name}.pyi"}
    return [f for f in files if f.startswith(pkg) or f in single]


def _version(
    settings: CompatSettings,
    repo: Path,
    ci: CiEnv,
    rx: re.Pattern[str],
    brx: re.Pattern[str],
) -> tuple[Release | None, str, str | None]:
    """The version being released and why, and the branch that was consulted for it (None when
    --version or a tag on HEAD says it); _level names that branch when the version is unknown."""
    if settings.version:
        version = parse_tag(settings.version, rx) or parse_tag(settings.version)
        if version is None:
            raise VersionError(
                f"--version {settings.version!r} is not a release version",
                "use X.Y.Z (or a tag such as v1.2.3)",
            )
        return version, settings.context or f"--version {settings.version}", None
    at_head = [r for r in (parse_tag(t, rx) for t in git.tags_at(repo)) if r]
    if at_head:
        version = max(at_head)
        return version, f"HEAD is tagged {version.tag}", None
    branch = _branch(settings, repo, ci)
    if branch:
        all_tags = git.all_tags(repo)
        version = next_on_branch(branch, brx, all_tags, rx)
        if version is not None:
            return version, f"the next release on {branch}", branch
    return None, "", branch


def _level(
    settings: CompatSettings,
    version: Release | None,
    version_reason: str,
    previous: Release | None,
    branch: str | None,
) -> tuple[Level, str]:
    if settings.level is not None:
        given = settings.context or f"--level {settings.level.value}"
        if version is not None and previous is not None:
            level, why = release_level(previous, version)
            if level is settings.level:
                return level, f"{why} ({given})"
        return settings.level, given
    if version is not None and previous is not None:
        level, why = release_level(previous, version)
        return level, f"{why} ({version_reason})"
    if version is not None:
        return Level.MAJOR, f"{version} is the first release ({version_reason})"
    where = branch or "a detached HEAD"
    if previous is not None and previous.major == 0:
        return Level.MAJOR, (
            f"the next release from {where} is assumed to start a new 0.y line, where "
            "breaks are allowed; pass --version or --level to say otherwise"
        )
    return Level.MINOR, (
        f"the next release from {where} is assumed to be a minor (a new release line); "
        "pass --version or --level to say otherwise"
    )

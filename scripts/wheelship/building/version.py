"""Release tags and versions: semver tags <-> PEP 440 versions.

Release tags are ``vX.Y.Z`` / ``X.Y.Z`` and pre-releases ``vX.Y.Z-rc.N`` (also ``-a.N``/``-b.N``
/``-alpha.N``/``-beta.N``), mapped to PEP 440 ``X.Y.Z``, ``X.Y.ZrcN``, ``X.Y.ZaN``, ``X.Y.ZbN``.
The accepted tag shape is a configurable regular expression with named groups.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import total_ordering
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import Version

from wheelship import git as _git
from wheelship import log
from wheelship.building.project import Project, read_project
from wheelship.errors import ConfigurationError, GitError, TagPolicyError, VersionError
from wheelship.options import Resolved, unslash

if TYPE_CHECKING:
    from wheelship.gitlab import CiEnv

#: The default tag pattern: optional ``v``, semver core, optional ``-rc.N``-style pre-release.
#: The templates' ``release-tag-pattern`` input is this, between slashes: their rules compare
#: ``$CI_COMMIT_TAG =~ $WHEELSHIP_TAG_PATTERN`` and the CLI reads the same variable. Written
#: without backslashes (``[0-9]``, ``[.]``) and with ``(?P<name>``, so that Python, GitLab's RE2
#: and gitlab-ci-local (which drops backslashes of a regex taken from a variable) read it alike.
DEFAULT_TAG_PATTERN = (
    "^v?(?P<major>0|[1-9][0-9]*)[.](?P<minor>0|[1-9][0-9]*)[.](?P<patch>0|[1-9][0-9]*)"
    "(?:-(?P<pre_label>rc|a|b|alpha|beta)[.](?P<pre_num>0|[1-9][0-9]*))?$"
)

_PRE_PEP440 = {"rc": "rc", "a": "a", "alpha": "a", "b": "b", "beta": "b"}
_PRE_ORDER = {"a": 0, "b": 1, "rc": 2}


@total_ordering
@dataclass(frozen=True)
class Release:
    """A release version parsed from a tag."""

    major: int
    minor: int
    patch: int
    pre: tuple[str, int] | None = None  # ("rc", 1) in PEP 440 spelling
    tag: str | None = None

    @property
    def pep440(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return core + (f"{self.pre[0]}{self.pre[1]}" if self.pre else "")

    @property
    def line(self) -> tuple[int, int]:
        """The release line ``(X, Y)``."""
        return (self.major, self.minor)

    @property
    def is_prerelease(self) -> bool:
        return self.pre is not None

    def _key(self) -> tuple[int, int, int, int, int]:
        pre = (_PRE_ORDER[self.pre[0]], self.pre[1]) if self.pre else (9, 0)
        return (self.major, self.minor, self.patch, *pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Release):
            return NotImplemented
        return self._key() < other._key()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Release):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.pep440

    def next_patch(self) -> Release:
        """The next patch after this one (a pre-release's own X.Y.Z is the next final)."""
        if self.pre:
            return Release(self.major, self.minor, self.patch)
        return Release(self.major, self.minor, self.patch + 1)

    def format_tag(self, prefix: str = "v") -> str:
        core = f"{prefix}{self.major}.{self.minor}.{self.patch}"
        return core + (f"-{self.pre[0]}.{self.pre[1]}" if self.pre else "")


def describe_pattern(rx: re.Pattern[str]) -> str:
    """The pattern as people read it: the default's shapes, or the custom regex."""
    if rx.pattern == DEFAULT_TAG_PATTERN:
        return "vX.Y.Z or X.Y.Z, optionally with -rc.N, -beta.N, -b.N, -alpha.N or -a.N"
    return f"pattern {rx.pattern}"


def compile_named(
    pattern: str | None, default: str, what: str, groups: set[str], fixes: tuple[str, str]
) -> re.Pattern[str]:
    """``pattern`` (``default`` when unset) compiled, with the named ``groups`` it must have;
    ``fixes`` say what to do about invalid syntax and about missing groups."""
    try:
        rx = re.compile(unslash(pattern) if pattern else default)
    except re.error as exc:
        raise ConfigurationError(
            f"{what} {pattern!r} is not a valid regular expression ({exc})", fixes[0]
        ) from None
    missing = groups - set(rx.groupindex)
    if missing:
        raise ConfigurationError(
            f"{what} {pattern!r} lacks the named groups {', '.join(sorted(missing))}", fixes[1]
        )
    return rx


def compile_pattern(pattern: str | None) -> re.Pattern[str]:
    return compile_named(
        pattern,
        DEFAULT_TAG_PATTERN,
        "tag pattern",
        {"major", "minor", "patch"},
        (
            "fix WHEELSHIP_TAG_PATTERN / --tag-pattern",
            "use (?P<major>...), (?P<minor>...) and (?P<patch>...) groups",
        ),
    )


def parse_tag(tag: str, pattern: str | re.Pattern[str] | None = None) -> Release | None:
    """The release a tag names, or None when the tag is not a release tag."""
    rx = pattern if isinstance(pattern, re.Pattern) else compile_pattern(pattern)
    m = rx.match(tag)
    if not m:
        return None
    groups = m.groupdict()
    pre = None
    if groups.get("pre_label") and groups.get("pre_num") is not None:
        pre = (_PRE_PEP440[groups["pre_label"]], int(groups["pre_num"]))
    return Release(int(groups["major"]), int(groups["minor"]), int(groups["patch"]), pre, tag)


# --------------------------------------------------------------------------------------------
# The version of a project checkout: release tags + git state + CI environment -> PEP 440.
# --------------------------------------------------------------------------------------------

_SHALLOW_FIX = 'set GIT_DEPTH: "0" in the job\'s variables (or run git fetch --unshallow --tags)'


@dataclass(frozen=True)
class VersionSettings:
    """What ``wheelship version`` (and ``build``) need to derive a version."""

    project: Path = Path(".")
    tag_pattern: str | None = None
    offline: bool = False  # never fetch tags/history from origin
    environ: Mapping[str, str] | None = None  # the CI environment; None = os.environ

    @classmethod
    def from_options(cls, r: Resolved) -> VersionSettings:
        """The one constructor from resolved options (``version``, and ``build`` for its
        version)."""
        return cls(project=r["project"], tag_pattern=r["tag_pattern"], offline=r["offline"])


@dataclass(frozen=True)
class VersionInfo:
    """A derived version and everything later steps need to know about it."""

    version: str
    project: Project
    git_root: Path
    commit: str
    tag: str | None  # the release tag the version is exactly (None for dev versions)
    last_release: Release | None  # the release the version counts from
    distance: int
    dirty: bool
    in_pipeline: bool

    @property
    def name(self) -> str:
        return self.project.name

    @property
    def is_release(self) -> bool:
        return self.tag is not None

    def dotenv(self) -> dict[str, str]:
        return {
            "WHEELSHIP_VERSION": self.version,
            "WHEELSHIP_DIST_NAME": self.project.name,
            "WHEELSHIP_PROJECT_NAME": self.project.canonical_name,
            "WHEELSHIP_COMMIT": self.commit,
            "WHEELSHIP_RELEASE_TAG": self.tag or "",
            "WHEELSHIP_IS_RELEASE": "true" if self.is_release else "false",
        }


def ci_dev_version(last: Release | None, pipeline_iid: int) -> str:
    """``X.Y.(Z+1).dev<IID>``: unique per pipeline, no local part (registries refuse ``+g…``).

    After a pre-release ``X.Y.ZrcN`` the next is ``X.Y.Zrc(N+1).dev<IID>``, like setuptools-scm:
    ``X.Y.Z.devN`` would sort *before* ``X.Y.ZrcN`` and pip would prefer the older rc.
    """
    if last is None:
        return f"0.0.1.dev{pipeline_iid}"
    if last.pre:
        core = f"{last.major}.{last.minor}.{last.patch}"
        return f"{core}{last.pre[0]}{last.pre[1] + 1}.dev{pipeline_iid}"
    return f"{last.next_patch().pep440}.dev{pipeline_iid}"


def scm_default_version(
    project: Project, git_root: Path, commit: str, last: Release | None, distance: int, dirty: bool
) -> str:
    """setuptools-scm's own rendering (the project's version/local schemes apply)."""
    from datetime import UTC, datetime

    from setuptools_scm import Configuration
    from setuptools_scm import Version as ScmVersionCls
    from setuptools_scm.version import format_version, meta

    stamp = _git.run(git_root, "-c", "log.showSignature=false", "log", "-1", "--format=%cI")
    node_date = datetime.fromisoformat(stamp).astimezone(UTC).date()
    # setuptools-scm 10 deprecates Configuration() without its new VcsEnvironment (an API
    # that 8/9 lack); the rendering is the same either way, so the warning is noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        config: Configuration | None = None
        if project.has_scm_config:
            try:
                config = Configuration.from_file(
                    project.root / "pyproject.toml", dist_name=project.name
                )
            except Exception as exc:  # any bad [tool.setuptools_scm] is the user's to fix
                raise ConfigurationError(
                    f"{project.root / 'pyproject.toml'}: [tool.setuptools_scm] is invalid ({exc})",
                    "fix the setuptools-scm configuration",
                ) from None
        if config is None:
            config = Configuration(root=str(git_root), dist_name=project.name)
        scm = meta(
            ScmVersionCls(last.pep440 if last else "0.0.0"),
            distance=distance,
            dirty=dirty,
            node="g" + commit,
            branch=_git.current_branch(git_root),
            node_date=node_date,
            time=datetime.now(UTC),
            config=config,
        )
        return str(format_version(scm))


def _release_tags(tags: list[str], rx: re.Pattern[str]) -> list[Release]:
    return sorted(r for t in tags if (r := parse_tag(t, rx)) is not None)


def _reachable_releases(
    root: Path, rx: re.Pattern[str], settings: VersionSettings, in_pipeline: bool
) -> list[Release]:
    """Release tags in HEAD's history, fetching tags and history from origin when this clone
    is shallow or has none (GitLab CI clones: GIT_DEPTH 20, no tags, detached HEAD)."""
    releases = _release_tags(_git.merged_tags(root), rx)
    shallow = _git.is_shallow(root)
    has_origin = _git.has_remote(root)
    if not shallow and (releases or not has_origin):
        return releases
    if shallow:
        if not has_origin:
            raise VersionError(
                f"{root} is a shallow clone without an 'origin' remote to fetch its history from",
                'clone it with its full history (GIT_DEPTH: "0" in GitLab CI)',
            )
        if settings.offline:
            raise VersionError(
                f"{root} is a shallow clone and fetching is disabled (--offline), so the last "
                "release tag cannot be found",
                _SHALLOW_FIX,
            )
        log.info("shallow clone: fetching its history and tags from origin")
        try:
            _git.fetch(root, "--unshallow", "--tags")
        except GitError as exc:
            raise VersionError(
                f"{root} is a shallow clone and fetching its history failed ({exc.what})",
                _SHALLOW_FIX,
            ) from None
    elif not settings.offline:
        log.info("no release tag in this clone: fetching tags from origin")
        try:
            _git.fetch(root, "--tags")
        except GitError as exc:
            if in_pipeline:
                raise VersionError(
                    f"no release tag in this clone and fetching tags from origin failed "
                    f"({exc.what})",
                    'set GIT_DEPTH: "0" and GIT_FETCH_EXTRA_FLAGS: "--prune --quiet --tags" in the '
                    "job's variables",
                ) from None
            log.warn(f"could not fetch tags from origin ({exc.what}); using the local tags")
    return _release_tags(_git.merged_tags(root), rx)


def _warn_ignored_tags(root: Path, rx: re.Pattern[str], last: Release | None) -> None:
    """Say so when a version-looking tag that setuptools-scm would have used is not semver."""
    ignored = [t for t in _git.tags_at(root) if parse_tag(t, rx) is None]
    nearest = _git.nearest_tag(root)
    if nearest and parse_tag(nearest, rx) is None and nearest not in ignored:
        ignored.append(nearest)
    counting = f"versions count from {last.tag}" if last and last.tag else "it is ignored"
    for tag in ignored:
        log.warn(f"tag {tag!r} is not a release tag ({describe_pattern(rx)}); ignored, {counting}")


def _check_static(info: VersionInfo) -> None:
    """A version pinned in metadata must say what the tag says."""
    static = info.project.static_version
    if static is None:
        return
    where = f"{static.file} [{static.table}]"
    if info.tag is not None and Version(static.value) != Version(info.version):
        raise VersionError(
            f"{where} pins version {static.value} but the release tag {info.tag} names "
            f"{info.version}",
            f'set version = "{info.version}" there, or tag the commit with the version it pins',
        )
    last = info.last_release
    if info.tag is None and last is not None and Version(static.value) < Version(last.pep440):
        raise VersionError(
            f"{where} pins version {static.value}, older than the last release tag {last.tag}",
            f'set version = "{last.pep440}" (or the next version) there',
        )


def derive_version(settings: VersionSettings) -> VersionInfo:
    """The PEP 440 version of the project checkout (see docs/versions.md)."""
    from wheelship.gitlab import CiEnv

    project = read_project(settings.project.resolve())
    git_root = _git.toplevel(project.root)
    if git_root is None:
        raise VersionError(
            f"{project.root} is not in a git repository, so there are no tags to version it by",
            "run in a git clone of the project (or git init, commit and tag v0.1.0)",
        )
    commit = _git.run(git_root, "rev-parse", "--verify", "--quiet", "HEAD", check=False)
    if not commit:
        raise VersionError(
            f"{git_root} has no commits yet", "commit the project and tag a release (v0.1.0)"
        )
    ci = CiEnv.from_env(settings.environ)
    rx = compile_pattern(settings.tag_pattern)
    dirty = _git.is_dirty(git_root)

    if ci.commit_tag:
        info = _for_tag_pipeline(project, git_root, ci.commit_tag, rx, commit, dirty, ci)
        _check_static(info)
        return info

    at_head = _release_tags(_git.tags_at(git_root), rx)
    if at_head:
        last: Release | None = at_head[-1]
        distance = 0
    else:
        releases = _reachable_releases(git_root, rx, settings, ci.in_pipeline)
        last = releases[-1] if releases else None
        distance = _git.count_commits(git_root, last.tag if last else None)
    _warn_ignored_tags(git_root, rx, last)
    if last is None:
        log.warn(
            "no release tag in HEAD's history; versions count from 0.0.0 — tag the first "
            "release (git tag v0.1.0) to start the series"
        )

    if ci.in_pipeline:
        assert ci.pipeline_iid is not None  # in_pipeline implies it
        if dirty:
            log.warn("the working tree has uncommitted changes; the CI version does not show them")
        on_tag = distance == 0 and last is not None
        version = last.pep440 if on_tag and last else ci_dev_version(last, ci.pipeline_iid)
    else:
        on_tag = distance == 0 and last is not None and not dirty
        version = scm_default_version(project, git_root, commit, last, distance, dirty)
    info = VersionInfo(
        version=version,
        project=project,
        git_root=git_root,
        commit=commit,
        tag=last.tag if on_tag and last else None,
        last_release=last,
        distance=distance,
        dirty=dirty,
        in_pipeline=ci.in_pipeline,
    )
    _check_static(info)
    return info


def _for_tag_pipeline(
    project: Project,
    git_root: Path,
    tag: str,
    rx: re.Pattern[str],
    commit: str,
    dirty: bool,
    ci: CiEnv,
) -> VersionInfo:
    """A pipeline *for* a tag: the tag must be a release tag, and it is the version."""
    release = parse_tag(tag, rx)
    if release is None:
        raise TagPolicyError(
            f"CI_COMMIT_TAG {tag!r} is not a release tag ({describe_pattern(rx)})",
            "tag releases as vX.Y.Z or vX.Y.Z-rc.N, or keep release jobs off other tags "
            "(rules: - if: $CI_COMMIT_TAG =~ $WHEELSHIP_TAG_PATTERN, as the templates do)",
        )
    tagged = _git.tag_commit(git_root, tag)
    if tagged is not None and tagged != commit:
        raise VersionError(
            f"CI_COMMIT_TAG {tag} points at {tagged[:12]} but HEAD is {commit[:12]}",
            "check out the tagged commit (the pipeline must run for the tag)",
        )
    if dirty:
        log.warn("the working tree has uncommitted changes; the release version does not show them")
    return VersionInfo(
        version=release.pep440,
        project=project,
        git_root=git_root,
        commit=commit,
        tag=tag,
        last_release=release,
        distance=0,
        dirty=dirty,
        in_pipeline=ci.in_pipeline,
    )

"""Which release tag the commit being built gets: pure decisions over plain data.

GitLab flow with short-lived release branches: a pipeline on ``release/X.Y`` tags the next patch
of the X.Y line; the default branch is tagged only when asked (a manual "cut a release" job).
Everything here works on a :class:`RepoState` snapshot and a :class:`TagPolicy` and does no I/O,
so every rule is unit-testable; :mod:`wheelship.release.tag` reads the repository, calls
:func:`decide`, runs the pre-tag checks and creates the tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from wheelship.building.version import (
    Release,
    compile_named,
    compile_pattern,
    describe_pattern,
    parse_tag,
)
from wheelship.errors import ConfigurationError, TagPolicyError

#: ``release/X.Y`` — the named groups ``major`` and ``minor`` give the branch's release line.
DEFAULT_RELEASE_BRANCH_PATTERN = r"^release/(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)$"

Action = Literal["create", "exists", "skip"]
Bump = Literal["major", "minor", "patch"]
Level = Literal["initial", "major", "minor", "patch", "pre-release"]

#: How many commits the release notes list before summarising the rest.
NOTES_MAX_COMMITS = 200


def compile_branch_pattern(pattern: str | None) -> re.Pattern[str]:
    return compile_named(
        pattern,
        DEFAULT_RELEASE_BRANCH_PATTERN,
        "release branch pattern",
        {"major", "minor"},
        (
            "fix --release-branch-pattern / WHEELSHIP_RELEASE_BRANCH_PATTERN",
            r"use (?P<major>\d+) and (?P<minor>\d+), e.g. ^release/(?P<major>\d+)\.(?P<minor>\d+)$",
        ),
    )


@dataclass(frozen=True)
class TagInfo:
    """A tag in the repository, the commit it names, and the release it names (if any)."""

    name: str
    commit: str
    release: Release | None = None


@dataclass(frozen=True)
class RepoState:
    """What the decision needs to know about the repository (read by the tag flow)."""

    head: str
    branch: str | None  # None: detached HEAD and no branch given
    default_branch: str
    tags: tuple[TagInfo, ...] = ()
    merged: frozenset[str] = frozenset()  # names of tags reachable from HEAD
    dirty_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class TagPolicy:
    tag_pattern: re.Pattern[str] = field(default_factory=lambda: compile_pattern(None))
    release_branch_pattern: re.Pattern[str] = field(
        default_factory=lambda: compile_branch_pattern(None)
    )
    prefix: str = "v"
    #: One supported production release: no patches on lines older than the newest released one.
    single_production: bool = True


@dataclass(frozen=True)
class TagRequest:
    bump: Bump | None = None
    version: str | None = None  # an explicit X.Y.Z (or vX.Y.Z, X.Y.Z-rc.N)


@dataclass(frozen=True)
class TagDecision:
    action: Action
    reason: str
    commit: str
    tag: str | None = None
    release: Release | None = None
    #: The release the notes and the API compatibility check compare against.
    previous: TagInfo | None = None
    #: The semver step from ``previous`` (what a compatibility check allows).
    level: Level | None = None
    branch: str | None = None


def with_releases(tags: dict[str, str], pattern: re.Pattern[str]) -> tuple[TagInfo, ...]:
    """``{name: commit}`` -> TagInfo with the parsed release (None for non-release tags)."""
    return tuple(
        TagInfo(name, commit, parse_tag(name, pattern)) for name, commit in sorted(tags.items())
    )


def branch_line(branch: str, policy: TagPolicy) -> tuple[int, int] | None:
    m = policy.release_branch_pattern.match(branch)
    return (int(m.group("major")), int(m.group("minor"))) if m else None


def _short(sha: str) -> str:
    return sha[:8]


def _releases(state: RepoState) -> list[TagInfo]:
    return [t for t in state.tags if t.release is not None]


def _rel(t: TagInfo) -> Release:
    assert t.release is not None
    return t.release


def decide(state: RepoState, policy: TagPolicy, request: TagRequest | None = None) -> TagDecision:
    """The tag the commit ``state.head`` gets, or why it gets none.

    Raises TagPolicyError (exit 2) when tagging would break the policy: a tag outside the
    branch's line, an old line under the single-production policy, a moved tag, a version going
    backwards, a dirty working tree, or a branch that is neither default nor release branch.
    """
    request = request or TagRequest()
    releases = _releases(state)
    at_head = sorted((t for t in releases if t.commit == state.head), key=_rel, reverse=True)

    wanted: Release | None = None
    if request.version is not None:
        wanted = parse_tag(request.version.strip(), policy.tag_pattern)
        if wanted is None:
            raise TagPolicyError(
                f"--version {request.version!r} is not a release version",
                "give X.Y.Z (or X.Y.Z-rc.N) matching the tag pattern",
            )
        if request.bump is not None:
            raise TagPolicyError(
                "--version and --bump are both set", "give only one of --version and --bump"
            )

    # Idempotent: a commit that already carries a release tag keeps it (also in tag pipelines,
    # where HEAD is detached and no branch is known).
    if at_head:
        same = [t for t in at_head if wanted is None or _rel(t) == wanted]
        if same:
            return TagDecision(
                "exists",
                f"HEAD ({_short(state.head)}) already carries the release tag {same[0].name}",
                state.head,
                tag=same[0].name,
                release=same[0].release,
                branch=state.branch,
            )
        raise TagPolicyError(
            f"HEAD ({_short(state.head)}) already carries the release tag {at_head[0].name}, "
            f"not {request.version}",
            "a commit gets one release: commit the change for the new release first",
        )

    if state.branch is None:
        raise TagPolicyError(
            "HEAD is detached and no branch is known",
            "pass --branch (GitLab CI sets CI_COMMIT_BRANCH) or check out the branch",
        )

    line = branch_line(state.branch, policy)
    if line is not None:
        if request.bump in ("major", "minor"):
            raise TagPolicyError(
                f"--bump {request.bump} on release branch {state.branch}: a release branch "
                f"only gets patches of its {line[0]}.{line[1]} line",
                "cut minor and major releases from the default branch",
            )
        in_line = sorted((t for t in releases if _rel(t).line == line), key=_rel)
        if wanted is None:
            wanted = _rel(in_line[-1]).next_patch() if in_line else Release(line[0], line[1], 0)
        elif wanted.line != line:
            raise TagPolicyError(
                f"--version {request.version} is outside the {line[0]}.{line[1]} line of "
                f"release branch {state.branch}",
                f"tag {line[0]}.{line[1]}.Z here, or run on the release/X.Y branch of that line",
            )
    elif state.branch == state.default_branch:
        if wanted is None and request.bump is None:
            return TagDecision(
                "skip",
                f"on the default branch {state.branch} no tag is created unless asked "
                "(--bump major|minor|patch or --version X.Y.Z)",
                state.head,
                branch=state.branch,
            )
        if wanted is None:
            assert request.bump is not None
            wanted = _bump(max((_rel(t) for t in releases), default=None), request.bump)
    else:
        raise TagPolicyError(
            f"branch {state.branch} is neither the default branch ({state.default_branch}) nor "
            f"a release branch (pattern {policy.release_branch_pattern.pattern})",
            "tag from a release/X.Y branch or the default branch (--bump/--version), or fix "
            "--release-branch-pattern / --default-branch",
        )

    tag = wanted.format_tag(policy.prefix)
    if parse_tag(tag, policy.tag_pattern) != wanted:
        # a tag the project's own pattern does not read as this release would be invisible to
        # every later version, build and tag decision
        raise ConfigurationError(
            f"the tag {tag} would not match the tag pattern "
            f"({describe_pattern(policy.tag_pattern)})",
            "set --tag-prefix (WHEELSHIP_TAG_PREFIX, tag.tag-prefix) to the prefix the pattern "
            "expects",
        )
    for t in state.tags:
        if t.name == tag or (t.release is not None and t.release == wanted):
            raise TagPolicyError(
                f"tag {t.name} already exists at {_short(t.commit)}, not at HEAD "
                f"({_short(state.head)}); a release tag never moves",
                "commit the fix and let the next patch be tagged, or tag a new version",
            )
    _check_policy(policy, wanted, releases)
    if state.dirty_files:
        shown = ", ".join(state.dirty_files[:3]) + (" …" if len(state.dirty_files) > 3 else "")
        raise TagPolicyError(
            f"the working tree has uncommitted changes to tracked files ({shown})",
            "commit or stash them: a release tag must name exactly what was built",
        )
    previous = _previous(state, releases, wanted)
    return TagDecision(
        "create",
        f"next release of {state.branch}",
        state.head,
        tag=tag,
        release=Release(wanted.major, wanted.minor, wanted.patch, wanted.pre, tag),
        previous=previous,
        level=_level(previous.release if previous else None, wanted),
        branch=state.branch,
    )


def _bump(base: Release | None, bump: Bump) -> Release:
    if base is None:
        return {"major": Release(1, 0, 0), "minor": Release(0, 1, 0), "patch": Release(0, 0, 1)}[
            bump
        ]
    if bump == "patch":
        return base.next_patch()
    if bump == "minor":
        # The final of a X.Y.0 pre-release is the minor release itself.
        if base.pre and base.patch == 0:
            return Release(base.major, base.minor, 0)
        return Release(base.major, base.minor + 1, 0)
    if base.pre and base.minor == 0 and base.patch == 0:
        return Release(base.major, 0, 0)
    return Release(base.major + 1, 0, 0)


def _check_policy(policy: TagPolicy, wanted: Release, releases: list[TagInfo]) -> None:
    finals = [_rel(t) for t in releases if not _rel(t).is_prerelease]
    newest_line = max((r.line for r in finals), default=None)
    in_line = [_rel(t) for t in releases if _rel(t).line == wanted.line]
    line_txt = f"{wanted.line[0]}.{wanted.line[1]}"
    if policy.single_production and newest_line is not None and wanted.line < newest_line:
        newest = max(r for r in finals if r.line == newest_line)
        raise TagPolicyError(
            f"refusing to tag {wanted.format_tag(policy.prefix)}: the {line_txt} line is older "
            f"than the newest released line {newest_line[0]}.{newest_line[1]} ({newest.tag}), "
            "and only one production release is supported",
            f"merge the fix into release/{newest_line[0]}.{newest_line[1]}, or turn the policy "
            "off with --support-old-lines",
        )
    ceiling = max(in_line) if in_line else max((_rel(t) for t in releases), default=None)
    if ceiling is not None and not wanted > ceiling:
        where = f"the {line_txt} line" if in_line else "the repository"
        raise TagPolicyError(
            f"version {wanted.pep440} would go backwards: {where} already has "
            f"{ceiling.tag or ceiling.pep440}",
            "choose a version above it",
        )


def _previous(state: RepoState, releases: list[TagInfo], wanted: Release) -> TagInfo | None:
    """The release the new one follows: the highest final release reachable from HEAD below
    it (a pre-release only when there is no final one)."""
    below = [t for t in releases if t.name in state.merged and _rel(t) < wanted]
    finals = [t for t in below if not _rel(t).is_prerelease]
    pool = finals or below
    return max(pool, key=_rel) if pool else None


def _level(previous: Release | None, new: Release) -> Level:
    if previous is None:
        return "initial"
    if new.is_prerelease:
        return "pre-release"
    if new.major != previous.major:
        return "major"
    if new.minor != previous.minor:
        return "minor"
    return "patch"


def release_notes(
    decision: TagDecision,
    commits: list[tuple[str, str, str]],
    extra: list[str] | None = None,
) -> str:
    """Markdown release notes: the commits since the previous release, newest first."""
    assert decision.tag is not None
    since = decision.previous.name if decision.previous else None
    # No line starts with '#': git's default message cleanup would drop it from the tag.
    lines = [f"Release {decision.tag}", ""]
    lines.append(f"Changes since {since}:" if since else "Changes (first release):")
    lines.append("")
    for sha, subject, author in commits[:NOTES_MAX_COMMITS]:
        lines.append(f"- {_short(sha)} {subject} ({author})")
    if len(commits) > NOTES_MAX_COMMITS:
        lines.append(f"- … and {len(commits) - NOTES_MAX_COMMITS} earlier commits")
    if not commits:
        lines.append("- no commits")
    if extra:
        lines += ["", *extra]
    return "\n".join(lines) + "\n"

"""Release tags and versions: semver tags <-> PEP 440 versions.

Release tags are ``vX.Y.Z`` / ``X.Y.Z`` and pre-releases ``vX.Y.Z-rc.N`` (also ``-a.N``/``-b.N``
/``-alpha.N``/``-beta.N``), mapped to PEP 440 ``X.Y.Z``, ``X.Y.ZrcN``, ``X.Y.ZaN``, ``X.Y.ZbN``.
The accepted tag shape is a configurable regular expression with named groups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

#: The default tag pattern: optional ``v``, semver core, optional ``-rc.N``-style pre-release.
DEFAULT_TAG_PATTERN = (
    r"^v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre_label>rc|a|b|alpha|beta)\.(?P<pre_num>0|[1-9]\d*))?$"
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


def compile_pattern(pattern: str | None) -> re.Pattern[str]:
    from wheelship.errors import ConfigurationError

    try:
        rx = re.compile(pattern or DEFAULT_TAG_PATTERN)
    except re.error as exc:
        raise ConfigurationError(
            f"tag pattern {pattern!r} is not a valid regular expression ({exc})",
            "fix WHEELSHIP_TAG_PATTERN / --tag-pattern",
        ) from None
    missing = {"major", "minor", "patch"} - set(rx.groupindex)
    if missing:
        raise ConfigurationError(
            f"tag pattern {pattern!r} lacks the named groups {', '.join(sorted(missing))}",
            "use (?P<major>...), (?P<minor>...) and (?P<patch>...) groups",
        )
    return rx


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

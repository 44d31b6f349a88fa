"""The compat guard's decisions on plain data: levels, baselines, verdicts, package discovery."""

from __future__ import annotations

import pytest

from wheelship.building.version import Release, compile_pattern, parse_tag
from wheelship.compat.apidiff import locate_package, normalize_dist_name, top_level_packages
from wheelship.compat.check import (
    Level,
    Verdict,
    decide,
    next_on_branch,
    previous_release,
    release_level,
)
from wheelship.release.decide import compile_branch_pattern

RX = compile_pattern(None)
BRANCH = compile_branch_pattern(None)


def rel(tag: str) -> Release:
    r = parse_tag(tag)
    assert r is not None
    return r


@pytest.mark.parametrize(
    ("previous", "version", "level"),
    [
        ("1.2.3", "1.2.4", Level.PATCH),
        ("1.2.3", "1.2.10", Level.PATCH),
        ("1.2.3", "1.3.0", Level.MINOR),
        ("1.2.3", "1.3.0-rc.1", Level.MINOR),
        ("1.2.3", "2.0.0", Level.MAJOR),
        ("1.2.3", "2.0.0-a.0", Level.MAJOR),
        ("0.3.1", "0.3.2", Level.PATCH),
        ("0.3.1", "0.4.0", Level.MAJOR),  # before 1.0.0 a new 0.y may break
        ("0.9.0", "1.0.0", Level.MAJOR),
    ],
)
def test_release_level(previous: str, version: str, level: Level) -> None:
    assert release_level(rel(previous), rel(version))[0] is level


def test_release_level_says_why() -> None:
    assert release_level(rel("v0.3.1"), rel("v0.4.0"))[1] == (
        "0.4.0 is a new 0.y line after 0.3.1: before 1.0.0 a minor bump may break "
        "(semver item 4), so it counts as major"
    )


def test_previous_release_is_the_newest_final_before_the_version() -> None:
    releases = [rel(t) for t in ["v1.0.0", "v1.0.1", "v1.1.0-rc.1", "v1.1.0", "v1.2.0-rc.1"]]
    assert previous_release(releases) == rel("v1.1.0")
    assert previous_release(releases, before=rel("v1.1.0")) == rel("v1.0.1")
    assert previous_release(releases, before=rel("v1.2.0")) == rel("v1.1.0")
    assert previous_release(releases, before=rel("v1.0.0")) is None
    assert previous_release([]) is None
    assert previous_release([rel("v1.0.0-rc.1")]) is None


@pytest.mark.parametrize(
    ("branch", "tags", "expected"),
    [
        ("release/1.2", ["v1.2.0", "v1.2.3", "v1.3.0", "v1.2.4-rc.1"], "1.2.4"),
        ("release/1.2", ["v1.1.9"], "1.2.0"),
        ("release/0.3", ["v0.3.0"], "0.3.1"),
        ("main", ["v1.2.0"], None),
        ("release/1.2.x", ["v1.2.0"], None),
        ("feature/release/1.2", ["v1.2.0"], None),
    ],
)
def test_next_on_branch(branch: str, tags: list[str], expected: str | None) -> None:
    found = next_on_branch(branch, BRANCH, tags, RX)
    assert (str(found) if found else None) == expected


def test_custom_release_branch_pattern() -> None:
    brx = compile_branch_pattern(r"^rel-(?P<major>\d+)-(?P<minor>\d+)$")
    assert str(next_on_branch("rel-2-5", brx, ["2.5.7"], RX)) == "2.5.8"


@pytest.mark.parametrize(
    ("level", "breaks", "allow", "allow_minor", "verdict", "by"),
    [
        (Level.PATCH, 0, False, False, Verdict.COMPATIBLE, None),
        (Level.PATCH, 1, False, False, Verdict.BREAKING, None),
        (Level.PATCH, 1, False, True, Verdict.BREAKING, None),
        (Level.PATCH, 1, True, False, Verdict.ALLOWED, "--allow-breaking"),
        (Level.MINOR, 2, False, False, Verdict.BREAKING, None),
        (Level.MINOR, 2, False, True, Verdict.ALLOWED, "allow-breaking-minor"),
        (Level.MINOR, 2, True, False, Verdict.ALLOWED, "--allow-breaking"),
        (Level.MAJOR, 3, False, False, Verdict.ALLOWED, "major release"),
        (Level.MAJOR, 0, False, False, Verdict.COMPATIBLE, None),
    ],
)
def test_semver_decision(
    level: Level,
    breaks: int,
    allow: bool,
    allow_minor: bool,
    verdict: Verdict,
    by: str | None,
) -> None:
    assert decide(level, breaks, allow_breaking=allow, allow_breaking_minor=allow_minor) == (
        verdict,
        by,
    )


FILES = [
    "setup.py",
    "src/forecastkit/__init__.py",
    "src/forecastkit/model.py",
    "tests/fixtures/forecastkit/__init__.py",
    "tests/test_model.py",
    "scripts/wheelship/__init__.py",
    "tools/single.py",
    "stubs/typedthing/__init__.pyi",
    "services/api/src/apikit/__init__.py",
]


@pytest.mark.parametrize(
    ("name", "prefix", "directory"),
    [
        ("forecastkit", "", "src"),  # the shallowest match, not the test fixture copy
        ("wheelship", "", "scripts"),  # package-dir = scripts
        ("single", "", "tools"),  # a top-level module
        ("typedthing", "", "stubs"),
        ("apikit", "services/api/", "services/api/src"),
        ("forecastkit", "services/api/", None),
        ("nosuch", "", None),
    ],
)
def test_locate_package(name: str, prefix: str, directory: str | None) -> None:
    assert locate_package(FILES, name, prefix) == directory


def test_src_layout_discovery() -> None:
    files = ["src/a/__init__.py", "src/a/x.py", "src/b/__init__.py", "src/c.py", "src/d/x.py"]
    assert top_level_packages(files, "src") == ["a", "b"]
    assert top_level_packages(files, "lib") == []


@pytest.mark.parametrize(
    ("dist", "module"),
    [("forecastkit", "forecastkit"), ("Forecast-Kit", "forecast_kit"), ("a.b__c", "a_b_c")],
)
def test_normalize_dist_name(dist: str, module: str) -> None:
    assert normalize_dist_name(dist) == module

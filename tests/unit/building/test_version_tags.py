from __future__ import annotations

import pytest

from wheelship.building.version import DEFAULT_TAG_PATTERN, Release, compile_pattern, parse_tag
from wheelship.errors import ConfigurationError


@pytest.mark.parametrize(
    ("tag", "pep440"),
    [
        ("v1.2.3", "1.2.3"),
        ("1.2.3", "1.2.3"),
        ("v0.0.0", "0.0.0"),
        ("v1.2.3-rc.1", "1.2.3rc1"),
        ("v2.0.0-beta.2", "2.0.0b2"),
        ("v2.0.0-a.0", "2.0.0a0"),
    ],
)
def test_release_tags_map_to_pep440(tag: str, pep440: str) -> None:
    release = parse_tag(tag)
    assert release is not None
    assert release.pep440 == pep440
    assert release.tag == tag


@pytest.mark.parametrize(
    "tag", ["v1.2", "v01.2.3", "1.2.3.4", "release-1", "v1.2.3-rc1", "v1.2.3+build", "latest", ""]
)
def test_non_semver_tags_are_not_releases(tag: str) -> None:
    assert parse_tag(tag) is None


def test_ordering_puts_prereleases_before_the_final() -> None:
    tags = ["v1.2.3", "v1.2.3-rc.2", "v1.2.3-rc.10", "v1.2.3-b.1", "v1.10.0", "v1.9.9"]
    ordered = sorted(r for t in tags if (r := parse_tag(t)))
    assert [r.tag for r in ordered] == [
        "v1.2.3-b.1",
        "v1.2.3-rc.2",
        "v1.2.3-rc.10",
        "v1.2.3",
        "v1.9.9",
        "v1.10.0",
    ]


def test_next_patch_and_tag_format() -> None:
    assert Release(1, 2, 3).next_patch() == Release(1, 2, 4)
    assert Release(1, 2, 3, ("rc", 1)).next_patch() == Release(1, 2, 3)
    assert Release(1, 2, 3, ("rc", 1)).format_tag() == "v1.2.3-rc.1"
    assert Release(1, 2, 3).format_tag("") == "1.2.3"


def test_custom_pattern_needs_named_groups() -> None:
    rx = compile_pattern(r"^tsff-(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)$")
    release = parse_tag("tsff-3.1.4", rx)
    assert release is not None
    assert release.pep440 == "3.1.4"
    with pytest.raises(ConfigurationError, match="lacks the named groups"):
        compile_pattern(r"^v(\d+)\.(\d+)\.(\d+)$")
    with pytest.raises(ConfigurationError, match="not a valid regular expression"):
        compile_pattern(r"^v(")


def test_a_pattern_between_slashes_is_gitlabs_form_of_the_same_regex() -> None:
    # The templates hold the pattern as GitLab's =~ needs it in a variable: /regex/.
    assert compile_pattern(f"/{DEFAULT_TAG_PATTERN}/").pattern == DEFAULT_TAG_PATTERN
    rx = compile_pattern("/^tsff-(?P<major>[0-9]+)[.](?P<minor>[0-9]+)[.](?P<patch>[0-9]+)$/")
    assert parse_tag("tsff-3.1.4", rx) == Release(3, 1, 4)
    assert parse_tag("/tsff-3.1.4/", rx) is None

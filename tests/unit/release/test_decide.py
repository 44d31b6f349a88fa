"""The tag decision (pure): GitLab flow rules over plain data."""

from __future__ import annotations

import pytest

from wheelship.building.version import Release, compile_pattern
from wheelship.errors import ConfigurationError, TagPolicyError
from wheelship.release.decide import (
    NOTES_MAX_COMMITS,
    RepoState,
    TagDecision,
    TagInfo,
    TagPolicy,
    TagRequest,
    compile_branch_pattern,
    decide,
    release_notes,
    with_releases,
)

HEAD = "h" * 40
POLICY = TagPolicy()


def state(
    branch: str | None = "release/1.2",
    tags: dict[str, str] | None = None,
    *,
    merged: set[str] | None = None,
    dirty: tuple[str, ...] = (),
    default: str = "main",
) -> RepoState:
    tags = tags or {}
    return RepoState(
        head=HEAD,
        branch=branch,
        default_branch=default,
        tags=with_releases(tags, compile_pattern(None)),
        merged=frozenset(tags if merged is None else merged),
        dirty_files=dirty,
    )


def c(n: int) -> str:
    return f"{n:040d}"


def test_first_patch_of_a_release_branch_is_x_y_0() -> None:
    d = decide(state("release/1.2", {"v1.1.4": c(1)}), POLICY)
    assert (d.action, d.tag, d.level) == ("create", "v1.2.0", "minor")
    assert d.previous is not None and d.previous.name == "v1.1.4"
    assert d.release == Release(1, 2, 0)


def test_next_patch_follows_the_highest_patch_of_the_line() -> None:
    tags = {"v1.2.0": c(1), "v1.2.1": c(2), "v1.2.10": c(3), "v1.2.9": c(4), "v1.1.7": c(5)}
    d = decide(state("release/1.2", tags), POLICY)
    assert (d.tag, d.level) == ("v1.2.11", "patch")
    assert d.previous is not None and d.previous.name == "v1.2.10"


def test_never_a_tag_outside_the_branch_line_even_when_newer_lines_are_unreleased() -> None:
    d = decide(state("release/1.2", {"v1.2.3": c(1), "v2.0.0-rc.1": c(2)}), POLICY)
    assert d.tag == "v1.2.4"


def test_release_candidate_of_the_line_is_finalised() -> None:
    d = decide(state("release/1.3", {"v1.2.5": c(1), "v1.3.0-rc.2": c(2)}), POLICY)
    assert d.tag == "v1.3.0"
    assert d.previous is not None and d.previous.name == "v1.2.5"  # final releases first


def test_old_line_is_refused_under_the_single_production_policy() -> None:
    tags = {"v1.2.3": c(1), "v1.3.0": c(2)}
    with pytest.raises(TagPolicyError) as err:
        decide(state("release/1.2", tags), POLICY)
    assert str(err.value) == (
        "refusing to tag v1.2.4: the 1.2 line is older than the newest released line 1.3 "
        "(v1.3.0), and only one production release is supported — merge the fix into "
        "release/1.3, or turn the policy off with --support-old-lines"
    )


def test_old_line_is_allowed_when_the_policy_is_off() -> None:
    policy = TagPolicy(single_production=False)
    d = decide(state("release/1.2", {"v1.2.3": c(1), "v1.3.0": c(2)}), policy)
    assert d.tag == "v1.2.4"


def test_a_new_line_below_the_newest_is_backwards_even_without_the_policy() -> None:
    policy = TagPolicy(single_production=False)
    with pytest.raises(TagPolicyError, match=r"would go backwards: the repository already has"):
        decide(state("release/1.2", {"v1.3.0": c(2)}), policy)


def test_prerelease_only_lines_do_not_count_as_released() -> None:
    d = decide(state("release/1.2", {"v1.2.3": c(1), "v1.3.0-rc.1": c(2)}), POLICY)
    assert d.tag == "v1.2.4"


def test_head_already_tagged_is_idempotent() -> None:
    d = decide(state("release/1.2", {"v1.2.3": HEAD, "v1.2.2": c(1)}), POLICY)
    assert (d.action, d.tag) == ("exists", "v1.2.3")
    assert d.reason == f"HEAD ({HEAD[:8]}) already carries the release tag v1.2.3"


def test_head_tagged_in_a_tag_pipeline_needs_no_branch() -> None:
    d = decide(state(None, {"v1.2.3": HEAD}), POLICY)
    assert (d.action, d.tag) == ("exists", "v1.2.3")


def test_non_release_tags_at_head_are_ignored() -> None:
    d = decide(state("release/1.2", {"deployed-prod": HEAD, "v1.2.0": c(1)}), POLICY)
    assert d.tag == "v1.2.1"


def test_explicit_version_equal_to_head_tag_is_idempotent() -> None:
    d = decide(state("main", {"v1.3.0": HEAD}), POLICY, TagRequest(version="1.3.0"))
    assert d.action == "exists"


def test_explicit_other_version_on_a_tagged_head_is_refused() -> None:
    with pytest.raises(TagPolicyError, match=r"already carries the release tag v1.3.0, not 1.4.0"):
        decide(state("main", {"v1.3.0": HEAD}), POLICY, TagRequest(version="1.4.0"))


def test_moving_a_tag_is_refused() -> None:
    with pytest.raises(TagPolicyError) as err:
        decide(state("main", {"v1.3.0": c(7)}), POLICY, TagRequest(version="v1.3.0"))
    assert str(err.value) == (
        f"tag v1.3.0 already exists at {c(7)[:8]}, not at HEAD ({HEAD[:8]}); a release tag "
        "never moves — commit the fix and let the next patch be tagged, or tag a new version"
    )


def test_same_release_under_another_prefix_counts_as_existing() -> None:
    with pytest.raises(TagPolicyError, match=r"tag 1.3.0 already exists"):
        decide(state("main", {"1.3.0": c(7)}), POLICY, TagRequest(version="1.3.0"))


def test_dirty_tree_is_refused() -> None:
    with pytest.raises(TagPolicyError) as err:
        decide(state("release/1.2", dirty=("a.py", "b.py", "c.py", "d.py")), POLICY)
    assert str(err.value) == (
        "the working tree has uncommitted changes to tracked files (a.py, b.py, c.py …) — "
        "commit or stash them: a release tag must name exactly what was built"
    )


def test_detached_head_without_branch_is_refused() -> None:
    with pytest.raises(TagPolicyError) as err:
        decide(state(None), POLICY)
    assert str(err.value) == (
        "HEAD is detached and no branch is known — pass --branch (GitLab CI sets "
        "CI_COMMIT_BRANCH) or check out the branch"
    )


def test_default_branch_is_not_tagged_unless_asked() -> None:
    d = decide(state("main", {"v1.2.0": c(1)}), POLICY)
    assert d.action == "skip"
    assert d.tag is None


@pytest.mark.parametrize(
    ("tags", "bump", "expected"),
    [
        ({"v1.2.3": c(1), "v1.3.1": c(2)}, "minor", "v1.4.0"),
        ({"v1.2.3": c(1), "v1.3.1": c(2)}, "major", "v2.0.0"),
        ({"v1.2.3": c(1), "v1.3.1": c(2)}, "patch", "v1.3.2"),
        ({}, "minor", "v0.1.0"),
        ({}, "major", "v1.0.0"),
        ({}, "patch", "v0.0.1"),
        ({"v2.0.0-rc.1": c(1), "v1.9.0": c(2)}, "major", "v2.0.0"),
        ({"v1.4.0-rc.2": c(1)}, "minor", "v1.4.0"),
    ],
)
def test_bump_on_the_default_branch(tags: dict[str, str], bump: str, expected: str) -> None:
    d = decide(state("main", tags), POLICY, TagRequest(bump=bump))  # type: ignore[arg-type]
    assert (d.action, d.tag) == ("create", expected)


def test_explicit_version_on_the_default_branch() -> None:
    d = decide(state("main", {"v1.2.3": c(1)}), POLICY, TagRequest(version="2.0.0-rc.1"))
    assert (d.tag, d.level) == ("v2.0.0-rc.1", "pre-release")


def test_explicit_version_going_backwards_is_refused() -> None:
    with pytest.raises(TagPolicyError) as err:
        decide(state("main", {"v1.2.3": c(1)}), POLICY, TagRequest(version="1.2.2"))
    assert str(err.value) == (
        "version 1.2.2 would go backwards: the 1.2 line already has v1.2.3 — choose a version "
        "above it"
    )


def test_explicit_version_outside_the_release_branch_line_is_refused() -> None:
    with pytest.raises(TagPolicyError, match=r"--version 1.3.0 is outside the 1.2 line"):
        decide(state("release/1.2"), POLICY, TagRequest(version="1.3.0"))


def test_minor_bump_on_a_release_branch_is_refused() -> None:
    with pytest.raises(TagPolicyError, match=r"--bump minor on release branch release/1.2"):
        decide(state("release/1.2"), POLICY, TagRequest(bump="minor"))


def test_patch_bump_on_a_release_branch_is_the_default_behaviour() -> None:
    d = decide(state("release/1.2", {"v1.2.0": c(1)}), POLICY, TagRequest(bump="patch"))
    assert d.tag == "v1.2.1"


def test_version_and_bump_together_are_refused() -> None:
    with pytest.raises(TagPolicyError, match=r"--version and --bump are both set"):
        decide(state("main"), POLICY, TagRequest(bump="minor", version="1.0.0"))


def test_not_a_release_version_is_refused() -> None:
    with pytest.raises(TagPolicyError) as err:
        decide(state("main"), POLICY, TagRequest(version="1.2"))
    assert str(err.value) == (
        "--version '1.2' is not a release version — give X.Y.Z (or X.Y.Z-rc.N) matching the "
        "tag pattern"
    )


def test_other_branches_are_refused_with_the_pattern_named() -> None:
    with pytest.raises(TagPolicyError) as err:
        decide(state("feature/speedup"), POLICY)
    assert str(err.value).startswith(
        "branch feature/speedup is neither the default branch (main) nor a release branch "
        r"(pattern ^release/(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)$) — "
    )


def test_custom_branch_pattern_and_prefix() -> None:
    policy = TagPolicy(
        release_branch_pattern=compile_branch_pattern(r"^stable-(?P<major>\d+)\.(?P<minor>\d+)$"),
        prefix="",
    )
    d = decide(state("stable-3.1", {"3.1.0": c(1), "v3.1.1": c(2)}), policy)
    assert d.tag == "3.1.2"


def test_a_tag_the_projects_own_pattern_would_not_read_is_refused() -> None:
    """With monorepo tags fk-vX.Y.Z the prefix must follow: a v1.0.1 tag would be invisible."""
    rx = compile_pattern(r"^fk-v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)$")
    tags = with_releases({"fk-v1.0.0": c(1)}, rx)
    repo = RepoState(head=HEAD, branch="release/1.0", default_branch="main", tags=tags)
    with pytest.raises(ConfigurationError) as err:
        decide(repo, TagPolicy(tag_pattern=rx))
    assert str(err.value) == (
        "the tag v1.0.1 would not match the tag pattern (pattern "
        "^fk-v(?P<major>\\d+)\\.(?P<minor>\\d+)\\.(?P<patch>\\d+)$) — set --tag-prefix "
        "(WHEELSHIP_TAG_PREFIX, tag.tag-prefix) to the prefix the pattern expects"
    )
    assert decide(repo, TagPolicy(tag_pattern=rx, prefix="fk-v")).tag == "fk-v1.0.1"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (
            r"^release/(\d+",
            "release branch pattern '^release/(\\\\d+' is not a valid regular expression "
            "(missing ), unterminated subpattern at position 9) — fix --release-branch-pattern "
            "/ WHEELSHIP_RELEASE_BRANCH_PATTERN",
        ),
        (
            r"^release/(?P<major>\d+)$",
            "release branch pattern '^release/(?P<major>\\\\d+)$' lacks the named groups minor",
        ),
    ],
)
def test_bad_branch_patterns_are_configuration_errors(pattern: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        compile_branch_pattern(pattern)
    assert str(err.value).startswith(message)


def test_previous_release_is_the_highest_reachable_one() -> None:
    # v1.2.5 exists but is not an ancestor of HEAD (tagged on another branch).
    tags = {"v1.2.3": c(1), "v1.2.4": c(2), "v1.2.5": c(3)}
    d = decide(state("release/1.2", tags, merged={"v1.2.3", "v1.2.4"}), POLICY)
    assert d.tag == "v1.2.6"
    assert d.previous is not None and d.previous.name == "v1.2.4"


def test_release_notes_list_commits_since_previous_tag() -> None:
    d = TagDecision(
        "create",
        "",
        HEAD,
        tag="v1.2.4",
        previous=TagInfo("v1.2.3", c(1), Release(1, 2, 3)),
    )
    notes = release_notes(
        d,
        [("a" * 40, "Fix the forecast horizon", "Ada"), ("b" * 40, "Add tests", "Bo")],
        ["Breaking API changes allowed with --allow-breaking."],
    )
    assert notes == (
        "Release v1.2.4\n\nChanges since v1.2.3:\n\n"
        "- aaaaaaaa Fix the forecast horizon (Ada)\n"
        "- bbbbbbbb Add tests (Bo)\n\n"
        "Breaking API changes allowed with --allow-breaking.\n"
    )


def test_release_notes_cap_long_histories() -> None:
    d = TagDecision("create", "", HEAD, tag="v0.1.0")
    commits = [(f"{i:040x}", f"commit {i}", "A") for i in range(NOTES_MAX_COMMITS + 5)]
    notes = release_notes(d, commits)
    assert notes.startswith("Release v0.1.0\n\nChanges (first release):\n")
    assert notes.rstrip().endswith("- … and 5 earlier commits")

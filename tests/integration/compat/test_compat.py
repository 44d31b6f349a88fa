"""``wheelship compat`` on fixture projects committed and tagged in real git repositories.

Every scenario in ``tests/fixtures/compat`` is a second release of the ``forecastkit`` package;
the table below is the exact list of breaks each one must report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.apiproject import apply_v2, release_repo, scenarios
from support.gitrepo import GitRepo
from support.projects import clean_env
from wheelship.cli import main

__all__ = ["clean_env"]
#: The suite may itself run in GitLab CI: its CI_* variables must not steer the check.
pytestmark = pytest.mark.usefixtures("clean_env")

PATCH_REFUSED = (
    "restore compatibility, or release the change as a new major version, or override with "
    "--allow-breaking (recorded in the release notes)"
)
MINOR_REFUSED = (
    "restore compatibility, or release the change as a new major version, or allow breaks in "
    "minor releases with --allow-breaking-minor (WHEELSHIP_ALLOW_BREAKING_MINOR, "
    "compat.allow-breaking-minor)"
)

#: scenario -> the breaks reported (file:line, object, what changed), in report order
EXPECTED: dict[str, list[str]] = {
    "compatible_additions": [],
    "private_only": [],
    "removed_function": [
        "src/forecastkit/metrics.py:8 (in v1.0.0): forecastkit.metrics.rmse: "
        "function was removed (or renamed)",
    ],
    "renamed_module": [
        "src/forecastkit/metrics.py:1 (in v1.0.0): forecastkit.metrics: "
        "module was removed (or renamed)",
    ],
    "renamed_class": [
        "src/forecastkit/__init__.py:4 (in v1.0.0): forecastkit.Forecaster: "
        "re-exported name was removed (or renamed)",
        "src/forecastkit/model.py:6 (in v1.0.0): forecastkit.model.Forecaster: "
        "class was removed (or renamed)",
    ],
    "removed_attribute": [
        "src/forecastkit/__init__.py:6 (in v1.0.0): forecastkit.DEFAULT_HORIZON: "
        "attribute was removed (or renamed)",
    ],
    "removed_parameter": [
        "src/forecastkit/model.py:22: forecastkit.model.train: parameter 'seed' was removed",
    ],
    "reordered_parameters": [
        "src/forecastkit/metrics.py:4: forecastkit.metrics.mape: "
        "positional parameter 'actual' moved from position 0 to 1",
        "src/forecastkit/metrics.py:4: forecastkit.metrics.mape: "
        "positional parameter 'predicted' moved from position 1 to 0",
    ],
    "lost_default": [
        "src/forecastkit/model.py:22: forecastkit.model.train: "
        "parameter 'epochs' lost its default (now required)",
    ],
    "new_required_parameter": [
        "src/forecastkit/model.py:14: forecastkit.model.Forecaster.fit: "
        "new required parameter 'holdout'",
    ],
    "changed_parameter_kind": [
        "src/forecastkit/model.py:22: forecastkit.model.train: "
        "parameter 'epochs' changed kind: positional or keyword -> keyword-only",
    ],
    "return_annotation_removed": [
        "src/forecastkit/model.py:18: forecastkit.model.Forecaster.predict: "
        "return annotation 'list[float]' was removed",
    ],
    "changed_object_kind": [
        "src/forecastkit/model.py:27: forecastkit.model.Forecaster: "
        "changed from a class to a function",
    ],
    "reexport_signature": [
        "src/forecastkit/_internal.py:4: forecastkit.scale (defined as "
        "forecastkit._internal.scale): parameter 'factor' lost its default (now required)",
    ],
    "with_all": [
        "src/forecastkit/__init__.py:3 (in v1.0.0): forecastkit.scale: "
        "re-exported name was removed (or renamed)",
    ],
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(["compat", *argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def break_lines(out: list[str]) -> list[str]:
    return [line.strip() for line in out if line.startswith("  ") and not line.startswith("    ")]


def test_every_fixture_scenario_has_expectations() -> None:
    assert sorted(EXPECTED) == scenarios()


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_patch_release_reports_exactly_the_breaks(
    scenario: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = release_repo(tmp_path / "repo", scenario)
    code, out, err = run(capsys, "--project", str(repo.path))
    expected = EXPECTED[scenario]
    assert break_lines(out) == expected
    assert (
        out[1] == "compat: patch release 1.0.1: 1.0.1 is a patch of 1.0.0 (HEAD is tagged v1.0.1)"
    )
    if expected:
        n = len(expected)
        s, verb = ("s", "are") if n > 1 else ("", "is")
        assert code == 4
        assert err == (
            f"error: {n} breaking change{s} to the public API since v1.0.0 {verb} not allowed "
            f"in patch release 1.0.1 — {PATCH_REFUSED}\n"
        )
        assert (
            out[-1]
            == f"compat: {n} breaking change{s} since v1.0.0, not allowed in patch release 1.0.1"
        )
    else:
        assert (code, err) == (0, "")
        assert out[-1] == "compat: compatible with v1.0.0 (patch release 1.0.1)"


def test_each_break_says_why_it_breaks_callers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = release_repo(tmp_path / "repo", "lost_default")
    _, out, _ = run(capsys, "--project", str(repo.path))
    i = out.index(
        "  src/forecastkit/model.py:22: forecastkit.model.train: parameter 'epochs' lost its "
        "default (now required)"
    )
    assert out[i + 1] == "      breaks callers: calls that omit it fail with TypeError"


def test_json_and_codequality_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = release_repo(tmp_path / "repo", "renamed_class")
    report, cq = tmp_path / "out" / "compat.json", tmp_path / "out" / "gl-code-quality.json"
    code, _, _ = run(
        capsys, "--project", str(repo.path), "--json", str(report), "--codequality", str(cq)
    )
    assert code == 4
    data = json.loads(report.read_text())
    assert data["schema"] == "wheelship-compat/1"
    assert (data["verdict"], data["exit_code"], data["allowed_by"]) == ("breaking", 4, None)
    assert data["head"] == {"ref": "HEAD", "commit": repo.head()}
    assert data["against"] == {"ref": "v1.0.0", "commit": repo.git("rev-parse", "v1.0.0^{}")}
    assert data["release"] == {
        "version": "1.0.1",
        "level": "patch",
        "reason": "1.0.1 is a patch of 1.0.0 (HEAD is tagged v1.0.1)",
    }
    assert data["packages"] == ["forecastkit"]
    assert data["breaks"][1] == {
        "kind": "object-removed",
        "object": "forecastkit.model.Forecaster",
        "defined_as": None,
        "parameter": None,
        "old": None,
        "new": None,
        "what": "class was removed (or renamed)",
        "why": "code that imports or uses it fails with ImportError or AttributeError",
        "path": "src/forecastkit/model.py",
        "line": 6,
        "ref": "v1.0.0",
        # the class is gone from HEAD: merge requests point at the module that held it
        "head_path": "src/forecastkit/model.py",
        "head_line": 1,
    }

    issues = json.loads(cq.read_text())
    assert [i["location"] for i in issues] == [
        {"path": "src/forecastkit/__init__.py", "lines": {"begin": 1}},
        {"path": "src/forecastkit/model.py", "lines": {"begin": 1}},
    ]
    for issue in issues:
        assert set(issue) == {"description", "check_name", "fingerprint", "severity", "location"}
        assert issue["check_name"] == "wheelship-compat/object-removed"
        assert issue["severity"] == "critical"
        assert len(issue["fingerprint"]) == 64
        # every path in the report exists in HEAD, so GitLab can place it in the diff
        assert (repo.path / issue["location"]["path"]).is_file()
    assert issues[1]["description"] == (
        "forecastkit.model.Forecaster: class was removed (or renamed) — breaks callers: code that "
        "imports or uses it fails with ImportError or AttributeError (since v1.0.0)"
    )
    assert issues[0]["fingerprint"] != issues[1]["fingerprint"]


def test_fingerprints_survive_moved_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = release_repo(tmp_path / "repo", "lost_default", second=None)
    cq = tmp_path / "cq.json"
    run(capsys, "--project", str(repo.path), "--codequality", str(cq))
    before = json.loads(cq.read_text())[0]
    model = repo.path / "src/forecastkit/model.py"
    model.write_text('"""Moved down."""\n\n' + model.read_text())
    repo.commit("move code")
    run(capsys, "--project", str(repo.path), "--codequality", str(cq))
    after = json.loads(cq.read_text())[0]
    assert after["location"]["lines"]["begin"] == before["location"]["lines"]["begin"] + 2
    assert after["fingerprint"] == before["fingerprint"]


# ---- the release level decides what may break


@pytest.mark.parametrize(
    ("first", "second", "branch", "label", "reason"),
    [
        (
            "v1.0.0",
            "v1.1.0",
            None,
            "minor release 1.1.0",
            "1.1.0 is a new minor version after 1.0.0",
        ),
        ("v0.3.0", "v0.3.1", "release/0.3", "patch release 0.3.1", "0.3.1 is a patch of 0.3.0"),
    ],
)
def test_refused_levels(
    first: str,
    second: str,
    branch: str | None,
    label: str,
    reason: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = release_repo(
        tmp_path / "repo", "lost_default", first=first, second=second, branch=branch
    )
    code, out, err = run(capsys, "--project", str(repo.path))
    assert code == 4
    assert out[1] == f"compat: {label}: {reason} (HEAD is tagged {second})"
    fix = PATCH_REFUSED if label.startswith("patch") else MINOR_REFUSED
    assert err == (
        f"error: 1 breaking change to the public API since {first} is not allowed in {label} — "
        f"{fix}\n"
    )


@pytest.mark.parametrize(
    ("first", "second", "verdict_line"),
    [
        (
            "v1.0.0",
            "v2.0.0",
            "compat: 1 breaking change since v1.0.0, allowed by major release "
            "(major release 2.0.0)",
        ),
        # before 1.0.0 a new 0.y line may break (semver item 4)
        (
            "v0.3.0",
            "v0.4.0",
            "compat: 1 breaking change since v0.3.0, allowed by major release "
            "(major release 0.4.0)",
        ),
    ],
)
def test_major_release_reports_and_passes(
    first: str, second: str, verdict_line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = release_repo(tmp_path / "repo", "lost_default", first=first, second=second, branch=None)
    code, out, err = run(capsys, "--project", str(repo.path))
    assert (code, err) == (0, "")
    assert len(break_lines(out)) == 1
    assert out[-1] == verdict_line


@pytest.mark.parametrize("how", ["flag", "env", "config"])
def test_minor_release_breaks_allowed_by_configuration(
    how: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = release_repo(tmp_path / "repo", "lost_default", second="v1.1.0", branch=None)
    argv = ["--project", str(repo.path)]
    if how == "flag":
        argv.append("--allow-breaking-minor")
    elif how == "env":
        monkeypatch.setenv("WHEELSHIP_ALLOW_BREAKING_MINOR", "true")
    else:
        (repo.path / "wheelship.yml").write_text("compat:\n  allow-breaking-minor: true\n")
    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    assert out[-1] == (
        "compat: 1 breaking change since v1.0.0, allowed by allow-breaking-minor "
        "(minor release 1.1.0)"
    )


def test_allow_breaking_minor_does_not_open_patches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = release_repo(tmp_path / "repo", "lost_default")
    code, _, _ = run(capsys, "--project", str(repo.path), "--allow-breaking-minor")
    assert code == 4


def test_allow_breaking_overrides_a_patch_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = release_repo(tmp_path / "repo", "lost_default")
    code, out, err = run(capsys, "--project", str(repo.path), "--allow-breaking")
    assert code == 0
    assert err == (
        "warning: 1 breaking change(s) accepted by --allow-breaking in patch release 1.0.1\n"
    )
    assert out[-1] == (
        "compat: 1 breaking change since v1.0.0, allowed by --allow-breaking (patch release 1.0.1)"
    )


def test_untagged_head_on_release_branch_is_the_next_patch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = release_repo(tmp_path / "repo", "lost_default", second=None)
    code, out, _ = run(capsys, "--project", str(repo.path))
    assert code == 4
    assert out[1] == (
        "compat: patch release 1.0.1: 1.0.1 is a patch of 1.0.0 (the next release on release/1.0)"
    )


def test_untagged_head_on_default_branch_is_assumed_minor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = release_repo(tmp_path / "repo", "lost_default", second=None, branch=None)
    code, out, err = run(capsys, "--project", str(repo.path))
    assert code == 4
    assert out[1] == (
        "compat: the next minor release: the next release from main is assumed to be a minor "
        "(a new release line); pass --version or --level to say otherwise"
    )
    assert err.startswith(
        "error: 1 breaking change to the public API since v1.0.0 is not allowed in the next "
        "minor release — "
    )


def test_merge_request_into_release_branch_is_a_patch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = release_repo(tmp_path / "repo", "compatible_additions", second=None)
    repo.git("checkout", "-q", "-b", "fix/drop-default")
    apply_v2(repo, "lost_default")
    repo.commit("drop a default")
    monkeypatch.setenv("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "release/1.0")
    code, out, _ = run(capsys, "--project", str(repo.path))
    assert code == 4
    assert out[1] == (
        "compat: patch release 1.0.1: 1.0.1 is a patch of 1.0.0 (the next release on release/1.0)"
    )
    # the compatible additions of the same branch are not reported, only the break
    assert break_lines(out) == EXPECTED["lost_default"]


@pytest.mark.parametrize(
    ("argv", "code", "line"),
    [
        (["--level", "major"], 0, "compat: major release 1.0.1: --level major"),
        (
            ["--version", "1.0.1"],
            4,
            "compat: patch release 1.0.1: 1.0.1 is a patch of 1.0.0 (--version 1.0.1)",
        ),
        (
            ["--version", "v2.0.0"],
            0,
            "compat: major release 2.0.0: 2.0.0 is a new major version "
            "after 1.0.0 (--version v2.0.0)",
        ),
    ],
)
def test_level_and_version_flags(
    argv: list[str], code: int, line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = release_repo(tmp_path / "repo", "lost_default", second=None, branch=None)
    if argv[0] == "--level":
        repo.tag("v1.0.1")
    got, out, _ = run(capsys, "--project", str(repo.path), *argv)
    assert (got, out[1]) == (code, line)


def test_against_any_ref(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = release_repo(tmp_path / "repo", "lost_default")
    sha = repo.git("rev-parse", "v1.0.0^{}")
    code, out, _ = run(capsys, "--project", str(repo.path), "--against", sha)
    assert code == 4
    assert out[0] == f"compat: forecastkit at HEAD ({repo.head()[:12]}) against {sha} ({sha[:12]})"
    assert break_lines(out) == EXPECTED["lost_default"]
    code, out, _ = run(capsys, "--project", str(repo.path), "--against", "HEAD")
    assert code == 0 and out[-1] == "compat: compatible with HEAD (patch release 1.0.1)"


def test_previous_release_skips_prereleases_and_other_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On release/1.0 the baseline is the newest final 1.0.x reachable from HEAD: not an rc, not
    v1.1.0 cut from main later."""
    repo = release_repo(tmp_path / "repo", "compatible_additions", second=None)
    repo.tag("v1.0.1-rc.1")
    apply_v2(repo, "lost_default")
    repo.commit("drop a default")
    repo.git("checkout", "-q", "main")
    repo.commit("main moves on", files={"NEWS": "1.1\n"})
    repo.tag("v1.1.0")
    repo.git("checkout", "-q", "release/1.0")
    code, out, _ = run(capsys, "--project", str(repo.path))
    assert code == 4
    assert out[1].startswith("compat: patch release 1.0.1: 1.0.1 is a patch of 1.0.0")
    assert out[0].endswith(f"against v1.0.0 ({repo.git('rev-parse', 'v1.0.0^{}')[:12]})")


def test_no_previous_release_means_nothing_to_compare(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from support.apiproject import BASE

    repo = GitRepo.from_template(BASE, tmp_path / "repo")
    report, cq = tmp_path / "compat.json", tmp_path / "cq.json"
    code, out, err = run(
        capsys, "--project", str(repo.path), "--json", str(report), "--codequality", str(cq)
    )
    assert (code, err) == (0, "")
    said = "compat: nothing to compare: no previous release tag is reachable from HEAD"
    assert out[-1] == said
    assert [line for line in out if "reachable" in line] == [said]  # once
    assert json.loads(report.read_text())["verdict"] == "nothing-to-compare"
    assert json.loads(cq.read_text()) == []


def test_shallow_clone_fetches_history_and_tags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GitLab's clones are shallow and often tagless: the baseline is fetched from origin."""
    repo = release_repo(tmp_path / "repo", "lost_default", second=None)
    bare = repo.add_bare_origin(tmp_path / "origin.git")
    clone = GitRepo.clone(bare, tmp_path / "clone", depth=1, branch="release/1.0", no_tags=True)
    code, out, err = run(capsys, "--project", str(clone.path), "--offline")
    assert code == 2
    assert err == (
        f"error: {clone.path} is a shallow clone and fetching is disabled (--offline), so the "
        'last release tag cannot be found — set GIT_DEPTH: "0" in the job\'s variables (or run '
        "git fetch --unshallow --tags)\n"
    )
    code, out, err = run(capsys, "--project", str(clone.path))
    assert code == 4
    assert break_lines(out) == EXPECTED["lost_default"]
    assert "shallow clone: fetching its history and tags from origin\n" in err


def test_checks_the_commit_not_the_working_tree_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = release_repo(tmp_path / "repo", "compatible_additions")
    # an uncommitted break is not part of the release being checked
    apply_v2(repo, "lost_default")
    # the branch griffe.load_git would create (and fail on, when a killed run left it behind)
    repo.git("branch", "griffe-v1-0-0", "v1.0.0")

    def state() -> list[str]:
        return [
            repo.git("for-each-ref"),
            repo.git("worktree", "list", "--porcelain"),
            repo.git("status", "--porcelain", "--ignored"),
            repo.git("stash", "list"),
            (repo.path / "src/forecastkit/model.py").read_text(),
        ]

    before = state()
    code, out, err = run(capsys, "--project", str(repo.path))
    assert code == 0
    assert (
        err
        == "warning: the working tree has uncommitted changes: compat checks HEAD's commit only\n"
    )
    assert break_lines(out) == []
    assert state() == before


def test_project_in_a_subdirectory_of_the_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.apiproject import BASE, FIXTURES

    repo = GitRepo.init(tmp_path / "mono")
    import shutil

    shutil.copytree(BASE, repo.path / "services/forecast")
    repo.commit("add the forecast service")
    repo.tag("v1.0.0")
    shutil.copytree(
        FIXTURES / "removed_function/v2", repo.path / "services/forecast", dirs_exist_ok=True
    )
    repo.commit("drop rmse")
    code, out, _ = run(capsys, "--project", str(repo.path / "services/forecast"))
    assert code == 4
    assert break_lines(out) == [
        "services/forecast/src/forecastkit/metrics.py:8 (in v1.0.0): forecastkit.metrics.rmse: "
        "function was removed (or renamed)"
    ]
    # as the compat job runs it: at the repository root, its configuration file relative to
    # the project directory
    repo.commit("configure", files={"services/forecast/wheelship.yml": "compat:\n  level: major\n"})
    monkeypatch.chdir(repo.path)
    monkeypatch.setenv("WHEELSHIP_PROJECT", "services/forecast")
    monkeypatch.setenv("WHEELSHIP_CONFIG", "wheelship.yml")
    code, out, _ = run(capsys)
    assert code == 0
    assert out[-1] == (
        "compat: 1 breaking change since v1.0.0, allowed by major release (the next major release)"
    )


def test_the_version_sections_tag_pattern_finds_the_previous_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One tag pattern per project: a monorepo's fk-vX.Y.Z releases, set for 'wheelship
    version', are the ones compat compares with (not "nothing to compare", which passes)."""
    import shutil

    from support.apiproject import BASE, FIXTURES

    repo = GitRepo.init(tmp_path / "mono")
    shutil.copytree(BASE, repo.path / "libs/fk")
    pattern = r"^fk-v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)$"
    repo.write("libs/fk/wheelship.yml", f"version:\n  tag-pattern: '{pattern}'\n")
    repo.commit("forecastkit in a monorepo")
    repo.tag("fk-v1.0.0")
    repo.git("checkout", "-q", "-b", "release/1.0")
    shutil.copytree(FIXTURES / "removed_function/v2", repo.path / "libs/fk", dirs_exist_ok=True)
    repo.commit("drop rmse")
    monkeypatch.chdir(repo.path)
    code, out, _ = run(capsys, "--project", "libs/fk")
    assert code == 4
    assert out[0].startswith("compat: forecastkit at HEAD (") and "against fk-v1.0.0 (" in out[0]
    assert break_lines(out) == [
        "libs/fk/src/forecastkit/metrics.py:8 (in fk-v1.0.0): forecastkit.metrics.rmse: "
        "function was removed (or renamed)"
    ]


# ---- bad input: one line, exit 2


def test_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = release_repo(tmp_path / "repo", "lost_default")
    p = str(repo.path)
    cases = [
        (
            ["--against", "v9.9.9"],
            f"error: --against 'v9.9.9' is not a commit, branch or tag in {repo.path} — fix the "
            "ref, or fetch it first (git fetch --tags origin)",
        ),
        (
            ["--version", "banana"],
            "error: --version 'banana' is not a release version — use X.Y.Z (or a tag such as "
            "v1.2.3)",
        ),
        (
            ["--package", "nosuch"],
            "error: package 'nosuch' is not in the repository root at HEAD "
            f"({repo.head()[:12]}) — check --package (WHEELSHIP_COMPAT_PACKAGES); it names an "
            "import package",
        ),
        (
            ["--against", "v1.0.1", "--version", "1.0.0"],
            "error: version 1.0.0 is not after the previous release v1.0.1 — pass the version "
            "being released (--version), or the baseline (--against)",
        ),
        (
            ["--release-branch-pattern", "^rel/(\\d+)$"],
            "error: release branch pattern '^rel/(\\\\d+)$' lacks the named groups major, minor "
            "— use (?P<major>\\d+) and (?P<minor>\\d+), e.g. "
            "^release/(?P<major>\\d+)\\.(?P<minor>\\d+)$",
        ),
    ]
    for argv, line in cases:
        code, _, err = run(capsys, "--project", p, *argv)
        assert (code, err) == (2, line + "\n"), argv
    # argparse's wording of the choices differs between Python versions
    code, _, err = run(capsys, "--project", p, "--level", "huge")
    assert code == 2
    assert err.startswith("error: wheelship compat: argument --level: invalid choice: 'huge'")
    assert err.endswith(" — see 'wheelship compat --help'\n")


def test_not_a_git_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--project", str(tmp_path))
    assert code == 2
    assert err == (
        f"error: {tmp_path} is not inside a git repository — run wheelship compat in the "
        "project's git checkout (or pass --project DIR)\n"
    )


def test_package_cannot_be_told(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit(
        "two packages",
        files={
            "pyproject.toml": '[project]\nname = "suite"\n',
            "src/alpha/__init__.py": "def a(): ...\n",
            "src/beta/__init__.py": "def b(): ...\n",
        },
    )
    repo.tag("v1.0.0")
    repo.commit("beta grows", files={"src/beta/__init__.py": "def b(): ...\ndef c(): ...\n"})
    code, _, err = run(capsys, "--project", str(repo.path))
    assert code == 2
    assert err == (
        "error: cannot tell which package's API to check in the repository root (found alpha, "
        "beta) — pass "
        "--package NAME (WHEELSHIP_COMPAT_PACKAGES, or compat.packages in wheelship.yml)\n"
    )
    code, out, _ = run(
        capsys, "--project", str(repo.path), "--package", "alpha", "--package", "beta"
    )
    assert code == 0
    assert out[0].startswith("compat: alpha, beta at HEAD")


def test_syntax_error_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = release_repo(tmp_path / "repo", "compatible_additions", second=None)
    repo.commit("oops", files={"src/forecastkit/metrics.py": "def mape(:\n"})
    code, _, err = run(capsys, "--project", str(repo.path))
    assert code == 2
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert err == (
        "error: cannot read the API of forecastkit at HEAD: src/forecastkit/metrics.py:1: "
        f"invalid syntax — make the sources parse with Python {py} (the one running wheelship), "
        "or check --package\n"
    )


def test_command_line_entry_point(tmp_path: Path) -> None:
    """The installed command: the list on stdout, the one error line on stderr, exit 4."""
    repo = release_repo(tmp_path / "repo", "removed_parameter")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "WHEELSHIP_", "GITLAB"))}
    proc = subprocess.run(
        [sys.executable, "-m", "wheelship", "compat"],
        cwd=repo.path,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 4
    assert (
        "  src/forecastkit/model.py:22: forecastkit.model.train: parameter 'seed' was removed\n"
        in proc.stdout
    )
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: 1 breaking change")

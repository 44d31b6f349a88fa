"""``wheelship version`` against real git repositories: tags, commits after tags, dirty trees,
shallow clones from a local bare origin, detached HEADs, non-semver and rc tags."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from setuptools_scm import get_version

from support.gitrepo import GitRepo, git
from support.projects import clean_env, monorepo, pipeline_env, project_repo
from wheelship import dotenv
from wheelship.building.version import VersionSettings, derive_version
from wheelship.cli import main
from wheelship.errors import TagPolicyError, VersionError

__all__ = ["clean_env"]
pytestmark = pytest.mark.usefixtures("clean_env")


def version_of(path: Path, **kwargs: object) -> str:
    return derive_version(VersionSettings(project=path, **kwargs)).version  # type: ignore[arg-type]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["version", *args])
    out, err = capsys.readouterr()
    return code, out, err


# --- outside CI: the setuptools-scm default ------------------------------------------------


@pytest.mark.parametrize(("tag", "expected"), [("v1.2.3", "1.2.3"), ("1.2.3", "1.2.3")])
def test_on_a_release_tag_the_version_is_exactly_the_tag(
    tmp_path: Path, tag: str, expected: str
) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag=tag)
    assert version_of(repo.path) == expected


def test_rc_tag_maps_to_pep440_prerelease(tmp_path: Path) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag="v2.0.0-rc.1")
    assert version_of(repo.path) == "2.0.0rc1"


@pytest.mark.parametrize("state", ["after_tag", "dirty", "untracked_only", "dirty_on_tag"])
def test_outside_ci_matches_setuptools_scm_itself(tmp_path: Path, state: str) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag="v1.2.3")
    if state != "dirty_on_tag":
        repo.commit("feature", files={"src/scmpkg/feature.py": "X = 1\n"})
        repo.commit("fix", files={"src/scmpkg/feature.py": "X = 2\n"})
    if state in ("dirty", "dirty_on_tag"):
        repo.write("README.md", "changed\n")
    if state == "untracked_only":
        repo.write("notes.txt", "scratch\n")
    ours = version_of(repo.path)
    assert ours == get_version(root=str(repo.path))
    if state == "after_tag":
        assert ours.startswith("1.2.4.dev2+g")
    if state in ("dirty", "dirty_on_tag"):
        assert ".d" in ours  # setuptools-scm marks a dirty tree with the date


def test_outside_ci_after_rc_counts_to_the_next_rc(tmp_path: Path) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag="v2.0.0-rc.1")
    repo.commit("more")
    assert version_of(repo.path).startswith("2.0.0rc2.dev1+g")


# --- in a GitLab pipeline ------------------------------------------------------------------


def test_pipeline_after_a_tag_gets_next_patch_dev_iid_without_local_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag="v1.2.3")
    repo.commit("feature")
    repo.write("README.md", "dirty\n")
    pipeline_env(monkeypatch, iid=57)
    assert version_of(repo.path) == "1.2.4.dev57"


def test_pipeline_after_an_rc_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag="v1.3.0-rc.2")
    repo.commit("feature")
    pipeline_env(monkeypatch, iid=9)
    assert version_of(repo.path) == "1.3.0rc3.dev9"


def test_pipeline_on_the_tagged_commit_is_the_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag="v1.2.3")
    pipeline_env(monkeypatch, iid=3)
    info = derive_version(VersionSettings(project=repo.path))
    assert (info.version, info.tag, info.is_release) == ("1.2.3", "v1.2.3", True)


def test_tag_pipeline_uses_ci_commit_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag="v1.2.3")
    repo.tag("v1.2.3-rc.1")  # an older rc on the same commit must not win
    pipeline_env(monkeypatch, iid=4, tag="v1.2.3")
    assert version_of(repo.path) == "1.2.3"


def test_tag_pipeline_for_a_non_semver_tag_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag="nightly")
    pipeline_env(monkeypatch, iid=4, tag="nightly")
    code, out, err = cli(capsys, "--project", str(repo.path))
    assert code == 2
    assert out == ""
    assert err == (
        "error: CI_COMMIT_TAG 'nightly' is not a release tag ("
        "vX.Y.Z or X.Y.Z, optionally with -rc.N, -beta.N, -b.N, -alpha.N or -a.N) — "
        "tag releases as vX.Y.Z or vX.Y.Z-rc.N, or keep release jobs off other tags "
        "(rules: - if: $CI_COMMIT_TAG =~ $WHEELSHIP_TAG_PATTERN, as the templates do)\n"
    )


def test_tag_pipeline_whose_tag_points_elsewhere_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag="v1.2.3")
    repo.commit("later")
    pipeline_env(monkeypatch, iid=4, tag="v1.2.3")
    with pytest.raises(VersionError, match=r"points at .* but HEAD is"):
        derive_version(VersionSettings(project=repo.path))


def test_non_semver_tags_are_ignored_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag="v1.2.3")
    repo.commit("one")
    repo.tag("v1.3")  # version-looking: setuptools-scm alone would take it
    repo.commit("two")
    repo.tag("nightly")
    pipeline_env(monkeypatch, iid=8)
    code, out, err = cli(capsys, "--project", str(repo.path))
    assert (code, out) == (0, "1.2.4.dev8\n")
    assert (
        "warning: tag 'nightly' is not a release tag ("
        "vX.Y.Z or X.Y.Z, optionally with -rc.N, -beta.N, -b.N, -alpha.N or -a.N); "
        "ignored, versions count from v1.2.3\n"
    ) in err
    assert "warning: tag 'v1.3' is not a release tag" in err


def test_custom_tag_pattern(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag="tsff-3.1.4")
    repo.tag("v9.9.9", ref="HEAD")  # not a release under the custom pattern
    rx = r"^tsff-(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)$"
    assert version_of(repo.path, tag_pattern=rx) == "3.1.4"
    monkeypatch.setenv("WHEELSHIP_TAG_PATTERN", rx)
    repo.commit("after")
    pipeline_env(monkeypatch, iid=2)
    assert main(["version", "--project", str(repo.path)]) == 0


def test_no_release_tag_yet_counts_from_zero_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "setuptools_scm")
    pipeline_env(monkeypatch, iid=1)
    code, out, err = cli(capsys, "--project", str(repo.path))
    assert (code, out) == (0, "0.0.1.dev1\n")
    assert "warning: no release tag in HEAD's history; versions count from 0.0.0" in err


def test_detached_head_after_a_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag="v1.2.3")
    sha = repo.commit("feature")
    repo.checkout("--detach", sha)
    pipeline_env(monkeypatch, iid=11)
    assert version_of(repo.path) == "1.2.4.dev11"
    monkeypatch.delenv("CI")
    assert version_of(repo.path) == get_version(root=str(repo.path))


# --- shallow clones and missing tags (GitLab CI clones) ------------------------------------


def _history(tmp_path: Path) -> tuple[GitRepo, Path]:
    """v1.2.3, then 5 commits on main; pushed to a bare origin."""
    repo = project_repo(tmp_path, "setuptools_scm", tag="v1.2.3", name="upstream")
    for i in range(5):
        repo.commit(f"change {i}", files={"src/scmpkg/change.py": f"N = {i}\n"})
    bare = repo.add_bare_origin(tmp_path / "origin.git")
    return repo, bare


def test_shallow_clone_is_deepened_instead_of_giving_0_1_devN(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, bare = _history(tmp_path)
    clone = GitRepo.clone(bare, tmp_path / "clone", depth=1)
    assert git(clone.path, "rev-parse", "--is-shallow-repository") == "true"
    # the trap this guards against:
    with pytest.warns(UserWarning, match="shallow"):
        assert get_version(root=str(clone.path)).startswith("0.1.dev1")
    pipeline_env(monkeypatch, iid=77)
    code, out, err = cli(capsys, "--project", str(clone.path))
    assert (code, out) == (0, "1.2.4.dev77\n")
    assert "shallow clone: fetching its history and tags from origin" in err
    assert git(clone.path, "rev-parse", "--is-shallow-repository") == "false"


def test_gitlab_style_clone_depth_20_no_tags_detached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a GitLab runner does: init, fetch the branch at depth, check out the sha."""
    upstream, bare = _history(tmp_path)
    for i in range(25):
        upstream.commit(f"more {i}")
    upstream.git("push", "-q", "origin", "main")
    work = tmp_path / "builds"
    work.mkdir()
    git(work, "init", "-q")
    git(work, "remote", "add", "origin", f"file://{bare}")
    git(
        work,
        "fetch",
        "-q",
        "--no-tags",
        "--depth",
        "20",
        "origin",
        "+refs/heads/main:refs/remotes/origin/main",
    )
    git(work, "checkout", "-q", "--detach", upstream.head())
    assert git(work, "tag") == ""
    pipeline_env(monkeypatch, iid=5)
    assert version_of(work) == "1.2.4.dev5"
    monkeypatch.delenv("CI")
    assert version_of(work).startswith("1.2.4.dev30+g")


def test_full_clone_without_tags_fetches_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, bare = _history(tmp_path)
    clone = GitRepo.clone(bare, tmp_path / "clone", no_tags=True)
    assert clone.git("tag") == ""
    pipeline_env(monkeypatch, iid=6)
    assert version_of(clone.path) == "1.2.4.dev6"
    assert "v1.2.3" in clone.git("tag")


def test_shallow_clone_on_the_tag_needs_no_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, bare = _history(tmp_path)
    clone = GitRepo.clone(bare, tmp_path / "clone", depth=1, branch="v1.2.3")
    shutil.rmtree(bare)  # nothing to fetch from, and nothing needed
    pipeline_env(monkeypatch, iid=5, tag="v1.2.3")
    assert version_of(clone.path) == "1.2.3"


def test_shallow_clone_whose_origin_is_gone_names_git_depth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, bare = _history(tmp_path)
    clone = GitRepo.clone(bare, tmp_path / "clone", depth=1)
    shutil.rmtree(bare)
    pipeline_env(monkeypatch)
    code, out, err = cli(capsys, "--project", str(clone.path))
    assert (code, out) == (2, "")
    last = err.splitlines()[-1]
    assert last.startswith(
        f"error: {clone.path} is a shallow clone and fetching its history failed ("
    )
    assert last.endswith(
        ') — set GIT_DEPTH: "0" in the job\'s variables (or run git fetch --unshallow --tags)'
    )
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1


def test_shallow_clone_offline_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, bare = _history(tmp_path)
    clone = GitRepo.clone(bare, tmp_path / "clone", depth=2)
    code, _, err = cli(capsys, "--project", str(clone.path), "--offline")
    assert code == 2
    assert err == (
        f"error: {clone.path} is a shallow clone and fetching is disabled (--offline), so the "
        'last release tag cannot be found — set GIT_DEPTH: "0" in the job\'s variables (or run '
        "git fetch --unshallow --tags)\n"
    )
    assert clone.git("rev-parse", "--is-shallow-repository") == "true"


def test_shallow_clone_without_origin(tmp_path: Path) -> None:
    _, bare = _history(tmp_path)
    clone = GitRepo.clone(bare, tmp_path / "clone", depth=1)
    clone.git("remote", "remove", "origin")
    with pytest.raises(VersionError, match="without an 'origin' remote") as err:
        derive_version(VersionSettings(project=clone.path))
    assert 'GIT_DEPTH: "0"' in str(err.value)


# --- project problems ----------------------------------------------------------------------


def test_not_a_git_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "plain"
    shutil.copytree(Path(__file__).parents[2] / "fixtures" / "setuptools_scm", project)
    code, out, err = cli(capsys, "--project", str(project))
    assert (code, out) == (2, "")
    assert err == (
        f"error: {project} is not in a git repository, so there are no tags to version it by — "
        "run in a git clone of the project (or git init, commit and tag v0.1.0)\n"
    )


def test_no_project_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = project_repo(tmp_path, "no_config", tag="v1.0.0")
    code, _, err = cli(capsys, "--project", str(repo.path))
    assert code == 2
    assert err == (
        f"error: {repo.path} has no pyproject.toml, setup.cfg or setup.py — run in the project "
        "directory or pass --project DIR\n"
    )


def test_broken_pyproject(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = project_repo(tmp_path, "broken_pyproject", tag="v1.0.0")
    code, _, err = cli(capsys, "--project", str(repo.path))
    assert code == 2
    assert err.startswith(f"error: {repo.path / 'pyproject.toml'}: invalid TOML (")
    assert err.endswith(") — fix the syntax of pyproject.toml\n")


def test_missing_project_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "--project", str(tmp_path / "nope"))
    assert code == 2
    assert err == (
        f"error: project directory {tmp_path / 'nope'} does not exist — pass --project DIR of a "
        "Python project\n"
    )
    (tmp_path / "pyproject.toml").write_text("")
    code, _, err = cli(capsys, "--project", str(tmp_path / "pyproject.toml"))
    assert code == 2
    assert err == (
        f"error: project directory {tmp_path / 'pyproject.toml'} is not a directory — pass "
        "--project DIR of a Python project\n"
    )


# --- static versions (flit, poetry-core) ---------------------------------------------------


@pytest.mark.parametrize("fixture", ["poetry_static", "flit_static"])
def test_static_version_matching_the_tag(tmp_path: Path, fixture: str) -> None:
    repo = project_repo(tmp_path, fixture, tag="v1.2.3")
    assert version_of(repo.path) == "1.2.3"


def test_static_version_differing_from_the_tag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "poetry_static", tag="v1.3.0")
    code, out, err = cli(capsys, "--project", str(repo.path))
    assert (code, out) == (2, "")
    assert err == (
        "error: pyproject.toml [tool.poetry] pins version 1.2.3 but the release tag v1.3.0 names "
        '1.3.0 — set version = "1.3.0" there, or tag the commit with the version it pins\n'
    )


def test_static_version_older_than_the_last_release(tmp_path: Path) -> None:
    repo = project_repo(tmp_path, "flit_static", tag="v1.5.0")
    repo.commit("after")
    with pytest.raises(VersionError, match=r"pins version 1\.2\.3, older than the last release"):
        derive_version(VersionSettings(project=repo.path))


def test_static_version_between_releases_gets_a_dev_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = project_repo(tmp_path, "poetry_static", tag="v1.2.3")
    repo.commit("after")
    pipeline_env(monkeypatch, iid=12)
    assert version_of(repo.path) == "1.2.4.dev12"


# --- dotenv and settings -------------------------------------------------------------------


def test_dotenv_for_later_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "hatch_vcs", tag="v0.4.0")
    repo.commit("after")
    pipeline_env(monkeypatch, iid=21)
    target = tmp_path / "version.env"
    code, out, _ = cli(capsys, "--project", str(repo.path), "--dotenv", str(target))
    assert (code, out) == (0, "0.4.1.dev21\n")
    assert dotenv.read(target) == {
        "WHEELSHIP_VERSION": "0.4.1.dev21",
        "WHEELSHIP_DIST_NAME": "hatch-pkg",
        "WHEELSHIP_PROJECT_NAME": "hatch-pkg",
        "WHEELSHIP_COMMIT": repo.head(),
        "WHEELSHIP_RELEASE_TAG": "",
        "WHEELSHIP_IS_RELEASE": "false",
    }


def test_dotenv_that_cannot_be_written_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag="v1.2.3")
    monkeypatch.chdir(repo.path)
    code, out, err = cli(capsys, "--dotenv", "src")
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (
        "error: --dotenv src: is a directory — pass a file path with --dotenv"
    )
    assert repo.git("status", "--porcelain", "--ignored") == ""


def test_settings_come_from_env_and_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag="rel-2.0.0")
    repo.write(
        "wheelship.yml",
        "version:\n  tag-pattern: '^rel-(?P<major>\\d+)\\.(?P<minor>\\d+)\\.(?P<patch>\\d+)$'\n",
    )
    monkeypatch.setenv("WHEELSHIP_PROJECT", str(repo.path))
    code, out, _ = cli(capsys)
    assert (code, out) == (0, "2.0.0\n")
    repo.write("wheelship.yml", "version:\n  tag-patern: x\n")
    code, _, err = cli(capsys)
    assert code == 2
    assert "version.tag-patern: unknown key — did you mean tag-pattern? " in err


def test_version_error_is_a_tag_policy_error_subclass() -> None:
    assert issubclass(TagPolicyError, VersionError)


def test_pipeline_clone_without_tags_whose_origin_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, bare = _history(tmp_path)
    clone = GitRepo.clone(bare, tmp_path / "clone", no_tags=True)
    clone.git("remote", "set-url", "origin", str(tmp_path / "gone.git"))
    pipeline_env(monkeypatch, iid=3)
    code, out, err = cli(capsys, "--project", str(clone.path))
    assert (code, out) == (2, "")
    last = err.splitlines()[-1]
    assert last.startswith(
        "error: no release tag in this clone and fetching tags from origin failed ("
    )
    assert last.endswith(
        ') — set GIT_DEPTH: "0" and GIT_FETCH_EXTRA_FLAGS: "--prune --quiet --tags" in the '
        "job's variables"
    )


# --- a project in a subdirectory of the repository (monorepo) -------------------------------


def test_config_file_is_relative_to_the_project_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the templates do: run at the repository root with WHEELSHIP_PROJECT=<project-dir>
    and WHEELSHIP_CONFIG=<config input, relative to the project directory>."""
    repo = monorepo(tmp_path)
    monkeypatch.chdir(repo.path)
    monkeypatch.setenv("WHEELSHIP_PROJECT", "libs/fore cast")
    monkeypatch.setenv("WHEELSHIP_CONFIG", "wheelship.yml")
    assert cli(capsys)[:2] == (0, "1.2.3\n")
    code, out, err = cli(capsys, "--config", "other.yml")
    assert (code, out) == (2, "")
    assert err == (
        "error: configuration file libs/fore cast/other.yml not found — create it (see "
        "docs/configuration.md) or pass --config\n"
    )

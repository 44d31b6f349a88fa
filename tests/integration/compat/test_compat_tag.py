"""``wheelship tag`` runs the compat check before creating a patch tag: real repositories with a
bare ``origin``, tags pushed with ``--method git-push``."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.apiproject import release_repo
from support.gitrepo import GitRepo, git
from support.projects import clean_env
from wheelship.cli import main

__all__ = ["clean_env"]
pytestmark = pytest.mark.usefixtures("clean_env")

REFUSED = (
    "error: 1 breaking change to the public API since v1.0.0 is not allowed in patch release "
    "1.0.1 — restore compatibility, or release the change as a new major version, or override "
    "with --allow-breaking (recorded in the release notes)\n"
)


def tag(capsys: pytest.CaptureFixture[str], repo: GitRepo, *args: str) -> tuple[int, str, str]:
    code = main(["tag", "--project", str(repo.path), "--method", "git-push", *args])
    out, err = capsys.readouterr()
    return code, out, err


def with_origin(tmp_path: Path, scenario: str, **kw: str | None) -> tuple[GitRepo, Path]:
    repo = release_repo(tmp_path / "work", scenario, second=None, **kw)
    return repo, repo.add_bare_origin(tmp_path / "origin.git")


def tags(path: Path) -> list[str]:
    return git(path, "tag", "--list").split()


def message(bare: Path, name: str) -> str:
    return git(bare, "tag", "-l", "--format=%(contents)", name)


def test_a_breaking_patch_is_refused_and_nothing_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, bare = with_origin(tmp_path, "lost_default")
    code, out, err = tag(capsys, repo)
    assert (code, out) == (4, "")
    assert err.endswith(REFUSED)
    # the list of breaks comes first, on stderr (stdout carries only a created tag's name)
    assert (
        "  src/forecastkit/model.py:22: forecastkit.model.train: parameter 'epochs' lost its "
        "default (now required)\n      breaks callers: calls that omit it fail with TypeError\n"
    ) in err
    assert "not allowed in patch release 1.0.1" not in err.splitlines()[-2]  # said once, below
    assert tags(repo.path) == tags(bare) == ["v1.0.0"]


def test_dry_run_refuses_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo, _ = with_origin(tmp_path, "removed_parameter")
    code, out, err = tag(capsys, repo, "--dry-run")
    assert (code, out) == (4, "")
    assert err.endswith(REFUSED)


def test_allow_breaking_tags_and_records_the_breaks_in_the_release_notes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, bare = with_origin(tmp_path, "lost_default")
    code, out, err = tag(capsys, repo, "--allow-breaking")
    assert (code, out) == (0, "v1.0.1\n")
    assert (
        "warning: tagging v1.0.1 with 1 breaking API change(s) (--allow-breaking); the release "
        "notes list them\n"
    ) in err
    assert tags(bare) == ["v1.0.0", "v1.0.1"]
    notes = message(bare, "v1.0.1")
    assert notes.endswith(
        "\n### Breaking API changes since v1.0.0 (released with --allow-breaking)\n\n"
        "- `forecastkit.model.train` (src/forecastkit/model.py:22): parameter 'epochs' lost its "
        "default (now required) — calls that omit it fail with TypeError"
    )


def test_allow_breaking_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, bare = with_origin(tmp_path, "removed_function")
    monkeypatch.setenv("WHEELSHIP_ALLOW_BREAKING", "true")
    code, out, _ = tag(capsys, repo)
    assert (code, out) == (0, "v1.0.1\n")
    assert (
        "`forecastkit.metrics.rmse` (src/forecastkit/metrics.py:8 in v1.0.0): function was "
        "removed (or renamed)" in message(bare, "v1.0.1")
    )


@pytest.mark.parametrize("scenario", ["compatible_additions", "private_only"])
def test_a_compatible_patch_is_tagged_and_says_so(
    scenario: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, bare = with_origin(tmp_path, scenario)
    code, out, err = tag(capsys, repo)
    assert (code, out) == (0, "v1.0.1\n")
    assert "compat: compatible with v1.0.0 (patch release 1.0.1)\n" in err
    assert message(bare, "v1.0.1").endswith(
        "\nPublic API: no breaking changes since v1.0.0 (wheelship compat)."
    )


def test_the_next_patch_compares_with_the_previous_patch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """v1.0.1 broke with --allow-breaking; v1.0.2 is judged against v1.0.1, not v1.0.0."""
    repo, bare = with_origin(tmp_path, "lost_default")
    assert tag(capsys, repo, "--allow-breaking")[0] == 0
    repo.commit("docs", files={"NOTES.md": "more\n"})
    repo.git("push", "-q", "origin", "release/1.0")
    code, out, _ = tag(capsys, repo)
    assert (code, out) == (0, "v1.0.2\n")
    assert message(bare, "v1.0.2").endswith(
        "\nPublic API: no breaking changes since v1.0.1 (wheelship compat)."
    )


def test_minor_releases_are_not_judged_by_the_tag_job(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first tag of release/1.1 is a minor: breaks are the compat job's to judge."""
    repo, bare = with_origin(tmp_path, "lost_default", branch="release/1.1")
    code, out, err = tag(capsys, repo)
    assert (code, out) == (0, "v1.1.0\n")
    assert "compat:" not in err
    assert "Public API" not in message(bare, "v1.1.0")


def test_packages_come_from_the_compat_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = GitRepo.init(tmp_path / "work")
    repo.commit(
        "two packages",
        files={
            "src/alpha/__init__.py": "def a(x, y=1): ...\n",
            "src/beta/__init__.py": "def b(): ...\n",
        },
    )
    repo.tag("v1.0.0")
    repo.git("checkout", "-q", "-b", "release/1.0")
    repo.commit("alpha breaks", files={"src/alpha/__init__.py": "def a(x, y): ...\n"})
    bare = repo.add_bare_origin(tmp_path / "origin.git")

    code, _, err = tag(capsys, repo)
    assert code == 2
    assert err == (
        "error: cannot tell which package's API to check in the repository root (found alpha, "
        "beta) — pass --package NAME (WHEELSHIP_COMPAT_PACKAGES, or compat.packages in wheelship.yml)\n"
    )
    assert tags(bare) == ["v1.0.0"]

    (repo.path / "wheelship.yml").write_text("compat:\n  packages: [beta]\n")
    assert tag(capsys, repo, "--dry-run")[0] == 0
    (repo.path / "wheelship.yml").write_text("compat:\n  packages: [alpha, beta]\n")
    code, _, err = tag(capsys, repo)
    assert code == 4
    assert "  src/alpha/__init__.py:1: alpha.a: parameter 'y' lost its default" in err
    assert tags(bare) == ["v1.0.0"]

"""Fixture projects (``tests/fixtures``) in throw-away git repositories, and a clean CI env."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from support.gitrepo import GIT_ENV, GitRepo

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

#: Where :func:`monorepo` puts the project, relative to the repository root.
MONOREPO_PROJECT = "libs/fore cast"

#: Prefixes of the outer variables a test must not see: the suite itself may run in a GitLab
#: pipeline (CI_*, GITLAB_* such as the tagger's GITLAB_USER_NAME), and git reads extra config
#: from GIT_CONFIG_COUNT/KEY_n/VALUE_n.
OUTER_PREFIXES = ("CI_", "GITLAB_", "WHEELSHIP_", "SETUPTOOLS_SCM_", "GIT_CONFIG_")


def project_repo(
    tmp_path: Path, fixture: str, *, tag: str | None = None, name: str = "project"
) -> GitRepo:
    """A git repository holding a copy of ``tests/fixtures/<fixture>``, optionally tagged."""
    repo = GitRepo.from_template(FIXTURES / fixture, tmp_path / name)
    if tag:
        repo.tag(tag)
    return repo


def pipeline_env(monkeypatch: pytest.MonkeyPatch, iid: int = 42, tag: str | None = None) -> None:
    """Look like a GitLab pipeline (branch pipeline, or a tag pipeline when ``tag`` is set)."""
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("CI_PIPELINE_IID", str(iid))
    if tag:
        monkeypatch.setenv("CI_COMMIT_TAG", tag)
    else:
        monkeypatch.setenv("CI_COMMIT_BRANCH", "main")


def monorepo(tmp_path: Path) -> GitRepo:
    """A repository whose project lives in ``libs/fore cast`` (with a space, as paths may have)
    with its own wheelship.yml and tag series ``fc-vX.Y.Z``, next to another project's tags."""
    repo = GitRepo.init(tmp_path / "mono repo")
    shutil.copytree(FIXTURES / "setuptools_scm", repo.path / MONOREPO_PROJECT)
    repo.write(
        f"{MONOREPO_PROJECT}/wheelship.yml",
        "version:\n  tag-pattern: '^fc-v(?P<major>\\d+)\\.(?P<minor>\\d+)\\.(?P<patch>\\d+)$'\n",
    )
    repo.commit("two projects")
    repo.tag("fc-v1.2.3")
    repo.tag("v9.0.0")  # the other project's release
    return repo


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CI, GitLab or WHEELSHIP_* variables from the outer environment; git ignores user
    and system config."""
    for key in list(os.environ):
        if key == "CI" or key.startswith(OUTER_PREFIXES):
            monkeypatch.delenv(key)
    for key in ("GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL"):
        monkeypatch.setenv(key, GIT_ENV[key])


@pytest.fixture(scope="session")
def build_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One build-environment cache for the whole session (each backend's env is made once)."""
    return tmp_path_factory.mktemp("wheelship-cache")


@pytest.fixture
def build_env(clean_env: None, build_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment whose builds share the session's build-environment cache."""
    monkeypatch.setenv("WHEELSHIP_CACHE_DIR", str(build_cache))
    return build_cache

"""Fixture projects for the compat guard, committed and tagged in real git repositories.

``tests/fixtures/compat/base`` is release 1 of the ``forecastkit`` package. Each scenario
directory next to it holds ``v2/`` (files that replace or add to the base in the second release),
optionally ``v1/`` (files that change the first release) and ``removed.txt`` (paths the second
release deletes).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from support.gitrepo import GitRepo

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "compat"
BASE = FIXTURES / "base"


def scenarios() -> list[str]:
    return sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name != "base")


def overlay(src: Path, dest: Path) -> None:
    # shutil.copy, not copy2: a copied file keeping the fixture's old mtime with an unchanged
    # size looks unmodified to git's stat check ("racy git"), so `git add` would miss the change.
    shutil.copytree(src, dest, dirs_exist_ok=True, copy_function=shutil.copy)


def apply_v2(repo: GitRepo, scenario: str) -> None:
    root = FIXTURES / scenario
    removed = root / "removed.txt"
    if removed.exists():
        for rel in removed.read_text().split():
            (repo.path / rel).unlink()
    overlay(root / "v2", repo.path)


def release_repo(
    path: Path,
    scenario: str,
    *,
    first: str = "v1.0.0",
    second: str | None = "v1.0.1",
    branch: str | None = "release/1.0",
) -> GitRepo:
    """A repository where ``first`` tags release 1 on main and the scenario's second release is
    committed on ``branch`` (main when None) and tagged ``second`` (untagged when None)."""
    repo = GitRepo.from_template(BASE, path)
    v1 = FIXTURES / scenario / "v1"
    if v1.is_dir():
        overlay(v1, repo.path)
        repo.commit("release 1 of the scenario")
    repo.tag(first)
    if branch:
        repo.git("checkout", "-q", "-b", branch)
    apply_v2(repo, scenario)
    repo.commit(f"second release: {scenario}")
    if second:
        repo.tag(second)
    return repo

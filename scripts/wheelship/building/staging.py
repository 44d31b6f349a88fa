"""What the backend builds from: the project's committed files, and nothing else.

Backends choose the sdist's files in their own ways: hatchling takes every file git does not
ignore, setuptools-scm lists the files of the commit, flit and poetry-core add include patterns.
Run in the checkout, a hatchling build packs whatever the consumer's ``.gitignore`` forgot —
the templates' ``.cache/`` (GitLab caches only paths inside the checkout), build environments,
reports of earlier jobs. So the backend never sees the checkout: it gets a copy of the files git
tracks under the project directory (their work-tree content, so a developer's uncommitted edit
shows, as the version's dirty marker says), committed into a fresh repository of its own, so that
the backends that ask git (setuptools-scm's file finder, hatchling's and poetry-core's ignore
rules) find a clean repository with exactly those files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from wheelship import git as _git

# A fixed identity and date, no hooks, no signing: the staging commit is ours, not the user's.
_COMMIT_ENV = {
    "GIT_AUTHOR_NAME": "wheelship",
    "GIT_AUTHOR_EMAIL": "wheelship@localhost",
    "GIT_COMMITTER_NAME": "wheelship",
    "GIT_COMMITTER_EMAIL": "wheelship@localhost",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
}


def tracked_files(git_root: Path, project_root: Path) -> list[str]:
    """Paths (relative to ``git_root``) of the tracked files under ``project_root``, and of the
    tracked ``.gitignore`` files of the directories above it (backends read those too)."""
    rel = project_root.relative_to(git_root).as_posix()
    listing = _git.run(
        git_root, "ls-files", "-z", "--cached", "--recurse-submodules", "--", rel or "."
    )
    files = [p for p in listing.split("\0") if p]
    parts = [] if rel in ("", ".") else rel.split("/")
    for depth in range(len(parts)):
        ignore = "/".join([*parts[:depth], ".gitignore"])
        if _git.run(git_root, "ls-files", "--cached", "--", ignore):
            files.append(ignore)
    return files


def stage_committed(git_root: Path, project_root: Path, dest: Path) -> Path:
    """A clean repository in ``dest`` holding only the tracked files; return the project
    directory inside it (the same relative place as in the checkout)."""
    dest.mkdir(parents=True)
    for rel in tracked_files(git_root, project_root):
        src, target = git_root / rel, dest / rel
        if not src.is_symlink() and not src.is_file():
            continue  # deleted in the work tree, or a submodule that is not checked out
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), target)
        else:
            shutil.copy2(src, target)
    _git.run(dest, "init", "-q", "-b", "stage", env=_COMMIT_ENV)
    # -f: a tracked file that a .gitignore matches is still tracked, so it is staged too.
    _git.run(dest, "add", "-A", "-f", env=_COMMIT_ENV)
    _git.run(
        dest,
        "-c",
        "commit.gpgsign=false",
        "-c",
        "core.hooksPath=/dev/null",
        "commit",
        "-q",
        "--no-verify",
        "--allow-empty",
        "-m",
        "the committed files of the project",
        env=_COMMIT_ENV,
    )
    return dest / project_root.relative_to(git_root)

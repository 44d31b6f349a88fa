"""The example project ``tsff`` that ships inside the wheelship wheel.

``example/`` is package *data*, not part of the wheelship package: a complete project (src
layout, setuptools-scm, a ``tsff`` console entry point for a Databricks ``python_wheel_task``, its
own tests). :func:`example_project` turns a copy of it into a git repository with a release tag,
which the demo, the tests and the benchmarks build.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from wheelship import git
from wheelship.errors import ConfigurationError

EXAMPLE_DIR = Path(__file__).resolve().parent / "example"
EXAMPLE_TAG = "v1.0.0"
#: A fixed commit date, so every copy has the same commit time (SOURCE_DATE_EPOCH) and sha.
COMMIT_DATE = "1767225600 +0000"  # 2026-01-01T00:00:00Z
_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "_version.py", "*.egg-info", "build", "dist", ".pytest_cache"
)


def _env(who: str) -> dict[str, str]:
    """``wheelship <who>`` at the fixed date, and no system or user git configuration."""
    name, email = f"wheelship {who}", f"{who}@wheelship.invalid"
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_AUTHOR_DATE": COMMIT_DATE,
        "GIT_COMMITTER_DATE": COMMIT_DATE,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }


def commit_all(repo: Path, message: str, *, tag: str | None, who: str = "example") -> None:
    """Commit everything in ``repo`` as ``wheelship <who>`` and tag the commit (annotated)
    unless ``tag`` is None. Deterministic: the same content always gets the same commit sha,
    so every machine builds the same wheels."""
    env = _env(who)
    git.run(repo, "add", "-A", env=env)
    git.run(repo, "-c", "commit.gpgsign=false", "commit", "-q", "-m", message, env=env)
    if tag:
        git.run(repo, "-c", "tag.gpgsign=false", "tag", "-a", tag, "-m", f"release {tag}", env=env)


def example_project(dest: Path, *, tag: str | None = EXAMPLE_TAG) -> Path:
    """Copy the example to ``dest`` (which must not exist), commit it, tag it; return ``dest``.

    ``tag=None`` leaves it untagged. The commit is deterministic: same content, same sha.
    """
    if dest.exists():
        raise ConfigurationError(f"{dest} already exists", "choose a new directory")
    shutil.copytree(EXAMPLE_DIR, dest, ignore=_IGNORE)
    git.run(dest, "init", "-q", "-b", "main", env=_env("example"))
    commit_all(dest, "tsff example project", tag=tag)
    return dest

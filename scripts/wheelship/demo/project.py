"""The example project ``tsff`` that ships inside the wheelship wheel.

``example/`` is package *data*, not part of the wheelship package: a complete project (src
layout, setuptools-scm, a ``tsff`` console entry point for a Databricks ``python_wheel_task``, its
own tests). :func:`example_project` turns a copy of it into a git repository with a release tag,
which the demo, the tests and the benchmarks build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from wheelship.errors import ConfigurationError, GitError

EXAMPLE_DIR = Path(__file__).resolve().parent / "example"
EXAMPLE_TAG = "v1.0.0"
#: A fixed commit date, so every copy has the same commit time (SOURCE_DATE_EPOCH) and sha.
COMMIT_DATE = "1767225600 +0000"  # 2026-01-01T00:00:00Z
_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "_version.py", "*.egg-info", "build", "dist", ".pytest_cache"
)


def _git(cwd: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "wheelship example",
        "GIT_AUTHOR_EMAIL": "example@wheelship.invalid",
        "GIT_COMMITTER_NAME": "wheelship example",
        "GIT_COMMITTER_EMAIL": "example@wheelship.invalid",
        "GIT_AUTHOR_DATE": COMMIT_DATE,
        "GIT_COMMITTER_DATE": COMMIT_DATE,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
    }
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed: {proc.stderr.strip()}", "check git works")


def example_project(dest: Path, *, tag: str | None = EXAMPLE_TAG) -> Path:
    """Copy the example to ``dest`` (which must not exist), commit it, tag it; return ``dest``.

    ``tag=None`` leaves it untagged. The commit is deterministic: same content, same sha.
    """
    if dest.exists():
        raise ConfigurationError(f"{dest} already exists", "choose a new directory")
    shutil.copytree(EXAMPLE_DIR, dest, ignore=_IGNORE)
    _git(dest, "init", "-q", "-b", "main")
    _git(dest, "add", "-A")
    _git(dest, "-c", "commit.gpgsign=false", "commit", "-q", "-m", "tsff example project")
    if tag:
        _git(dest, "-c", "tag.gpgsign=false", "tag", "-a", tag, "-m", f"release {tag}")
    return dest

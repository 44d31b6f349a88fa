"""Real git repositories in temp dirs, with a bare repository as ``origin``."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
}


def git(cwd: Path, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout.strip()


@dataclass
class GitRepo:
    path: Path
    _clock: int = 1_700_000_000

    @classmethod
    def init(cls, path: Path, branch: str = "main") -> GitRepo:
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "-q", "-b", branch)
        git(path, "config", "commit.gpgsign", "false")
        git(path, "config", "tag.gpgsign", "false")
        return cls(path)

    @classmethod
    def from_template(cls, template: Path, path: Path, branch: str = "main") -> GitRepo:
        """Copy a fixture project into ``path`` and commit it."""
        shutil.copytree(
            template,
            path,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            copy_function=shutil.copy,  # fresh mtimes: see apiproject.overlay (racy git)
        )
        repo = cls.init(path, branch)
        repo.commit("initial commit", add_all=True)
        return repo

    def git(self, *args: str, check: bool = True) -> str:
        return git(self.path, *args, check=check)

    def write(self, rel: str, text: str) -> Path:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def commit(
        self, message: str, *, add_all: bool = True, files: dict[str, str] | None = None
    ) -> str:
        """Commit (with a deterministic, increasing date) and return the new sha."""
        for rel, text in (files or {}).items():
            self.write(rel, text)
        if add_all:
            self.git("add", "-A")
        self._clock += 60
        date = f"{self._clock} +0000"
        git(
            self.path,
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
            env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
        )
        return self.head()

    def tag(self, name: str, *, annotated: bool = True, ref: str = "HEAD") -> None:
        if annotated:
            self.git("tag", "-a", name, "-m", f"release {name}", ref)
        else:
            self.git("tag", name, ref)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def checkout(self, *args: str) -> None:
        self.git("checkout", "-q", *args)

    def add_bare_origin(self, bare: Path, *, push: bool = True) -> Path:
        # the bare HEAD must name our branch, or clones of it check out nothing
        branch = self.git("symbolic-ref", "--short", "HEAD", check=False) or "main"
        git(bare.parent, "init", "-q", "--bare", "-b", branch, str(bare))
        self.git("remote", "add", "origin", str(bare))
        if push:
            self.git("push", "-q", "origin", "--all")
            self.git("push", "-q", "origin", "--tags")
        return bare

    @staticmethod
    def clone(
        origin: Path,
        dest: Path,
        *,
        depth: int | None = None,
        branch: str | None = None,
        no_tags: bool = False,
    ) -> GitRepo:
        """Clone; ``depth`` uses a file:// URL because a plain path ignores --depth."""
        args = ["clone", "-q"]
        if depth is not None:
            args += ["--depth", str(depth)]
        if branch:
            args += ["--branch", branch]
        if no_tags:
            args.append("--no-tags")
        url = f"file://{origin}" if depth is not None else str(origin)
        git(dest.parent, *args, url, str(dest))
        return GitRepo(dest)

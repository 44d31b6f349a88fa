"""Thin, typed wrappers around the git command line (the one place that runs ``git``)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from wheelship.environ import child_env
from wheelship.errors import GitError

_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


def _call(
    cwd: Path,
    args: tuple[str, ...],
    *,
    check: bool,
    env: dict[str, str] | None,
    stdin: bytes | None,
) -> subprocess.CompletedProcess[Any]:
    """Run ``git args``: text output for commands, bytes in and out when ``stdin`` is given."""
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            # git runs hooks and helpers: they get no credential but the one passed in ``env``
            env={**child_env(), **_ENV, **(env or {})},
            input=stdin,
            capture_output=True,
            text=stdin is None,
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed", "install git and run again") from None
    if check and proc.returncode != 0:
        output = proc.stderr or proc.stdout
        if isinstance(output, bytes):
            output = output.decode(errors="replace")
        detail = output.strip().splitlines()
        raise GitError(
            f"git {' '.join(args)} failed: {detail[-1] if detail else f'exit {proc.returncode}'}",
            "check the repository state",
        )
    return proc


def run(cwd: Path, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    """Run ``git args`` in ``cwd``; return stripped stdout. Raise GitError on failure."""
    out: str = _call(cwd, args, check=check, env=env, stdin=None).stdout
    return out.strip()


def run_binary(cwd: Path, *args: str, stdin: bytes) -> bytes:
    """Run ``git args`` in ``cwd`` with ``stdin``; return stdout as it is (file contents: no
    encoding assumed, nothing stripped). Raise GitError on failure."""
    out: bytes = _call(cwd, args, check=True, env=None, stdin=stdin).stdout
    return out


def toplevel(path: Path) -> Path | None:
    """The work tree root containing ``path``, or None when it is not in a git repository."""
    try:
        out = run(path, "rev-parse", "--show-toplevel")
    except GitError:
        return None
    return Path(out)


def head(cwd: Path) -> str:
    return run(cwd, "rev-parse", "HEAD")


def is_dirty(cwd: Path) -> bool:
    """Tracked files modified or staged (untracked files do not count, like setuptools-scm)."""
    return bool(run(cwd, "status", "--porcelain", "--untracked-files=no"))


def is_shallow(cwd: Path) -> bool:
    return run(cwd, "rev-parse", "--is-shallow-repository") == "true"


def current_branch(cwd: Path) -> str | None:
    """The checked-out branch, or None on a detached HEAD."""
    out = run(cwd, "symbolic-ref", "-q", "--short", "HEAD", check=False)
    return out or None


def tags_at(cwd: Path, ref: str = "HEAD") -> list[str]:
    out = run(cwd, "tag", "--points-at", ref)
    return out.splitlines() if out else []


def all_tags(cwd: Path) -> list[str]:
    out = run(cwd, "tag", "--list")
    return out.splitlines() if out else []


def commit_time(cwd: Path, ref: str = "HEAD") -> int:
    """Committer time (unix seconds) of ``ref``: the reproducible build timestamp."""
    return int(run(cwd, "log", "-1", "--format=%ct", ref))


def has_remote(cwd: Path, name: str = "origin") -> bool:
    return name in run(cwd, "remote").splitlines()


def merged_tags(cwd: Path, ref: str = "HEAD") -> list[str]:
    """Tags whose commits are ancestors of ``ref`` (within the history this clone has)."""
    out = run(cwd, "tag", "--merged", ref)
    return out.splitlines() if out else []


def count_commits(cwd: Path, since: str | None, ref: str = "HEAD") -> int:
    """Commits in ``since..ref`` (all of ``ref``'s history when ``since`` is None)."""
    spec = f"{since}..{ref}" if since else ref
    return int(run(cwd, "rev-list", "--count", spec))


def nearest_tag(cwd: Path, match: str = "*[0-9]*", ref: str = "HEAD") -> str | None:
    """The topologically nearest tag ``git describe`` (and so setuptools-scm) would pick."""
    out = run(cwd, "describe", "--tags", "--abbrev=0", "--match", match, ref, check=False)
    return out or None


def tag_commit(cwd: Path, tag: str) -> str | None:
    """The commit a tag points at, or None when the tag does not exist here."""
    out = run(cwd, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}", check=False)
    return out or None


def fetch(cwd: Path, *args: str, remote: str = "origin") -> None:
    """``git fetch --quiet <remote> args``; raises GitError with git's last line on failure."""
    run(cwd, "fetch", "--quiet", *args, remote)


# --- tags, history and remotes (used by the tag flow) -------------------------------------------


def tag_targets(cwd: Path) -> dict[str, str]:
    """Every tag -> the commit it names (annotated tags peeled)."""
    out = run(
        cwd,
        "for-each-ref",
        "--format=%(refname:strip=2) %(objectname) %(*objectname)",
        "refs/tags",
    )
    targets: dict[str, str] = {}
    for line in out.splitlines():
        name, obj, *peeled = line.split(" ")
        targets[name] = peeled[0] if peeled and peeled[0] else obj
    return targets


def commits_between(
    cwd: Path, since: str | None, until: str = "HEAD"
) -> list[tuple[str, str, str]]:
    """``(sha, subject, author)`` of the commits in ``since..until``, newest first (all of
    ``until``'s history when ``since`` is None)."""
    rng = f"{since}..{until}" if since else until
    out = run(cwd, "log", "--no-merges", "--format=%H%x1f%s%x1f%an", rng)
    commits = []
    for line in out.splitlines():
        sha, subject, author = line.split("\x1f")
        commits.append((sha, subject, author))
    return commits


def dirty_files(cwd: Path) -> list[str]:
    """Tracked files modified or staged (untracked files do not count)."""
    out = run(cwd, "diff", "--name-only", "HEAD")
    return out.splitlines() if out else []


def remote_url(cwd: Path, name: str = "origin") -> str | None:
    out = run(cwd, "remote", "get-url", name, check=False)
    return out or None


def remote_default_branch(cwd: Path, name: str = "origin") -> str | None:
    """The branch ``<name>/HEAD`` points at (set by clone), or None."""
    out = run(cwd, "symbolic-ref", "-q", "--short", f"refs/remotes/{name}/HEAD", check=False)
    return out.split("/", 1)[1] if "/" in out else None


def config_value(cwd: Path, key: str) -> str | None:
    out = run(cwd, "config", "--get", key, check=False)
    return out or None

"""How long ``wheelship compat`` takes, by package size, and what reading sources from git
objects saves over griffe's ``load_git`` (a temporary worktree with the whole checkout).

Each repository holds a synthetic package (N modules, each with functions, a class and a
constant) plus ``data/`` files that are not Python (what data-science repositories carry), tagged
``v1.0.0`` and followed by one breaking change on ``release/1.0``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import griffe
from benchlib import Table, summary, timed

from support.gitrepo import GitRepo
from wheelship.compat.check import CompatSettings, check

TITLE = "API compatibility check (wheelship compat)"


def _module(i: int) -> str:
    funcs = "\n\n".join(
        f"def f{i}_{j}(series: list[float], window: int = {j + 1}, *, seed: int | None = None)"
        f" -> list[float]:\n    return series[-window:]"
        for j in range(8)
    )
    return (
        f'"""Module {i}."""\n\nLIMIT_{i} = {i}\n\n\n{funcs}\n\n\n'
        f"class Model{i}:\n    def fit(self, x: list[float], y: list[float] | None = None)"
        f" -> None:\n        self.x = x\n\n    def predict(self, steps: int) -> list[float]:\n"
        f"        return self.x[-steps:]\n"
    )


def _repo(root: Path, modules: int, data_mb: int) -> GitRepo:
    repo = GitRepo.init(root)
    repo.write("pyproject.toml", '[project]\nname = "synth"\nversion = "1.0.0"\n')
    repo.write("src/synth/__init__.py", '"""Synthetic package."""\n')
    for i in range(modules):
        repo.write(f"src/synth/m{i}.py", _module(i))
    chunk = bytes(range(256)) * 4096  # 1 MiB
    for i in range(data_mb):
        (root / "data").mkdir(exist_ok=True)
        (root / "data" / f"part{i}.bin").write_bytes(chunk[i:] + chunk[:i])
    repo.commit("v1")
    repo.tag("v1.0.0")
    repo.git("checkout", "-q", "-b", "release/1.0")
    text = (root / "src/synth/m0.py").read_text().replace("window: int = 1,", "window: int,")
    repo.commit("break", files={"src/synth/m0.py": text})
    return repo


def run(runs: int) -> list[Table]:
    table = Table(
        "check() against the previous tag (wall clock, this machine)",
        [
            "package",
            "non-Python data",
            "wheelship compat (min / median)",
            "griffe.load_git both sides (min / median)",
            "ratio",
        ],
    )
    cases = [(20, 0), (200, 0), (200, 50)]
    for modules, data_mb in cases:
        with tempfile.TemporaryDirectory() as tmp:
            repo = _repo(Path(tmp) / "repo", modules, data_mb)
            settings = CompatSettings(project_dir=repo.path)
            report = check(settings)
            assert len(report.breaks) == 1, report.breaks

            def ours(settings: CompatSettings = settings) -> None:
                check(settings)

            def load_git(path: Path = repo.path) -> None:
                old = griffe.load_git("synth", ref="v1.0.0", repo=path, search_paths=["src"])
                new = griffe.load_git("synth", ref="HEAD", repo=path, search_paths=["src"])
                assert len(list(griffe.find_breaking_changes(old, new))) == 1

            a_min, a_med = summary(timed(ours, runs))
            b_min, b_med = summary(timed(load_git, runs))
            table.add(
                f"{modules} modules ({modules * 10} functions/methods)",
                f"{data_mb} MiB",
                f"{a_min:.2f} s / {a_med:.2f} s",
                f"{b_min:.2f} s / {b_med:.2f} s",
                f"{b_med / a_med:.1f}x",
            )
    table.notes.append(
        "wheelship reads only the package's .py/.pyi blobs of both commits with one "
        "`git cat-file --batch` each; griffe.load_git checks out a full worktree per ref (and "
        "creates a temporary branch in the repository). The wheelship figure includes finding "
        "the previous tag and the level."
    )
    return [table]

"""``wheelship build`` vs ``python -m build`` vs ``python -m build --no-isolation`` (the floor),
warm and cold, on two projects: the bundled example (``tsff``, setuptools + setuptools-scm) and
the hatchling fixture (``hatch_vcs``, hatchling + hatch-vcs).

Every contender builds the same thing from the same tagged checkout: an sdist, then the wheel
from the sdist. Runs are interleaved (one of each per round) so background load hits all of them
alike; one untimed warm-up round first fills pip's and uv's caches and wheelship's
build-environment cache (and proves each command works).

- ``python -m build``: isolated, a fresh virtual environment per distribution, installed by pip
  (build's default) — what most pipelines run. pip's cache warm.
- ``python -m build --no-isolation``: the backend already installed in the interpreter that runs
  it; no environment at all. Nothing that builds sdist and wheel through PEP 517 hooks can be
  much faster, hence "the floor".
- ``wheelship build`` (warm): the build environment for these requirements exists in wheelship's
  cache (a developer machine, or CI with ``.cache/wheelship`` in ``cache:`` as the templates set).
- ``wheelship build`` (cold): no wheelship cache at all — a first pipeline, an expired cache, a
  new runner — so the build environment is created with uv every run; uv's own package cache
  warm, as on a runner whose ``cache:`` holds ``.cache/uv`` (the templates' default) or that
  built anything before. This is the cold figure the goal (>= 2x python -m build) is about.
- the empty-cache pair: ``python -m build`` with an empty pip cache vs ``wheelship build`` with
  an empty wheelship cache *and* an empty uv cache, each run (both download every wheel from
  the configured index): the first pipeline on a runner with no cache of any kind.

The wheels of every wheelship run (warm, cold, empty) must be the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchlib import Table, summary, timed

from support.projects import project_repo
from wheelship.building.environments import find_uv
from wheelship.demo import example_project

TITLE = "Build: wheelship build vs python -m build, warm and cold (sdist + wheel from sdist)"


@dataclass(frozen=True)
class Subject:
    label: str
    wheel: str
    requires: tuple[str, ...]
    make: Callable[[Path], Path]


SUBJECTS = (
    Subject(
        "tsff 1.0.0, the bundled example (setuptools + setuptools-scm)",
        "tsff-1.0.0-py3-none-any.whl",
        ("setuptools>=77", "setuptools-scm>=8"),
        lambda root: example_project(root / "tsff"),
    ),
    Subject(
        "hatch-pkg 1.2.3, the hatchling fixture (hatchling + hatch-vcs)",
        "hatch_pkg-1.2.3-py3-none-any.whl",
        ("hatchling>=1.26", "hatch-vcs>=0.4"),
        lambda root: project_repo(root, "hatch_vcs", tag="v1.2.3", name="hatch").path,
    ),
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "WHEELSHIP_"))}
    env.pop("GITLAB_CI", None)
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")


def _measure(subject: Subject, root: Path, runs: int) -> Table:
    project = subject.make(root)
    env = _env()
    uv = find_uv()
    if uv is None:
        raise RuntimeError("the build benchmark needs uv (pip install 'build[uv]')")
    floor = root / "floor"
    _run([uv, "venv", "-q", "--python", sys.executable, str(floor)], root, env)
    floor_python = str(floor / "bin" / "python")
    _run(
        [uv, "pip", "install", "-q", "--python", floor_python, "build", *subject.requires],
        root,
        env,
    )
    warm_cache = root / "cache-warm"
    counter = iter(range(1_000_000))
    ours: list[Path] = []

    def out(mine: bool = False) -> Path:
        path = root / f"out{next(counter)}"
        if mine:
            ours.append(path)
        return path

    def scratch(prefix: str) -> Path:
        return Path(tempfile.mkdtemp(dir=root, prefix=prefix))

    def wheelship_build(cache: Path, extra: dict[str, str] | None = None) -> None:
        cmd = [sys.executable, "-m", "wheelship", "build", "--project", str(project)]
        cmd += ["--outdir", str(out(mine=True)), "--dotenv", str(root / "build.env")]
        _run(cmd, project, {**env, "WHEELSHIP_CACHE_DIR": str(cache), **(extra or {})})

    def wheelship_warm() -> None:
        wheelship_build(warm_cache)

    def wheelship_cold() -> None:
        cold = scratch("cache-cold-")
        try:
            wheelship_build(cold)
        finally:
            shutil.rmtree(cold, ignore_errors=True)

    def wheelship_empty() -> None:
        cold, uv_cache = scratch("cache-cold-"), scratch("uv-cache-")
        try:
            wheelship_build(cold, {"UV_CACHE_DIR": str(uv_cache)})
        finally:
            shutil.rmtree(cold, ignore_errors=True)
            shutil.rmtree(uv_cache, ignore_errors=True)

    def plain(extra: dict[str, str] | None = None) -> None:
        cmd = [sys.executable, "-m", "build", "--outdir", str(out()), "."]
        _run(cmd, project, {**env, **(extra or {})})

    def plain_empty() -> None:
        pip_cache = scratch("pip-cache-")
        try:
            plain({"PIP_CACHE_DIR": str(pip_cache)})
        finally:
            shutil.rmtree(pip_cache, ignore_errors=True)

    def no_isolation() -> None:
        cmd = [floor_python, "-m", "build", "--no-isolation", "--outdir", str(out()), "."]
        _run(cmd, project, env)

    PLAIN = "`python -m build`"
    PLAIN_EMPTY = "`python -m build`, empty pip cache"
    contenders: list[tuple[str, str, Callable[[], None]]] = [
        # name, what it is compared with
        (PLAIN, PLAIN, plain),
        ("`python -m build --no-isolation` (floor)", PLAIN, no_isolation),
        ("`wheelship build` (warm: build environment cached)", PLAIN, wheelship_warm),
        ("`wheelship build` (cold: no build environment; uv cache warm)", PLAIN, wheelship_cold),
        (PLAIN_EMPTY, PLAIN_EMPTY, plain_empty),
        ("`wheelship build` (cold, empty uv cache)", PLAIN_EMPTY, wheelship_empty),
    ]
    for _, _, fn in contenders:  # warm-up: caches, and proof each one works
        fn()
    samples: dict[str, list[float]] = {name: [] for name, _, _ in contenders}
    for _ in range(runs):
        for name, _, fn in contenders:
            samples[name] += timed(fn, 1)
    wheels = {p.name for p in root.glob("out*/*.whl")}
    assert wheels == {subject.wheel}, wheels
    digests = {hashlib.sha256((o / subject.wheel).read_bytes()).hexdigest() for o in ours}
    assert len(digests) == 1, f"wheelship's warm and cold wheels differ: {digests}"

    _, floor_med = summary(samples[contenders[1][0]])
    table = Table(
        f"{subject.label}: {runs} interleaved runs each (seconds)",
        ["command", "min", "median", "speed-up vs python -m build (median)", "vs floor (median)"],
    )
    for name, base, _ in contenders:
        lo, med = summary(samples[name])
        _, base_med = summary(samples[base])
        table.add(
            name, f"{lo:.2f}", f"{med:.2f}", f"{base_med / med:.2f}x", f"{med / floor_med:.2f}x"
        )
    table.notes.append(
        "Speed-up: against `python -m build` with the same state of the installer's cache (the "
        "empty-cache rows against each other). Every wheelship wheel above is the same bytes "
        f"(sha256 {next(iter(digests))[:16]}…)."
    )
    return table


def run(runs: int) -> list[Table]:
    tables = []
    for subject in SUBJECTS:
        with tempfile.TemporaryDirectory(prefix="wheelship-bench-") as tmp:
            tables.append(_measure(subject, Path(tmp), runs))
    tables[-1].notes.append(
        "Targets: wheelship build warm >= 3x and cold (uv cache warm) >= 2x faster than python -m "
        "build, warm within 1.3x of the floor. Reproduce: `python ci/bench.py build --runs 5`."
    )
    return tables

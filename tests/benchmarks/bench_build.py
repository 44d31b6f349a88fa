"""``wheelship build`` vs ``python -m build`` vs ``python -m build --no-isolation`` (the floor).

All three build the same thing from the same tagged checkout of the bundled example project
(``tsff``, setuptools + setuptools-scm): an sdist, then the wheel from the sdist. Runs are
interleaved (one of each per round) so background load hits all of them alike; one untimed
warm-up round first fills pip's and uv's caches and wheelship's build-environment cache.

- ``python -m build``: isolated, a fresh virtual environment per distribution, installed by pip
  (build's default) — what most pipelines run.
- ``python -m build --no-isolation``: the backend already installed in the interpreter that runs
  it; no environment at all. Nothing that builds sdist and wheel through PEP 517 hooks can be
  much faster, hence "the floor".
- ``wheelship build`` (warm): the build environment for these requirements exists in the cache
  (the normal case on a developer machine, or in CI with ``WHEELSHIP_CACHE_DIR`` cached);
  includes deriving the version, normalising both archives, the twine-check equivalent, the
  manifest and the dotenv.
- ``wheelship build`` (cold): a new, empty wheelship cache every run (uv's package cache warm),
  i.e. the environment is created with uv each time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchlib import Table, summary, timed

from wheelship.building.environments import find_uv
from wheelship.demo import example_project

TITLE = "Build: wheelship build vs python -m build (sdist + wheel from sdist, tsff example)"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "WHEELSHIP_"))}
    env.pop("GITLAB_CI", None)
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")


def run(runs: int) -> list[Table]:
    with tempfile.TemporaryDirectory(prefix="wheelship-bench-") as tmp:
        root = Path(tmp)
        project = example_project(root / "tsff")
        env = _env()
        uv = find_uv()
        if uv is None:
            raise RuntimeError("the build benchmark needs uv (pip install 'build[uv]')")
        floor = root / "floor"
        _run([uv, "venv", "-q", "--python", sys.executable, str(floor)], root, env)
        _run(
            [
                uv,
                "pip",
                "install",
                "-q",
                "--python",
                str(floor / "bin" / "python"),
                "build",
                "setuptools>=77",
                "setuptools-scm>=8",
            ],
            root,
            env,
        )
        warm_cache = root / "cache-warm"
        counter = iter(range(1_000_000))

        def out() -> str:
            path = root / f"out{next(counter)}"
            return str(path)

        def wheelship_build(cache: Path) -> None:
            _run(
                [
                    sys.executable,
                    "-m",
                    "wheelship",
                    "build",
                    "--project",
                    str(project),
                    "--outdir",
                    out(),
                    "--dotenv",
                    str(root / "build.env"),
                ],
                project,
                {**env, "WHEELSHIP_CACHE_DIR": str(cache)},
            )

        def wheelship_warm() -> None:
            wheelship_build(warm_cache)

        def wheelship_cold() -> None:
            cold = Path(tempfile.mkdtemp(dir=root, prefix="cache-cold-"))
            try:
                wheelship_build(cold)
            finally:
                shutil.rmtree(cold, ignore_errors=True)

        def plain() -> None:
            _run([sys.executable, "-m", "build", "--outdir", out(), "."], project, env)

        def no_isolation() -> None:
            _run(
                [
                    str(floor / "bin" / "python"),
                    "-m",
                    "build",
                    "--no-isolation",
                    "--outdir",
                    out(),
                    ".",
                ],
                project,
                env,
            )

        contenders: list[tuple[str, Callable[[], None]]] = [
            ("`python -m build`", plain),
            ("`python -m build --no-isolation` (floor)", no_isolation),
            ("`wheelship build` (warm cache)", wheelship_warm),
            ("`wheelship build` (cold cache)", wheelship_cold),
        ]
        for _, fn in contenders:  # warm-up: caches, and proof each one works
            fn()
        samples: dict[str, list[float]] = {name: [] for name, _ in contenders}
        for _ in range(runs):
            for name, fn in contenders:
                samples[name] += timed(fn, 1)
        wheels = {p.name for p in root.glob("out*/*.whl")}
        assert wheels == {"tsff-1.0.0-py3-none-any.whl"}, wheels

    plain_min, plain_med = summary(samples[contenders[0][0]])
    floor_min, floor_med = summary(samples[contenders[1][0]])
    table = Table(
        f"sdist + wheel of tsff 1.0.0, {runs} interleaved runs each (seconds)",
        [
            "command",
            "min",
            "median",
            "speed-up vs python -m build (min / median)",
            "vs floor (min / median)",
        ],
    )
    for name, _ in contenders:
        lo, med = summary(samples[name])
        table.add(
            name,
            f"{lo:.2f}",
            f"{med:.2f}",
            f"{plain_min / lo:.2f}x / {plain_med / med:.2f}x",
            f"{lo / floor_min:.2f}x / {med / floor_med:.2f}x",
        )
    table.notes.append(
        "Targets: wheelship build (warm) >= 3x faster than python -m build, and within 1.3x of "
        "the floor. Reproduce: `python ci/bench.py build --runs 5`."
    )
    return [table]

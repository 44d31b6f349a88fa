"""What the publish duplicate guard costs, against a real pypiserver on loopback.

Each measurement runs the command line as a CI job would (a fresh interpreter): plain
``twine upload`` versus ``wheelship publish`` (simple-API look-up + sha256 comparison + twine),
for a first upload (the index is emptied between runs) and for a rerun of the same job (the
files are there: twine fails with 400, wheelship skips them and exits 0).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import Table, summary

from support.dists import build_dists
from support.pypiserver import PypiServer, run_pypiserver

TITLE = "Publish: duplicate guard overhead (pypiserver on loopback, sdist + wheel)"


def _env(server: PypiServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWINE_", "CI", "GITLAB_"))}
    env.update(TWINE_USERNAME=server.username, TWINE_PASSWORD=server.password)
    return env


def _twine(dist: Path, server: PypiServer) -> list[str]:
    files = sorted(str(p) for p in dist.iterdir() if p.suffix in (".whl", ".gz"))
    return [
        sys.executable,
        "-m",
        "twine",
        "upload",
        "--non-interactive",
        "--disable-progress-bar",
        "--repository-url",
        server.url,
        *files,
    ]


def _wheelship(dist: Path, server: PypiServer) -> list[str]:
    return [
        sys.executable,
        "-m",
        "wheelship",
        "publish",
        "--dist",
        str(dist),
        "--repository-url",
        server.url,
    ]


def _time(cmd: list[str], env: dict[str, str], expect: int) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != expect:
        raise RuntimeError(f"{cmd[2]} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return elapsed


def _empty(server: PypiServer) -> None:
    for p in server.packages.iterdir():
        p.unlink()


def run(runs: int) -> list[Table]:
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        root = Path(tmp)
        dist = build_dists(root / "build", "3.1.4")
        with run_pypiserver(root / "index") as server:
            env = _env(server)
            samples: dict[str, list[float]] = {
                "first upload: twine upload": [],
                "first upload: wheelship publish": [],
                "rerun: twine upload (fails: 400 exists)": [],
                "rerun: wheelship publish (skips, exit 0)": [],
            }
            # Interleaved so drift on the shared machine hits both sides alike.
            for _ in range(runs):
                _empty(server)
                samples["first upload: twine upload"].append(_time(_twine(dist, server), env, 0))
                samples["rerun: twine upload (fails: 400 exists)"].append(
                    _time(_twine(dist, server), env, 1)
                )
                _empty(server)
                samples["first upload: wheelship publish"].append(
                    _time(_wheelship(dist, server), env, 0)
                )
                samples["rerun: wheelship publish (skips, exit 0)"].append(
                    _time(_wheelship(dist, server), env, 0)
                )
    table = Table(
        f"publish 2 files, {runs} runs each (wall clock, fresh interpreter per run)",
        ["case", "min (s)", "median (s)", "vs twine, same case (median)"],
    )
    base = {
        "first upload": summary(samples["first upload: twine upload"])[1],
        "rerun": summary(samples["rerun: twine upload (fails: 400 exists)"])[1],
    }
    for name, values in samples.items():
        lo, med = summary(values)
        ratio = med / base[name.split(":")[0]]
        table.add(name, f"{lo:.3f}", f"{med:.3f}", f"{ratio:.2f}x")
    table.notes.append(
        "The guard's cost is the look-up (one GET of /simple/<project>/) plus wheelship's start-up;"
        " a rerun sends no upload at all."
    )
    return [table]

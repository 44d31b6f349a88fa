"""How long a template job takes to install wheelship, cold and with the GitLab cache restored.

Each run starts from a fresh virtualenv (a fresh job container) and installs a wheel of this
working tree with its dependencies from the package index, exactly as the templates'
``before_script`` does (``pip install uv`` then ``uv pip install``), against pip alone. "warm"
keeps the cache directories between runs, as the templates' ``cache:`` (.cache/pip, .cache/uv)
does between jobs; "cold" empties them each time. Needs the package index (PyPI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import Table, summary

from support.dists import wheelship_wheel

TITLE = "Template jobs: installing wheelship (fresh environment per run)"


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV"))}
    env.update(
        PIP_CACHE_DIR=str(cache / "pip"),
        UV_CACHE_DIR=str(cache / "uv"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_CONFIG_FILE=os.devnull,
    )
    return env


def _install(kind: str, wheel: Path, cache: Path, work: Path) -> float:
    venv = work / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    if kind == "uv":
        script = f'{py} -m pip install --quiet uv && {py} -m uv pip install --python {py} --quiet "{wheel}"'
    else:
        script = f'{py} -m pip install --quiet "{wheel}"'
    import time

    start = time.perf_counter()
    subprocess.run(["bash", "-c", script], check=True, env=_env(cache))
    return time.perf_counter() - start


def run(runs: int) -> list[Table]:
    table = Table(
        "wheelship install in a job (seconds; venv creation not counted)",
        ["installer", "cache", "min", "median", "vs template warm"],
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wheel = wheelship_wheel(work / "wheels")
        results: dict[tuple[str, str], list[float]] = {}
        for kind in ("uv", "pip"):
            warm_cache = work / f"warm-{kind}"
            _install(kind, wheel, warm_cache, work)  # fill the cache once
            for _ in range(runs):
                cold = work / f"cold-{kind}"
                shutil.rmtree(cold, ignore_errors=True)
                results.setdefault((kind, "cold"), []).append(_install(kind, wheel, cold, work))
                results.setdefault((kind, "warm"), []).append(
                    _install(kind, wheel, warm_cache, work)
                )
        base = summary(results[("uv", "warm")])[1]
        for (kind, cache), samples in results.items():
            lo, med = summary(samples)
            label = "pip install uv + uv pip install (template)" if kind == "uv" else "pip install"
            table.add(label, cache, f"{lo:.2f}", f"{med:.2f}", f"{med / base:.1f}x")
    table.notes.append(f"{runs} runs each, on this machine; target: warm template install < 5 s.")
    return [table]

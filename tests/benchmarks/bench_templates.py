"""How long a template job takes to install wheelship, cold and with the GitLab cache restored.

Each run starts from a fresh virtualenv standing for the job's image (``python:3.12``: a Python
with pip, no uv) and runs the templates' own ``before_script`` (read from templates/deploy.yml,
so this measures what the templates do) in a checkout whose ``.cache/`` is the GitLab cache,
installing a wheel of this working tree with its dependencies from the package index; against
plain ``pip install``. "warm" keeps ``.cache/`` between runs, as the templates' ``cache:``
(.cache/pip, .cache/uv, .cache/wheelship) does between jobs; "cold" empties it each time.
Needs the package index (PyPI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Literal

from benchlib import Table, summary

from support.dists import wheelship_wheel

TITLE = "Template jobs: installing wheelship (fresh environment per run)"

#: "template": the templates' before_script; "pip": plain pip install.
Installer = Literal["template", "pip"]
CI_DIR = str(Path(__file__).resolve().parents[2] / "ci")


def before_script() -> str:
    """The install step every template job runs (the tests keep them identical)."""
    if CI_DIR not in sys.path:
        sys.path.insert(0, CI_DIR)
    import templates

    (job,) = templates.load(templates.TEMPLATES / "deploy.yml").body.values()
    (line,) = job["before_script"]
    return str(line)


def job_env(venv: Path, wheel: Path) -> dict[str, str]:
    """The job's environment: the image's ``python`` first on PATH and no uv anywhere on it (the
    default image has none), the template's cache variables (relative: the checkout is the
    working directory) and none of this machine's pip or uv settings."""
    path = [str(venv / "bin")] + [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not os.access(os.path.join(d, "uv"), os.X_OK)
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        # PYTHONDONTWRITEBYTECODE: set on some machines, never in the python images
        if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"))
    }
    env.update(
        PATH=os.pathsep.join(path),
        PIP_CACHE_DIR=".cache/pip",
        UV_CACHE_DIR=".cache/uv",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_ROOT_USER_ACTION="ignore",
        PIP_CONFIG_FILE=os.devnull,
        WHEELSHIP_INSTALL=str(wheel),
        WHEELSHIP_INSTALL_ARGS="",
    )
    if "PIP_CERT" in os.environ:  # this machine's TLS setup, not a package setting
        env["PIP_CERT"] = os.environ["PIP_CERT"]
    return env


def fresh_image(venv: Path) -> None:
    """A new Python environment with pip only, as a new job container has."""
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)


def install(kind: Installer, venv: Path, checkout: Path, wheel: Path) -> float:
    """Seconds for the job's install step in ``checkout`` (its ``.cache/`` as left)."""
    checkout.mkdir(parents=True, exist_ok=True)
    if kind == "template":
        script = before_script()
    else:
        script = 'python -m pip install --quiet "$WHEELSHIP_INSTALL"'
    start = time.perf_counter()
    subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        check=True,
        cwd=checkout,
        env=job_env(venv, wheel),
    )
    return time.perf_counter() - start


def run(runs: int) -> list[Table]:
    table = Table(
        "wheelship install in a job (seconds; the environment's creation not counted)",
        ["installer", "cache", "min", "median", "vs template warm"],
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wheel = wheelship_wheel(work / "wheels")
        venv = work / "venv"
        results: dict[tuple[str, str], list[float]] = {}
        kinds: tuple[Installer, ...] = ("template", "pip")
        for kind in kinds:
            warm = work / f"warm-{kind}"
            fresh_image(venv)
            install(kind, venv, warm, wheel)  # fill the cache once
            for _ in range(runs):
                cold = work / f"cold-{kind}"
                shutil.rmtree(cold, ignore_errors=True)
                fresh_image(venv)
                results.setdefault((kind, "cold"), []).append(install(kind, venv, cold, wheel))
                fresh_image(venv)
                results.setdefault((kind, "warm"), []).append(install(kind, venv, warm, wheel))
        base = summary(results[("template", "warm")])[1]
        for (kind, cache), samples in results.items():
            lo, med = summary(samples)
            label = "the templates' before_script (uv)" if kind == "template" else "pip install"
            table.add(label, cache, f"{lo:.2f}", f"{med:.2f}", f"{med / base:.1f}x")
    table.notes.append(
        f"{runs} runs each, on this machine. Warm, the templates' step runs the uv binary cached "
        "in .cache/wheelship/bin (no pip); cold, pip installs uv first and copies it there."
    )
    return [table]

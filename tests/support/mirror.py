"""The team's private package index, as a mirror serves it: a real pypiserver on loopback with
wheelship — a wheel of this working tree, versioned as the release the templates pin, so the
templates' default ``wheelship`` input installs it — and every dependency of it, the build
backends and the test tools the consumer projects ask for. Nothing is pre-installed anywhere:
jobs install all of it from this index, as they would from a team's mirror of PyPI.

The files come from ``pip download`` with the machine's ordinary pip settings (its caches and
configured indexes, else PyPI) once per session; the pipelines themselves only ever reach the
loopback index.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.dists import wheelship_wheel

#: What the consumer projects' jobs install besides wheelship (and its dependencies): uv (the
#: templates install wheelship with it), each backend the projects build with, pytest and
#: pytest-cov (wheelship test adds it).
REQUIREMENTS = (
    "uv",
    "setuptools>=77",
    "setuptools-scm>=8",
    "hatchling",
    "hatch-vcs",
    "flit_core>=3.4,<4",
    "poetry-core>=2.0",
    "pytest>=8",
    "pytest-cov",
)


#: The index users of the teams whose projects publish to the mirror (user -> password).
TEAM_USERS = {
    "supply-ci": "supply-index-token-5f0a",
    "plant-ci": "plant-index-token-91c2",
    "finance-ci": "finance-index-token-7d44",
}


def template_pin() -> str:
    """The wheelship release every template installs by default (``wheelship==X.Y.Z``)."""
    import templates

    (pin,) = set(templates.pins().values())
    return pin


def pinned_wheelship_wheel(folder: Path) -> Path:
    """A wheel of this working tree with the version the templates pin."""
    return wheelship_wheel(folder, template_pin())


def fill_mirror(packages: Path, wheelship: Path) -> list[str]:
    """Download wheelship's dependencies and :data:`REQUIREMENTS` (wheels only) into
    ``packages``, next to ``wheelship``; return the file names."""
    packages.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            "--dest",
            str(packages),
            str(wheelship),
            *REQUIREMENTS,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pip download for the mirror failed:\n{proc.stderr[-3000:]}")
    return sorted(p.name for p in packages.iterdir())

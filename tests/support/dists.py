"""Real sdists and wheels of the ``tests/fixtures/release-pkg`` project, with a manifest.

Until the project's own build command is used here, ``python -m build`` builds them; the
version and a marker string in the module are rewritten first, so tests get "the same version
with other bytes" on demand.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from wheelship.building.manifest import DistFile, Manifest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "release-pkg"
NAME = "Ship.Fixture"


def build_dists(workdir: Path, version: str, marker: str = "original") -> Path:
    """Build sdist + wheel of ``version`` into ``workdir/dist`` and write the manifest there."""
    src = workdir / "src-tree"
    shutil.copytree(FIXTURE, src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    pyproject = src / "pyproject.toml"
    pyproject.write_text(
        re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', pyproject.read_text())
    )
    module = src / "src" / "shipfixture" / "__init__.py"
    module.write_text(module.read_text().replace('"original"', repr(marker)))
    dist = workdir / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--installer", "uv", "--outdir", str(dist), str(src)],
        check=True,
        capture_output=True,
    )
    files = tuple(DistFile.of(p) for p in sorted(dist.iterdir()))
    Manifest(name=NAME, version=version, commit=None, tag=None, files=files).write(dist)
    return dist


def wheelship_wheel(folder: Path, version: str | None = None) -> Path:
    """A wheel of this working tree's wheelship, built into ``folder`` with the build backend
    already installed here: no isolation, no dependencies, no package index; ``version``
    instead of the one git gives, when named."""
    pretend = {"SETUPTOOLS_SCM_PRETEND_VERSION_FOR_WHEELSHIP": version} if version else {}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(folder),
            str(ROOT),
        ],
        check=True,
        env={**os.environ, "PIP_NO_INDEX": "1", **pretend},
    )
    (wheel,) = folder.glob(f"wheelship-{version or '*'}-*.whl")
    return wheel

"""What a job's image gives it, for gitlab-ci-local's shell executor: a bare Python with pip,
fresh for every job — as ``python:3.12`` is a fresh container in GitLab.

gitlab-ci-local runs every job in host bash with one PATH, so a shared virtualenv would carry one
job's installs into the next (and two parallel jobs would install into it at once). Instead
``python`` and ``wheelship`` on PATH are two-line shims that give each job (by ``CI_JOB_ID``) its
own copy of a clean virtualenv, made once per session, outside the checkout. The copy holds
nothing but pip: the job's ``before_script`` installs uv, wheelship and its dependencies, as
the template says, from the index the consumer configured.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_SHIM = """#!/usr/bin/env bash
# The job image's {name}: this job's own copy of the clean virtualenv (support/job_image.py).
set -euo pipefail
venv="$JOB_IMAGE_VENVS/${{CI_PIPELINE_ID:-0}}-${{CI_JOB_ID:?}}"
if [ ! -x "$venv/bin/python" ]; then
  tmp="$venv.$$" && cp -a "$JOB_IMAGE_BASE" "$tmp" && mv "$tmp" "$venv"
fi
exec "$venv/bin/{name}" "$@"
"""


@dataclass(frozen=True)
class JobImage:
    base: Path  # the clean virtualenv (pip only)
    venvs: Path  # where each job's copy goes
    bin: Path  # the shims

    def env(self, home: Path) -> dict[str, str]:
        """The environment gitlab-ci-local (and so every job) runs with: the shims first, a
        HOME of the test's, and none of this machine's pip settings (its extra indexes and
        find-links would let a job install what the consumer's index does not serve)."""
        return {
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(home),
            "JOB_IMAGE_BASE": str(self.base),
            "JOB_IMAGE_VENVS": str(self.venvs),
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_FIND_LINKS": "",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
            "GIT_TERMINAL_PROMPT": "0",
        }


def make_job_image(folder: Path) -> JobImage:
    base, venvs, shims = folder / "base", folder / "jobs", folder / "bin"
    # A venv's python is a symlink to the interpreter, so a copy of the venv is a venv.
    subprocess.run([sys.executable, "-m", "venv", str(base)], check=True)
    venvs.mkdir()
    shims.mkdir()
    for name in ("python", "wheelship"):
        shim = shims / name
        shim.write_text(_SHIM.format(name=name))
        shim.chmod(0o755)
    return JobImage(base, venvs, shims)

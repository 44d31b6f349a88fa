"""End-to-end pipeline runs: the templates, as a consumer includes them, run by gitlab-ci-local.

The "runner" is a virtualenv whose ``python`` every job uses (``--force-shell-executor`` ignores
``image:``). Like a job image with the dependencies baked in, it sees the test environment's
packages (a ``.pth`` line), and jobs install wheelship itself from a wheel of this working tree
(the ``wheelship`` input) with ``install-args: --no-deps`` — so no job reaches a package index
(``PIP_NO_INDEX``, ``UV_OFFLINE``) and every run tests this tree's code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from support.dists import wheelship_wheel
from support.gitlab_ci_local import Runner, available


@pytest.fixture(scope="session")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    reason = available()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("runner")
    wheel = wheelship_wheel(base / "wheels")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "zz-test-environment.pth").write_text(sysconfig.get_path("purelib") + "\n")
    home = base / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tname = CI Runner\n\temail = ci@example.com\n[init]\n\tdefaultBranch = main\n"
    )
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "VIRTUAL_ENV": str(venv),
        "PIP_NO_INDEX": "1",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_FIND_LINKS": "",
        "UV_OFFLINE": "1",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_TERMINAL_PROMPT": "0",
    }
    return Runner(venv, wheel, env)

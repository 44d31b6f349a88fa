"""End-to-end pipeline runs: the templates, as a consumer includes them, run by gitlab-ci-local.

Two ways to give the jobs wheelship:

* the default path, no test knob (``mirror`` and ``job_image``): each job starts from a bare
  Python and installs wheelship, with every dependency, from the team's package index — a real
  pypiserver filled like a private mirror (support/mirror.py); builds use the templates' cached
  isolation and cache paths. tests/e2e/test_first_pipelines.py (every template, through
  ``full-pipeline``), test_library_projects.py and test_fleet_pipeline.py run this way;
* the "runner" (``runner``), for the scenario tests of the bundled example ``tsff``: a virtualenv
  whose ``python`` every job uses (``--force-shell-executor`` ignores ``image:``) and that sees
  the test environment's packages (a ``.pth`` line). Its TEST KNOBS, named as such where used:
  ``Runner.test_knob_install_inputs`` (wheelship from a wheel of this tree with ``--no-deps``; no
  job reaches an index: ``PIP_NO_INDEX``, ``UV_OFFLINE``) and ``TEST_KNOB_NO_ISOLATION``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.dists import wheelship_wheel
from support.gitlab_ci_local import Runner, available
from support.job_image import JobImage, make_job_image
from support.mirror import TEAM_USERS, fill_mirror, pinned_wheelship_wheel
from support.pypiserver import PypiServer, run_pypiserver


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


@pytest.fixture(scope="session")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PypiServer]:
    """The teams' private index (support/mirror.py): wheelship as the templates pin it, its
    dependencies, the backends and test tools — and where the teams publish to (one user each)."""
    reason = available()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("mirror")
    wheel = pinned_wheelship_wheel(base / "wheelship")
    with run_pypiserver(base / "index", more_users=TEAM_USERS) as index:
        fill_mirror(index.packages, wheel)
        yield index


@pytest.fixture(scope="session")
def job_image(tmp_path_factory: pytest.TempPathFactory) -> JobImage:
    return make_job_image(tmp_path_factory.mktemp("image"))

from __future__ import annotations

from pathlib import Path

import pytest

from wheelship.building import environments as buildenv
from wheelship.building.environments import BuildEnv, env_key, requires_memo_key


def test_env_key_ignores_order_and_spelling() -> None:
    a = env_key(["setuptools>=77", "setuptools-scm>=8"], "uv")
    assert a == env_key(["setuptools-scm >= 8", "setuptools >=77"], "uv")
    assert a != env_key(["setuptools>=78", "setuptools-scm>=8"], "uv")
    assert a != env_key(["setuptools>=77", "setuptools-scm>=8"], "pip")


def test_missing_reads_installed_metadata(tmp_path: Path) -> None:
    env = BuildEnv(tmp_path, "pip")
    info = env.site_packages / "flit_core-3.12.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: flit_core\nVersion: 3.12.0\n")
    assert env.missing(["flit-core>=3.11,<5"]) == []
    assert env.missing(["flit_core>=4"]) == ["flit_core>=4"]
    assert env.missing(["hatchling"]) == ["hatchling"]
    assert env.missing(['tomli; python_version < "3"']) == []


def test_requires_memo_key_follows_the_config_files(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    key = requires_memo_key(tmp_path, "sdist")
    assert key is not None
    assert key != requires_memo_key(tmp_path, "wheel")
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    assert requires_memo_key(tmp_path, "sdist") not in (None, key)
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["scikit-build-core"]\nbuild-backend = "scikit_build_core.build"\n'
    )
    assert requires_memo_key(tmp_path, "sdist") is None  # asks for cmake only when missing


def test_remembered_requires_round_trip(tmp_path: Path) -> None:
    env = BuildEnv(tmp_path, "uv")
    assert env.remembered_requires("k") is None
    env.remember_requires("k", ["wheel", "cython"])
    env.remember_requires("j", [])
    assert env.remembered_requires("k") == ["cython", "wheel"]
    assert env.remembered_requires("j") == []


def test_pip_when_uv_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(buildenv, "find_uv", lambda: None)
    assert buildenv.EnvCache(Path("/nonexistent")).installer == "pip"
    monkeypatch.setattr(buildenv, "find_uv", lambda: "/usr/bin/uv")
    assert buildenv.EnvCache(Path("/nonexistent")).installer == "uv"


def test_uv_gets_pips_index_and_find_links(monkeypatch: pytest.MonkeyPatch) -> None:
    from wheelship.building.environments import _installer_env

    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", "/opt/wheels  https://files.example/links")
    monkeypatch.delenv("UV_INDEX_URL", raising=False)
    monkeypatch.delenv("UV_FIND_LINKS", raising=False)
    env = _installer_env()
    assert env["UV_INDEX_URL"] == "https://mirror.example/simple"
    assert env["UV_FIND_LINKS"] == "/opt/wheels,https://files.example/links"
    monkeypatch.setenv("UV_FIND_LINKS", "/mine")
    assert _installer_env()["UV_FIND_LINKS"] == "/mine"  # uv's own setting wins


@pytest.mark.parametrize(
    ("output", "fix"),
    [
        (
            "WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError("
            "'Failed to establish a new connection: [Errno 111] Connection refused')'\n"
            "ERROR: Could not find a version that satisfies the requirement setuptools>=77 "
            "(from versions: none)\n",
            "retryable: the package index could not be reached",
        ),
        (
            "error: Failed to fetch: `https://pypi.example.com/simple/setuptools/`\n"
            "  Caused by: dns error: failed to lookup address information\n",
            "retryable: the package index could not be reached",
        ),
        (
            "ERROR: Could not find a version that satisfies the requirement setuptoolz>=77 "
            "(from versions: 1.0)\nERROR: No matching distribution found for setuptoolz>=77\n",
            "not retryable: fix the requirements in [build-system]",
        ),
        (
            "  x No solution found when resolving dependencies:\n"
            "  `-> Because setuptoolz was not found in the package registry and you require "
            "setuptoolz, we can conclude that your requirements are unsatisfiable.\n",
            "not retryable: fix the requirements in [build-system]",
        ),
    ],
)
def test_installer_failures_say_whether_a_rerun_helps(output: str, fix: str) -> None:
    from wheelship.building.environments import install_failure

    error = install_failure(["setuptools>=77"], output, 1)
    assert (error.fix or "").startswith(fix)
    last = output.strip().splitlines()[-1].strip()
    assert error.what.endswith(f"({last})")

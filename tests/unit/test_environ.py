"""S2: the environment of a child process carries no credential; S4/S5: the emulator's state and
its serving address."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.gitrepo import GitRepo
from wheelship import environ, git, log
from wheelship.emulator import persistence
from wheelship.emulator.blobs import BlobStore
from wheelship.emulator.clock import SimClock
from wheelship.emulator.serve import check_host, read_token
from wheelship.emulator.state import Workspace
from wheelship.errors import ConfigurationError

BASE = {
    "PATH": "/usr/bin",
    "HOME": "/home/ci",
    "DATABRICKS_TOKEN": "dapi-1",
    "DATABRICKS_CLIENT_SECRET": "s-2",
    "DATABRICKS_OIDC_TOKEN": "eyJ-3",
    "DATABRICKS_OIDC_TOKEN_ENV": "MY_ID_TOKEN",  # a name, not a secret
    "CI_JOB_TOKEN": "glcbt-4",
    "CI_JOB_JWT_V2": "eyJ-5",
    "TWINE_PASSWORD": "pypi-6",
    "GITLAB_ID_TOKEN": "eyJ-7",  # named by the project in id_tokens:
    "MY_API_KEY": "k-8",
    "AWS_SECRET_ACCESS_KEY": "aws-9",
    "DB_PASSWORD": "pw-10",
    "INNOCENT": "registered-value-11",
    "PIP_INDEX_URL": "https://pypi.example.com/simple",
    "UV_INDEX_CORP_PASSWORD": "uv-12",
    "NO_PROXY": "internal.example.com",
}


def test_child_env_drops_named_token_like_and_registered_secrets() -> None:
    log.register_secret("registered-value-11")
    try:
        child = environ.child_env(BASE)
    finally:
        log._secrets.discard("registered-value-11")
    assert set(child) == {
        "PATH",
        "HOME",
        "DATABRICKS_OIDC_TOKEN_ENV",
        "PIP_INDEX_URL",
        "NO_PROXY",
        "no_proxy",
    }
    assert child["NO_PROXY"] == "internal.example.com,localhost,127.0.0.1,::1"


def test_a_secret_inside_another_variable_goes_with_it() -> None:
    """A private index's URL usually carries the job token (GitLab documents
    ``https://gitlab-ci-token:${CI_JOB_TOKEN}@.../simple``): the variable holding it is as secret
    as the token, and so is any URL with a password in it, whatever the variable is called."""
    base = {
        **BASE,
        "PIP_INDEX_URL": "https://gitlab-ci-token:glcbt-job-token-4@gitlab.example.com/simple",
        "UV_EXTRA_INDEX_URL": "https://mirror:hunter2@mirror.example.com/simple",
        "MIRROR": "https://pypi.example.com/simple",  # no credential in it
        "LOG_HINT": "the token is pypi-index-password-6",  # a secret's value inside
        "TWINE_PASSWORD": "pypi-index-password-6",
        "CI_JOB_TOKEN": "glcbt-job-token-4",
        "SHORT": "pypi",  # shorter than a secret worth matching inside others
    }
    child = environ.child_env(base)
    for name in ("PIP_INDEX_URL", "UV_EXTRA_INDEX_URL", "LOG_HINT"):
        assert name not in child
    assert child["MIRROR"] == "https://pypi.example.com/simple"
    assert child["SHORT"] == "pypi"
    # an installer keeps its own index settings, credentials included
    installer = environ.installer_env(base)
    assert installer["PIP_INDEX_URL"] == base["PIP_INDEX_URL"]
    assert installer["UV_EXTRA_INDEX_URL"] == base["UV_EXTRA_INDEX_URL"]
    assert "CI_JOB_TOKEN" not in installer and "LOG_HINT" not in installer


def test_an_installer_keeps_its_own_credentials_only() -> None:
    child = environ.child_env(BASE, keep=["UV_INDEX_CORP_PASSWORD"], also=["HOME"])
    assert child["UV_INDEX_CORP_PASSWORD"] == "uv-12"
    assert "HOME" not in child and "DATABRICKS_TOKEN" not in child


def test_git_and_its_children_see_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git runs hooks, aliases and helpers: an alias that prints its environment stands in
    for them."""
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    repo = GitRepo.init(tmp_path / "r")
    seen = git.run(repo.path, "-c", "alias.envdump=!env", "envdump")
    assert "PATH=" in seen
    for value in ("dapi-1", "s-2", "eyJ-3", "glcbt-4", "pypi-6", "eyJ-7", "k-8", "aws-9"):
        assert value not in seen


def test_the_state_file_is_written_through_a_new_file_never_a_link(tmp_path: Path) -> None:
    """S4: a symlink planted where the temporary file used to be is not followed."""
    state = tmp_path / "state"
    state.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (state / ".state.json.tmp").symlink_to(victim)
    ws = Workspace(clock=SimClock(speed=0, start=0.0), blobs=BlobStore(state / "blobs"))
    persistence.save(ws, state)
    assert victim.read_text() == "keep me"
    assert (state / "state.json").stat().st_mode & 0o777 == 0o600
    assert not [p for p in state.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]


def test_a_tampered_blob_id_reads_and_deletes_nothing_outside_the_store(tmp_path: Path) -> None:
    """S4: blob ids from state.json are validated before the store uses them."""
    store = BlobStore(tmp_path / "blobs")
    outside = tmp_path / "secret.txt"
    outside.write_text("outside")
    for bad in ("../secret.txt", "/etc/passwd", "..", ""):
        with pytest.raises(ValueError, match="invalid blob id"):
            store.open(bad)
        with pytest.raises(ValueError, match="invalid blob id"):
            store.delete(bad)
    assert outside.read_text() == "outside"


def test_a_non_loopback_host_needs_allow_remote_and_warns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """S5."""
    assert check_host("127.0.0.1", allow_remote=False) == "127.0.0.1"
    assert check_host("::1", allow_remote=False) == "::1"
    with pytest.raises(ConfigurationError, match="--allow-remote"):
        check_host("0.0.0.0", allow_remote=False)
    assert check_host("0.0.0.0", allow_remote=True) == "0.0.0.0"
    assert "warning: serving plain HTTP on 0.0.0.0" in capsys.readouterr().err


def test_the_token_comes_from_a_file_and_is_never_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """S5: --token-file (WHEELSHIP_EMULATOR_TOKEN works too); --token on argv is refused."""
    path = tmp_path / "token"
    path.write_text("dapi-from-file-123\n")
    assert read_token(path) == "dapi-from-file-123"
    log.info("the token is dapi-from-file-123")
    assert "dapi-from-file-123" not in capsys.readouterr().err


def test_scrubbed_hides_secrets_from_code_that_reads_os_environ(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """build's isolated environments start pip/uv from os.environ (--isolation fresh)."""
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-scrub-1")
    monkeypatch.setenv("UV_INDEX_CORP_PASSWORD", "uv-scrub-2")
    with environ.scrubbed():
        assert "DATABRICKS_TOKEN" not in os.environ
        assert os.environ["UV_INDEX_CORP_PASSWORD"] == "uv-scrub-2"  # the installer's own
    assert os.environ["DATABRICKS_TOKEN"] == "dapi-scrub-1"

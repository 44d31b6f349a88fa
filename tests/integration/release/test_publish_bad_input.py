"""Bad input to ``wheelship publish`` with a real index on loopback: one error line, exit 2,
and the index's file list unchanged (the unit-tier table cannot look at an index: it has no
sockets)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.pypiserver import PypiServer, run_pypiserver
from support.wheels import make_dist, tamper_dist
from wheelship.cli import main


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PypiServer]:
    """One index for the module, holding one release that must stay as it is."""
    root = tmp_path_factory.mktemp("index")
    with run_pypiserver(root / "server") as server:
        held = make_dist(root / "held", "tsff", "1.0.0")
        env = {"TWINE_USERNAME": server.username, "TWINE_PASSWORD": server.password}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            assert main(["publish", "--dist", str(held), "--repository-url", server.url]) == 0
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        yield server


def _list_manifest(dist: Path) -> None:
    (dist / "wheelship-manifest.json").write_text("[]")


def _changed_wheel(dist: Path) -> None:
    wheel = next(dist.glob("*.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"tampered")


def _missing_wheel(dist: Path) -> None:
    next(dist.glob("*.whl")).unlink()


def _no_manifest(dist: Path) -> None:
    (dist / "wheelship-manifest.json").unlink()


def _other_bytes_same_version(dist: Path) -> None:
    shutil.rmtree(dist)
    make_dist(dist, "tsff", "1.0.0", payload=b"other bytes than the index holds")


def _local_version(dist: Path) -> None:
    shutil.rmtree(dist)
    make_dist(dist, "tsff", "1.0.1+local")


def _broken_json(dist: Path) -> None:
    (dist / "wheelship-manifest.json").write_text("{")


CASES: dict[str, tuple[Callable[[Path], None], tuple[str, ...], int, str]] = {
    "manifest-is-a-list": (_list_manifest, (), 2, "not a valid wheelship manifest"),
    "manifest-broken": (_broken_json, (), 2, "not a valid wheelship manifest"),
    "no-manifest": (_no_manifest, (), 2, "no build manifest"),
    "wheel-changed-since-build": (_changed_wheel, (), 2, "changed since it was built"),
    "wheel-listed-but-missing": (_missing_wheel, (), 2, "listed in the manifest but missing"),
    "same-version-other-bytes": (_other_bytes_same_version, (), 1, "with other bytes"),
    "local-version": (_local_version, (), 2, "local"),
    "wheel-altered-manifest-matches": (
        lambda d: tamper_dist(d, "altered"),
        (),
        2,
        "does not match its RECORD hash",
    ),
    "wheel-corrupt-manifest-matches": (lambda d: tamper_dist(d, "crc"), (), 2, "tsff-1.0.1"),
    "metadata-other-version": (lambda d: tamper_dist(d, "version"), (), 2, "METADATA says"),
    "manifest-name-escapes": (lambda d: tamper_dist(d, "escape"), (), 2, "not a bare file name"),
    "password-var-not-a-name": (lambda d: None, ("--password-var", "pw x"), 2, "--password-var"),
    "simple-url-plain-http-remote": (
        lambda d: None,
        ("--simple-url", "http://pypi.example.com/simple"),
        2,
        "plain http",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_leaves_the_index_as_it_was(
    case: str,
    index: PypiServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith(("CI_", "GITLAB_", "WHEELSHIP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TWINE_USERNAME", index.username)
    monkeypatch.setenv("TWINE_PASSWORD", index.password)
    spoil, extra, exit_code, expect = CASES[case]
    dist = make_dist(tmp_path / "dist", "tsff", "1.0.1")
    spoil(dist)
    before = {name: hash(data) for name, data in index.stored().items()}
    code = main(["publish", "--dist", str(dist), "--repository-url", index.url, *extra])
    _, err = capsys.readouterr()
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err
    assert last.startswith("error: ") and " — " in last and expect in last, err
    assert code == exit_code, err
    assert {name: hash(data) for name, data in index.stored().items()} == before
    assert index.password not in err
    assert list(before) == ["tsff-1.0.0-py3-none-any.whl"]

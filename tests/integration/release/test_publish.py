"""``wheelship publish`` against a real pypiserver with htpasswd auth on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.dists import build_dists
from support.net import refused_port
from support.pypiserver import PypiServer, run_pypiserver
from wheelship.building.manifest import Manifest
from wheelship.cli import main

VERSION = "1.2.3"


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two real builds of the same version with different bytes, built once."""
    root = tmp_path_factory.mktemp("builds")
    return {
        "a": build_dists(root / "a", VERSION, "original"),
        "b": build_dists(root / "b", VERSION, "rebuilt with other bytes"),
    }


@pytest.fixture
def dist_a(builds: dict[str, Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(builds["a"], tmp_path / "dist-a"))


@pytest.fixture
def dist_b(builds: dict[str, Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(builds["b"], tmp_path / "dist-b"))


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("CI", "GITLAB_", "WHEELSHIP_", "TWINE_")):
            monkeypatch.delenv(name)


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PypiServer]:
    with run_pypiserver(tmp_path / "index") as server:
        monkeypatch.setenv("TWINE_USERNAME", server.username)
        monkeypatch.setenv("TWINE_PASSWORD", server.password)
        yield server


def publish(
    capsys: pytest.CaptureFixture[str], dist: Path, url: str, *extra: str
) -> tuple[int, str, str]:
    code = main(["publish", "--dist", str(dist), "--repository-url", url, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def names(dist: Path) -> list[str]:
    return [f.name for f in Manifest.load(dist).files]


def test_publish_republish_and_install(
    index: PypiServer, dist_a: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    whl, sdist = sorted(names(dist_a), key=lambda n: not n.endswith(".whl"))
    code, out, err = publish(capsys, dist_a, index.url)
    assert code == 0, err
    assert out == f"uploaded {sdist}\nuploaded {whl}\n" or out == (
        f"uploaded {whl}\nuploaded {sdist}\n"
    )
    assert index.stored() == {n: (dist_a / n).read_bytes() for n in names(dist_a)}
    assert index.password not in out + err

    # A rerun of the job: everything is there with the same bytes, nothing is sent.
    code, out, err = publish(capsys, dist_a, index.url)
    assert code == 0, err
    assert sorted(out.splitlines()) == sorted(
        f"skipped {n} (already in the index with the same sha256)" for n in names(dist_a)
    )
    assert err == f"Ship.Fixture {VERSION}: every file is in the index already\n"

    # And pip installs exactly the published version from the index (hermetic pip).
    target = tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_FIND_LINKS="", PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--isolated",
            "--no-deps",
            "--quiet",
            "--target",
            str(target),
            "--index-url",
            f"{index.simple_url}/",
            f"ship-fixture=={VERSION}",
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    assert (target / "shipfixture" / "__init__.py").read_text().endswith("MARKER = 'original'\n")
    assert (target / f"ship_fixture-{VERSION}.dist-info").is_dir()


def test_other_bytes_under_a_published_version_are_refused(
    index: PypiServer, dist_a: Path, dist_b: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert publish(capsys, dist_a, index.url)[0] == 0
    before = index.stored()
    code, out, err = publish(capsys, dist_b, index.url)
    assert (code, out) == (1, "")
    listed = ", ".join(
        f"{f.name} (index sha256 {next(g.sha256 for g in Manifest.load(dist_a).files if g.name == f.name)[:12]}…)"
        for f in Manifest.load(dist_b).files
    )
    assert err == (
        f"error: Ship.Fixture {VERSION} is already in {index.url.rstrip('/')} with other bytes: "
        f"{listed}; nothing was uploaded — a published version never changes: build a new "
        "version (tag the next patch)\n"
    )
    assert index.stored() == before


def test_a_partly_published_version_gets_the_missing_file_only(
    index: PypiServer, dist_a: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whl = next(n for n in names(dist_a) if n.endswith(".whl"))
    sdist = next(n for n in names(dist_a) if n.endswith(".tar.gz"))
    shutil.copy(dist_a / whl, index.packages / whl)  # an earlier, interrupted run
    code, out, err = publish(capsys, dist_a, index.url)
    assert code == 0, err
    assert out == (f"skipped {whl} (already in the index with the same sha256)\nuploaded {sdist}\n")
    assert index.stored() == {n: (dist_a / n).read_bytes() for n in names(dist_a)}


def test_files_of_the_version_that_this_build_did_not_produce_are_refused(
    index: PypiServer, dist_a: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whl = next(n for n in names(dist_a) if n.endswith(".whl"))
    foreign = whl.replace("py3-none-any", "cp311-cp311-linux_x86_64")
    shutil.copy(dist_a / whl, index.packages / foreign)
    code, _, err = publish(capsys, dist_a, index.url)
    assert code == 1
    assert err == (
        f"error: Ship.Fixture {VERSION} is already in {index.url.rstrip('/')} with files this "
        f"build did not produce: {foreign}; nothing was uploaded — a published version never "
        "changes: build a new version (tag the next patch)\n"
    )
    assert sorted(index.stored()) == [foreign]


def test_wrong_password_fails_the_upload_with_one_line(
    index: PypiServer,
    dist_a: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWINE_PASSWORD", "not-the-password")
    code, out, err = publish(capsys, dist_a, index.url)
    assert (code, out) == (1, "")
    assert err == (
        f"error: twine upload failed: HTTPError: 403 Forbidden from {index.url} Forbidden — "
        "check the credentials (user from $TWINE_USERNAME, password from $TWINE_PASSWORD) and "
        "that this user may upload to the index\n"
    )
    assert "not-the-password" not in err
    assert index.stored() == {}


def test_wrong_password_on_an_index_that_guards_reads_stops_at_the_lookup(
    tmp_path: Path,
    dist_a: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with run_pypiserver(tmp_path / "private", authenticate="update,download,list") as server:
        monkeypatch.setenv("DEPLOY_USER", server.username)
        monkeypatch.setenv("DEPLOY_TOKEN", "wrong-token-value")
        args = ("--username-var", "DEPLOY_USER", "--password-var", "DEPLOY_TOKEN")
        code, out, err = publish(capsys, dist_a, server.url, *args)
        assert (code, out) == (1, "")
        assert err == (
            "error: the package index refused the credentials (user from $DEPLOY_USER, password "
            "from $DEPLOY_TOKEN) while reading project ship-fixture (HTTP 403) — check the user "
            "name and the token in the variables named by --username-var/--password-var\n"
        )
        assert server.stored() == {}
        # With the right token the same private index works end to end.
        monkeypatch.setenv("DEPLOY_TOKEN", server.password)
        code, out, err = publish(capsys, dist_a, server.url, *args)
        assert code == 0, err
        assert sorted(server.stored()) == sorted(names(dist_a))


def test_unreachable_index_is_one_line(
    dist_a: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWINE_USERNAME", "ci")
    monkeypatch.setenv("TWINE_PASSWORD", "some-password")
    with refused_port() as port:
        url = f"http://127.0.0.1:{port}/"
        code, out, err = publish(capsys, dist_a, url)
    assert (code, out) == (1, "")
    assert err == (
        f"error: cannot reach the package index at {url}simple: connection refused — check "
        "--repository-url / --simple-url and the network; rerunning is safe\n"
    )


def test_missing_password_variable_is_refused_before_any_request(
    index: PypiServer,
    dist_a: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TWINE_PASSWORD")
    code, out, err = publish(capsys, dist_a, index.url)
    assert (code, out) == (2, "")
    assert err == (
        "error: environment variable TWINE_PASSWORD (named by --password-var) is not set — set "
        "it to the index token or password (a masked CI/CD variable)\n"
    )
    assert index.stored() == {}


def test_dry_run_shows_what_would_be_uploaded_where(
    index: PypiServer, dist_a: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = publish(capsys, dist_a, index.url, "--dry-run")
    assert code == 0, err
    assert sorted(out.splitlines()) == sorted(
        f"would upload {n} to {index.url.rstrip('/')} (user from $TWINE_USERNAME, password from "
        "$TWINE_PASSWORD)"
        for n in names(dist_a)
    )
    assert index.stored() == {}


def test_a_file_changed_since_the_build_is_refused(
    index: PypiServer, dist_a: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whl = next(n for n in names(dist_a) if n.endswith(".whl"))
    with (dist_a / whl).open("ab") as fh:
        fh.write(b"\0")
    code, out, err = publish(capsys, dist_a, index.url)
    assert (code, out) == (2, "")
    assert err == (
        f"error: {dist_a / whl} changed since it was built (sha256 differs from the manifest) — "
        "rebuild with 'wheelship build'\n"
    )
    assert index.stored() == {}


def test_a_local_version_is_refused(
    index: PypiServer, dist_a: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = Manifest.load(dist_a)
    Manifest(m.name, "1.2.4.dev3+g51659add", files=m.files).write(dist_a)
    code, _, err = publish(capsys, dist_a, index.url)
    assert code == 2
    assert err == (
        "error: version 1.2.4.dev3+g51659add has a local part (+g51659add): it names an "
        "unpublished build (a developer machine or a dirty tree) — publish a version built in "
        "CI or from a tag, or pass --local-versions allow\n"
    )
    assert index.stored() == {}


def test_dry_run_without_credentials_reads_the_index_anonymously(
    index: PypiServer,
    dist_a: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert publish(capsys, dist_a, index.url)[0] == 0
    monkeypatch.delenv("TWINE_PASSWORD")
    code, out, err = publish(capsys, dist_a, index.url, "--dry-run")
    assert code == 0
    assert sorted(out.splitlines()) == sorted(
        f"skipped {n} (already in the index with the same sha256)" for n in names(dist_a)
    )
    assert err == (
        "warning: the real run would fail here: environment variable TWINE_PASSWORD (named by "
        "--password-var) is not set — set it to the index token or password (a masked CI/CD "
        "variable) (protected variables reach only protected branches and tags: the release tag "
        "pipeline can see it when a merge request cannot)\n"
    )


def test_dry_run_fails_without_a_user_name_as_the_upload_would(
    index: PypiServer,
    dist_a: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a merge request's publish check catches before anything is tagged."""
    monkeypatch.delenv("TWINE_USERNAME")
    code, out, err = publish(capsys, dist_a, index.url, "--dry-run")
    assert (code, out) == (2, "")
    assert err == (
        "error: environment variable TWINE_USERNAME (named by --username-var) is not set, so "
        "there is no user name for the index — set the publish job's username input "
        "(--username), or a CI/CD variable TWINE_USERNAME with the user name\n"
    )
    code, out, _ = publish(capsys, dist_a, index.url, "--dry-run", "--username", index.username)
    assert code == 0
    assert f"(user {index.username}, password from $TWINE_PASSWORD)" in out

"""``wheelship publish`` to the GitLab project registry as a CI job sees it: the default target
from ``CI_API_V4_URL``/``CI_PROJECT_ID`` and the job token, against the fake GitLab registry
(twine uploads to it for real)."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.dists import build_dists
from support.fake_gitlab import PEP691, FakeGitLab, run_fake_gitlab
from wheelship.building.manifest import Manifest
from wheelship.cli import main

VERSION = "2.0.1"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dists(tmp_path_factory.mktemp("gl-build"), VERSION)


@pytest.fixture
def dist(built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "dist"))


@pytest.fixture
def gitlab(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitLab]:
    for name in list(os.environ):
        if name.startswith(("CI", "GITLAB_", "WHEELSHIP_", "TWINE_")):
            monkeypatch.delenv(name)
    with run_fake_gitlab() as fake:
        monkeypatch.setenv("CI", "true")
        monkeypatch.setenv("GITLAB_CI", "true")
        monkeypatch.setenv("CI_API_V4_URL", fake.api_url)
        monkeypatch.setenv("CI_PROJECT_ID", fake.project_id)
        monkeypatch.setenv("CI_JOB_TOKEN", fake.tokens["JOB-TOKEN"])
        yield fake


def publish(capsys: pytest.CaptureFixture[str], dist: Path, *extra: str) -> tuple[int, str, str]:
    code = main(["publish", "--dist", str(dist), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def files(dist: Path) -> dict[str, bytes]:
    return {f.name: (dist / f.name).read_bytes() for f in Manifest.load(dist).files}


def test_default_target_in_gitlab_ci_uses_the_job_token(
    gitlab: FakeGitLab, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = publish(capsys, dist)
    assert code == 0, err
    assert sorted(out.splitlines()) == sorted(f"uploaded {n}" for n in files(dist))
    assert gitlab.packages == {"ship-fixture": files(dist)}
    basic = "Basic " + base64.b64encode(b"gitlab-ci-token:job-token-value").decode()
    lookup, *uploads = gitlab.requests
    assert (lookup.method, lookup.path) == (
        "GET",
        "/api/v4/projects/42/packages/pypi/simple/ship-fixture/",
    )
    assert lookup.headers["Accept"] == f"{PEP691}, text/html;q=0.1"
    assert lookup.headers["Authorization"] == basic
    # The unknown package was forwarded to pypi.org by GitLab: not followed, counted as absent.
    assert [(r.method, r.path) for r in uploads] == [
        ("POST", "/api/v4/projects/42/packages/pypi")
    ] * 2
    assert all(r.headers["Authorization"] == basic for r in uploads)
    assert "job-token-value" not in out + err


@pytest.mark.parametrize("pep691", [False, True], ids=["html", "pep691-json"])
def test_republish_is_skipped_by_sha256(
    gitlab: FakeGitLab, dist: Path, capsys: pytest.CaptureFixture[str], pep691: bool
) -> None:
    gitlab.pypi_pep691 = pep691
    assert publish(capsys, dist)[0] == 0
    gitlab.requests.clear()
    code, out, _ = publish(capsys, dist)
    assert code == 0
    assert sorted(out.splitlines()) == sorted(
        f"skipped {n} (already in the index with the same sha256)" for n in files(dist)
    )
    assert [r.method for r in gitlab.requests] == ["GET"]


def test_lost_race_with_identical_bytes_counts_as_published(
    gitlab: FakeGitLab, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Another pipeline published the same bytes between our look-up and our upload.
    gitlab.packages["ship-fixture"] = files(dist)
    gitlab.fail_next["GET /api/v4/projects/42/packages/pypi/simple/ship-fixture/"] = (
        404,
        {"message": "404 Package Not Found"},
    )
    code, out, err = publish(capsys, dist)
    assert code == 0, err
    assert "warning: upload failed (HTTPError: 400 Bad Request from" in err
    assert "but the index now holds exactly these files" in err
    assert sorted(out.splitlines()) == sorted(f"uploaded {n}" for n in files(dist))


def test_wrong_job_token_is_one_line_and_uploads_nothing(
    gitlab: FakeGitLab,
    dist: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI_JOB_TOKEN", "stale-job-token")
    code, out, err = publish(capsys, dist)
    assert (code, out) == (1, "")
    assert err == (
        "error: the package index refused the credentials (user gitlab-ci-token, password from "
        "$CI_JOB_TOKEN) while reading project ship-fixture (HTTP 401) — check the user name "
        "and the token in the variables named by --username-var/--password-var\n"
    )
    assert gitlab.packages == {}
    assert [r.method for r in gitlab.requests] == ["GET"]


def test_dry_run_names_the_gitlab_registry(
    gitlab: FakeGitLab, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = publish(capsys, dist, "--dry-run")
    assert code == 0
    assert sorted(out.splitlines()) == sorted(
        f"would upload {n} to {gitlab.pypi_url} (user gitlab-ci-token, password from $CI_JOB_TOKEN)"
        for n in files(dist)
    )
    assert gitlab.packages == {}
    assert [r.method for r in gitlab.requests] == ["GET"]


def test_lookup_retries_a_transient_failure(
    gitlab: FakeGitLab, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gitlab.packages["ship-fixture"] = files(dist)
    gitlab.fail_next["GET /api/v4/projects/42/packages/pypi/simple/ship-fixture/"] = (
        503,
        {"message": "503 Service Unavailable"},
    )
    code, out, err = publish(capsys, dist)
    assert code == 0, err
    assert sorted(out.splitlines()) == sorted(
        f"skipped {n} (already in the index with the same sha256)" for n in files(dist)
    )
    assert [r.method for r in gitlab.requests] == ["GET", "GET"]


def test_an_index_error_is_one_line(
    gitlab: FakeGitLab, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gitlab.fail_next["GET /api/v4/projects/42/packages/pypi/simple/ship-fixture/"] = (
        500,
        {"message": "500 Internal Server Error"},
    )
    code, out, err = publish(capsys, dist)
    assert (code, out) == (1, "")
    assert err == (
        "error: the package index answered HTTP 500 for project ship-fixture — check "
        "--simple-url, or retry when the index is healthy\n"
    )
    assert gitlab.packages == {}

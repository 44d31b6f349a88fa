"""S1 and S2: no credential through a proxy to loopback, none in the environment of a child.

S1: with the proxy variables pointing at a recording proxy on loopback, wheelship's HTTP calls to
loopback (the emulator, a local index — the only plain-http calls it allows) go direct, and twine
does the same; the control shows a default ``requests`` session would have handed the request,
its Authorization header included, to the proxy.

S2: a build backend and a project's tests print their environment (a file of it) while the job
holds a Databricks token, the job token, an index password, a variable whose name says secret and
a value wheelship registered as a secret: none of them may be there; ordinary variables are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests

from support.httptrap import Seen, _recording_handler
from support.net import serving
from support.projects import project_repo
from support.pypiserver import run_pypiserver
from support.wheels import make_dist
from wheelship import log, net
from wheelship.cli import main

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
SECRETS = {
    "DATABRICKS_TOKEN": "dapi-s2-databricks-0001",
    "DATABRICKS_CLIENT_SECRET": "dose-s2-client-secret-0002",
    "CI_JOB_TOKEN": "glcbt-s2-job-token-0003",
    "TWINE_PASSWORD": "pypi-s2-index-password-0004",
    "MY_DEPLOY_API_KEY": "s2-named-like-a-secret-0005",
}
REGISTERED = ("ODDLY_NAMED_VALUE", "s2-registered-secret-0006")


@contextmanager
def recording_proxy() -> Iterator[tuple[str, list[Seen]]]:
    seen: list[Seen] = []

    def answer(_h: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 502, {}, b"the proxy was used"

    with serving(_recording_handler(seen, answer)) as port:
        yield f"http://127.0.0.1:{port}", seen


@contextmanager
def origin() -> Iterator[tuple[str, list[Seen]]]:
    seen: list[Seen] = []

    def answer(_h: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "text/plain"}, b"direct"

    with serving(_recording_handler(seen, answer)) as port:
        yield f"http://127.0.0.1:{port}", seen


@pytest.fixture
def proxied(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Seen]]:
    with recording_proxy() as (url, seen):
        for name in PROXY_VARS:
            monkeypatch.setenv(name, url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        yield seen


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_calls_bypass_the_proxy(proxied: list[Seen], host: str) -> None:
    with origin() as (url, reached):
        url = url.replace("127.0.0.1", host)
        # control: a default session sends the request, credentials and all, to the proxy
        plain = requests.Session()
        assert plain.get(url, headers={"Authorization": "Bearer s1-control"}, timeout=5).text == (
            "the proxy was used"
        )
        assert "s1-control" in str([s.headers for s in proxied])
        proxied.clear()
        session = net.new_session()
        answer = session.get(url, headers={"Authorization": "Bearer s1-secret"}, timeout=5)
        assert (answer.status_code, answer.text) == (200, "direct")
        assert reached[-1].headers["Authorization"] == "Bearer s1-secret"
    assert proxied == []


def test_https_to_other_hosts_still_honours_the_proxy() -> None:
    assert not net.bypasses_proxy("https://adb-1.azuredatabricks.net/api/2.1/jobs/list")
    assert net.bypasses_proxy("https://127.0.0.1:8443/")
    assert net.bypasses_proxy("http://localhost:8080/")


def test_twine_uploads_to_a_loopback_index_without_the_proxy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("CI_API_V4_URL", "CI_PROJECT_ID", "CI_COMMIT_TAG", "TWINE_USERNAME"):
        monkeypatch.delenv(key, raising=False)
    dist = make_dist(tmp_path / "dist", "s1pkg", "1.0.0")
    # the index is up before the proxy variables are set (its readiness check honours them)
    with run_pypiserver(tmp_path / "index") as index, recording_proxy() as (proxy, seen):
        for name in PROXY_VARS:
            monkeypatch.setenv(name, proxy)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("TWINE_PASSWORD", index.password)
        monkeypatch.setenv("TWINE_USERNAME", index.username)
        code = main(["publish", "--dist", str(dist), "--repository-url", index.url])
        _, err = capsys.readouterr()
        assert code == 0, err
        assert sorted(index.stored()) == ["s1pkg-1.0.0-py3-none-any.whl"]
        assert seen == [], [s.path for s in seen]


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(*REGISTERED)
    log.register_secret(REGISTERED[1])
    # a private index the way GitLab documents it: the job token inside the URL
    monkeypatch.setenv(
        "PIP_EXTRA_INDEX_URL",
        f"https://gitlab-ci-token:{SECRETS['CI_JOB_TOKEN']}@gitlab.example.com/api/v4/simple",
    )
    monkeypatch.setenv("S2_ORDINARY", "visible")
    dump = tmp_path / "env.json"
    monkeypatch.setenv("S2_DUMP", str(dump))
    return dump


def assert_no_secret(dump: Path) -> None:
    seen = json.loads(dump.read_text())
    assert seen.get("S2_ORDINARY") == "visible"  # the child did get the environment
    text = json.dumps(seen)
    for value in [*SECRETS.values(), REGISTERED[1]]:
        assert value not in text
    assert "127.0.0.1" in seen.get("NO_PROXY", "")


SETUP_PY = """\
import json, os
from setuptools import setup

with open(os.environ["S2_DUMP"], "w") as f:
    json.dump(dict(os.environ), f)
setup()
"""


def test_a_build_backend_sees_no_secret(
    secrets_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag="v1.0.0")
    (repo.path / "setup.py").write_text(SETUP_PY)
    repo.commit("a setup.py that reads the environment", add_all=True)
    repo.tag("v1.0.1")
    code = main(["build", "--project", str(repo.path), "--isolation", "none"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert_no_secret(secrets_env)


TEST_FILE = """\
import json, os

def test_dump_environment():
    with open(os.environ["S2_DUMP"], "w") as f:
        json.dump(dict(os.environ), f)
"""


def test_the_projects_tests_see_no_secret(
    secrets_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "proj"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_env.py").write_text(TEST_FILE)
    make_dist(project / "dist", "s2pkg", "1.0.0")
    monkeypatch.chdir(project)
    os.environ.pop("PYTEST_ADDOPTS", None)
    code = main(["test", "--project", str(project), "--no-install", "--coverage", ""])
    assert code == 0
    assert_no_secret(secrets_env)


def test_a_secret_the_tests_need_is_passed_by_name_only(
    secrets_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "proj"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_env.py").write_text(TEST_FILE)
    make_dist(project / "dist", "s2pkg", "1.0.0")
    monkeypatch.chdir(project)
    argv = ["test", "--project", str(project), "--no-install", "--coverage", ""]
    assert main([*argv, "--pass-env", "MY_DEPLOY_API_KEY"]) == 0
    seen = json.loads(secrets_env.read_text())
    assert seen["MY_DEPLOY_API_KEY"] == SECRETS["MY_DEPLOY_API_KEY"]
    assert "DATABRICKS_TOKEN" not in seen and "CI_JOB_TOKEN" not in seen

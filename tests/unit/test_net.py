"""The URL policy every HTTP client shares: https, or http to loopback; no credentials in URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from support.wheels import make_dist
from wheelship import log, net
from wheelship.cli import main
from wheelship.errors import ConfigurationError


@pytest.mark.parametrize(
    "url",
    [
        "https://adb-1.azuredatabricks.net/",
        "http://127.0.0.1:8080",
        "http://localhost:1/api/v4",
        "http://[::1]:9/x",
        "https://user@gitlab.example.com/api/v4",  # a user name alone is no secret
    ],
)
def test_accepted(url: str) -> None:
    assert net.check_url(url, "URL", "fix it") == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://adb-1.azuredatabricks.net", "uses plain http to a non-loopback host"),
        ("ftp://h.example.com", r"is not an http\(s\) URL"),
        ("adb-1.azuredatabricks.net", r"is not an http\(s\) URL"),
    ],
)
def test_refused(url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        net.check_url(url, "URL", "fix it")


def test_a_password_in_a_url_is_refused_and_never_repeated() -> None:
    with pytest.raises(ConfigurationError) as info:
        net.check_url("https://__token__:pypi-url-secret-1@upload.example.com/legacy/", "U", "f")
    assert str(info.value) == (
        "U 'https://upload.example.com/legacy/' carries a password (user:password@) — f: take it "
        "out of the URL; wheelship reads credentials from environment variables"
    )
    assert log.redact("pypi-url-secret-1") == "[MASKED]"


def test_publish_refuses_a_repository_url_with_a_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("CI_API_V4_URL", "CI_PROJECT_ID", "CI_COMMIT_TAG", "TWINE_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    dist = make_dist(tmp_path / "dist", "tsff", "1.3.0")
    url = "https://ci:glpat-url-secret-2@gitlab.example.com/api/v4/projects/7/packages/pypi"
    code = main(["publish", "--dist", str(dist), "--repository-url", url])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines()[-1] == (
        "error: --repository-url contains credentials (user:password@) — remove them from the "
        "URL and name the variables that hold them with --username-var/--password-var"
    )
    assert "glpat-url-secret-2" not in err


def test_a_gitlab_api_url_with_a_password_is_refused() -> None:
    """CI_API_V4_URL is not checked by a command of its own: the shared URL policy refuses it."""
    from wheelship.deploy import mrnote

    env = {
        "CI_API_V4_URL": "https://u:glpat-url-secret-3@gitlab.example.com/api/v4",
        "CI_PROJECT_ID": "7",
        "CI_MERGE_REQUEST_IID": "1",
        "NOTE_TOKEN": "glpat-note-token-4",
    }
    with pytest.raises(ConfigurationError) as info:
        mrnote.post_plan_note("# plan", "prod", "NOTE_TOKEN", env)
    assert "glpat-url-secret-3" not in str(info.value)
    assert "'https://gitlab.example.com/api/v4' carries a password" in str(info.value)


def test_netrc_never_replaces_or_adds_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests would replace a client's own Authorization header with a ``~/.netrc`` entry
    (a ``default`` entry matches every host): wheelship's sessions send only their own."""
    from support.fake_transport import FakeTransport
    from wheelship.databricks.auth import PatAuth
    from wheelship.databricks.client import Client
    from wheelship.gitlab import GitLabClient

    netrc = tmp_path / "netrc"
    netrc.write_text("default login someone password netrc-secret-5\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    fake = FakeTransport().on("GET", "/api/v4", (404, {})).on("GET", "/", (200, {}))
    Client("https://adb-1.azuredatabricks.net", PatAuth("dapi-own-6"), session=fake.session()).get(
        "/api/2.2/jobs/list"
    )
    GitLabClient(
        "https://gitlab.example.com/api/v4",
        "7",
        "glpat-own-7",
        "PRIVATE-TOKEN",
        session=fake.session(),
    ).get_release("v1")
    first, second = fake.calls
    assert first.headers["Authorization"] == "Bearer dapi-own-6"
    assert (
        "Authorization" not in second.headers and second.headers["PRIVATE-TOKEN"] == "glpat-own-7"
    )
    # an explicit per-request auth (the package index's user and password) still applies
    session = fake.session()
    session.get("https://index.example.com/simple/", auth=("u", "index-pw"))
    assert fake.calls[-1].headers["Authorization"].startswith("Basic ")
    assert "netrc-secret-5" not in repr([c.headers for c in fake.calls])


def test_environment_settings_are_requests_own_read_once_per_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    session, plain = net.new_session(), requests.Session()
    for url in ("https://ws.example/api/2.2/jobs/list", "https://internal.example/x"):
        args = (url, {}, None, None, None)
        assert session.merge_environment_settings(*args) == plain.merge_environment_settings(*args)
    first = session.merge_environment_settings("https://ws.example/a", {}, None, None, None)
    first["proxies"]["https"] = "http://changed.example"  # a caller's change stays its own
    monkeypatch.delenv("HTTPS_PROXY")  # read once: the session keeps what it saw
    again = session.merge_environment_settings("https://ws.example/b", {}, None, None, None)
    assert again["proxies"]["https"] == "http://proxy.example:3128"
    assert again["verify"] == "/etc/ssl/bundle.pem"

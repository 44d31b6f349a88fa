"""TLS verification is never off: against an HTTPS server whose certificate nobody trusts,
every HTTP client in wheelship refuses to talk — no request (and so no credential) gets through,
and the error says why in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.tlsserver import untrusted_https
from wheelship.databricks import auth
from wheelship.databricks.client import Client, RetryPolicy, pooled_session
from wheelship.deploy import mrnote
from wheelship.errors import DatabricksError, GitLabError, PublishError
from wheelship.gitlab import GitLabClient
from wheelship.release.publish import Credentials, Index

FAST = RetryPolicy(budget=2, base=0.01, cap=0.02)


def databricks_client(host: str, env: dict[str, str]) -> Client:
    creds = auth.resolve(host, None, env)
    session = pooled_session(1)
    return Client(creds.host, auth.build(creds, session, env), session=session, retry=FAST)


@pytest.mark.parametrize("kind", ["pat", "oauth-m2m"])
def test_databricks_client_verifies_certificates(tmp_path: Path, kind: str) -> None:
    env = {"DATABRICKS_CONFIG_FILE": str(tmp_path / "none")}
    if kind == "pat":
        env["DATABRICKS_TOKEN"] = "dapi-tls-secret-1"
    else:
        env.update(DATABRICKS_CLIENT_ID="sp", DATABRICKS_CLIENT_SECRET="sp-tls-secret-2")
    with untrusted_https(tmp_path) as (url, seen):
        client = databricks_client(url, env)
        with pytest.raises(DatabricksError) as info:
            client.get("/api/2.2/jobs/list")
    assert seen == []
    if kind == "pat":
        assert "TLS certificate verification failed" in str(info.value)
    else:
        assert "cannot reach the OAuth token endpoint" in str(info.value)


def test_gitlab_clients_verify_certificates(tmp_path: Path) -> None:
    with untrusted_https(tmp_path) as (url, seen):
        client = GitLabClient(f"{url}/api/v4", "7", "glpat-tls-secret-3", "PRIVATE-TOKEN")
        with pytest.raises(GitLabError, match="cannot reach the GitLab API"):
            client.get_release("v1.0.0")
        env = {
            "CI_API_V4_URL": f"{url}/api/v4",
            "CI_PROJECT_ID": "7",
            "CI_MERGE_REQUEST_IID": "1",
            "NOTE_TOKEN": "glpat-tls-secret-4",
        }
        with pytest.raises(GitLabError, match="cannot reach the GitLab API"):
            mrnote.post_plan_note("# plan", "prod", "NOTE_TOKEN", env)
    assert seen == []


def test_package_index_reads_verify_certificates(tmp_path: Path) -> None:
    with untrusted_https(tmp_path) as (url, seen):
        index = Index(f"{url}/simple", Credentials("u", "index-tls-secret-5", "test"))
        with pytest.raises(PublishError, match="cannot reach the package index"):
            index.files("tsff")
    assert seen == []

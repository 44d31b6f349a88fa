"""No credential follows a redirect: every HTTP client in wheelship, against real loopback
servers. A redirector answers each request with a redirect to a trap on another host name; the
trap must never see a request carrying a credential (and, for the clients that refuse redirects
outright, never see a request at all)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.httptrap import redirect_to_trap
from wheelship import log
from wheelship.databricks import auth
from wheelship.databricks.client import Client, RetryPolicy, pooled_session
from wheelship.deploy import mrnote
from wheelship.errors import DatabricksError, GitLabError
from wheelship.gitlab import GitLabClient
from wheelship.release.publish import Credentials, Index

STATUSES = [301, 302, 303, 307, 308]


@pytest.mark.parametrize("status", STATUSES)
def test_gitlab_releases_api_never_follows_a_redirect(status: int) -> None:
    token = "glpat-releases-secret-1"
    with redirect_to_trap(status) as (red, trap):
        client = GitLabClient(f"{red.url}/api/v4", "7", token, "PRIVATE-TOKEN")
        with pytest.raises(GitLabError) as info:
            client.create_release(
                tag_name="v1.0.0", ref="abc", description="d", tag_message="m", name="v1.0.0"
            )
    assert trap.seen == []
    assert f"redirected the request to create release v1.0.0 (HTTP {status} to " in str(info.value)
    assert token not in str(info.value)


@pytest.mark.parametrize("status", STATUSES)
def test_plan_note_never_follows_a_redirect(status: int) -> None:
    token = "glpat-notes-secret-22"
    with redirect_to_trap(status) as (red, trap):
        environ = {
            "CI_API_V4_URL": f"{red.url}/api/v4",
            "CI_PROJECT_ID": "7",
            "CI_MERGE_REQUEST_IID": "3",
            "NOTE_TOKEN": token,
        }
        with pytest.raises(GitLabError, match="redirected the request to post the plan note"):
            mrnote.post_plan_note("# plan", "prod", "NOTE_TOKEN", environ)
    assert trap.seen == []


@pytest.mark.parametrize("status", [302, 307, 308])
def test_databricks_calls_never_follow_a_redirect(status: int, tmp_path: Path) -> None:
    token = "dapi-redirect-secret-333"
    with redirect_to_trap(status) as (red, trap):
        env = {"DATABRICKS_TOKEN": token, "DATABRICKS_CONFIG_FILE": str(tmp_path / "none")}
        creds = auth.resolve(red.url, None, env)
        session = pooled_session(2)
        client = Client(creds.host, auth.build(creds, session, env), session=session)
        with pytest.raises(DatabricksError):
            client.get("/api/2.2/jobs/list")
    assert trap.seen == []


@pytest.mark.parametrize("status", [302, 307, 308])
@pytest.mark.parametrize("kind", ["oauth-m2m", "env-oidc"])
def test_oauth_token_requests_never_follow_a_redirect(
    status: int, kind: str, tmp_path: Path
) -> None:
    """The discovery document and the token endpoint both redirect to the trap: neither the
    client secret nor the CI ID token may reach it."""
    secret = "sp-client-secret-4444"
    id_token = "eyJhbGciOiJIUzI1NiJ9.ci-id-token-55555.sig"
    with redirect_to_trap(status) as (red, trap):
        env = {"DATABRICKS_CONFIG_FILE": str(tmp_path / "none"), "DATABRICKS_CLIENT_ID": "sp"}
        if kind == "oauth-m2m":
            env["DATABRICKS_CLIENT_SECRET"] = secret
        else:
            env.update(DATABRICKS_AUTH_TYPE="env-oidc", DATABRICKS_OIDC_TOKEN=id_token)
        creds = auth.resolve(red.url, None, env)
        session = pooled_session(2)
        client = Client(
            creds.host,
            auth.build(creds, session, env),
            session=session,
            retry=RetryPolicy(budget=2),
        )
        with pytest.raises(DatabricksError, match="answered with a redirect") as info:
            client.get("/api/2.2/jobs/list")
    assert trap.seen == []
    assert [s.path for s in red.seen] == [
        "/oidc/.well-known/oauth-authorization-server",
        "/oidc/v1/token",
    ]
    text = log.redact(str(info.value))
    assert secret not in text and id_token not in text


def test_package_index_reads_keep_the_password_on_the_index() -> None:
    """The simple index may redirect within itself; a redirect elsewhere is not followed (GitLab
    forwards unknown packages to pypi.org), so the basic-auth password stays home."""
    with redirect_to_trap(302) as (red, trap):
        index = Index(f"{red.url}/simple", Credentials("user", "index-password-666", "test"))
        assert index.files("tsff") == []
    assert trap.seen == []

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from support.fake_transport import Call, FakeTransport
from wheelship import log
from wheelship.databricks import auth
from wheelship.errors import ConfigurationError, DatabricksError

HOST = "https://adb-1.azuredatabricks.net"


def env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"DATABRICKS_CONFIG_FILE": str(tmp_path / "none.cfg"), **values}


def test_pat_from_environment(tmp_path: Path) -> None:
    creds = auth.resolve(
        None,
        None,
        env(tmp_path, DATABRICKS_HOST="adb-1.azuredatabricks.net/", DATABRICKS_TOKEN="dapi123"),
    )
    assert creds.host == HOST and creds.auth_type == "pat" and creds.source == "environment"
    a = auth.build(creds, FakeTransport().session())
    assert a.headers() == {"Authorization": "Bearer dapi123"}
    assert log.redact("token dapi123") == "token [MASKED]"


def test_target_host_wins_and_plain_http_only_to_loopback(tmp_path: Path) -> None:
    e = env(tmp_path, DATABRICKS_HOST="https://other", DATABRICKS_TOKEN="dapi123")
    assert auth.resolve("http://127.0.0.1:8080", None, e).host == "http://127.0.0.1:8080"
    with pytest.raises(ConfigurationError, match="plain http to a non-loopback host"):
        auth.resolve("http://adb-1.azuredatabricks.net", None, e)


def test_no_credentials_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        auth.resolve(HOST, None, env(tmp_path))
    assert info.value.what == "no Databricks credentials"
    assert "DATABRICKS_TOKEN" in (info.value.fix or "")


def test_two_methods_need_an_auth_type(tmp_path: Path) -> None:
    e = env(
        tmp_path,
        DATABRICKS_TOKEN="dapi1",
        DATABRICKS_CLIENT_ID="id",
        DATABRICKS_CLIENT_SECRET="sec",
    )
    with pytest.raises(ConfigurationError, match="both a token and an OAuth client secret"):
        auth.resolve(HOST, None, e)
    assert (
        auth.resolve(HOST, None, {**e, "DATABRICKS_AUTH_TYPE": "oauth-m2m"}).auth_type
        == "oauth-m2m"
    )


def test_profiles(tmp_path: Path) -> None:
    cfg = tmp_path / "databrickscfg"
    cfg.write_text(
        "[DEFAULT]\nhost = https://default.cloud.databricks.com\ntoken = dapi-default\n\n"
        "[PROD]\nhost = https://prod.cloud.databricks.com\nclient_id = sp\nclient_secret = s3cret\n"
    )
    e = {"DATABRICKS_CONFIG_FILE": str(cfg)}
    prod = auth.resolve(None, "PROD", e)
    assert prod.host == "https://prod.cloud.databricks.com" and prod.auth_type == "oauth-m2m"
    assert "token" not in prod.values  # DEFAULT does not leak into other profiles
    default = auth.resolve(None, None, e)
    assert default.source == "profile DEFAULT" and default.values["token"] == "dapi-default"
    with pytest.raises(
        ConfigurationError, match=r"profile 'STAGING' not found in .* \(profiles: DEFAULT, PROD\)"
    ):
        auth.resolve(None, "STAGING", e)
    # environment credentials come before the DEFAULT profile
    assert (
        auth.resolve(None, None, {**e, "DATABRICKS_TOKEN": "dapi-env"}).values["token"]
        == "dapi-env"
    )


def oauth_fake(expect: dict[str, str], basic: str | None) -> FakeTransport:
    def token(call: Call) -> tuple[int, object]:
        form = {k: v[0] for k, v in parse_qs(call.body.decode()).items()}
        assert form == expect
        assert call.headers.get("Authorization") == (f"Basic {basic}" if basic else None)
        return 200, {"access_token": "eyJ-access", "token_type": "Bearer", "expires_in": 3600}

    return (
        FakeTransport()
        .on(
            "GET",
            "/oidc/.well-known/oauth-authorization-server",
            (200, {"token_endpoint": f"{HOST}/oidc/v1/token"}),
        )
        .on("POST", "/oidc/v1/token", token)
    )


def test_oauth_m2m_client_credentials(tmp_path: Path) -> None:
    e = env(tmp_path, DATABRICKS_CLIENT_ID="sp-id", DATABRICKS_CLIENT_SECRET="sp-secret")
    creds = auth.resolve(HOST, None, e)
    fake = oauth_fake(
        {"grant_type": "client_credentials", "scope": "all-apis"},
        base64.b64encode(b"sp-id:sp-secret").decode(),
    )
    a = auth.build(creds, fake.session(), e)
    assert a.headers() == {"Authorization": "Bearer eyJ-access"}
    assert a.headers() == {"Authorization": "Bearer eyJ-access"}
    assert fake.paths("POST") == ["/oidc/v1/token"]  # cached
    assert a.invalidate() is True
    a.headers()
    assert fake.paths("POST") == ["/oidc/v1/token"] * 2
    assert log.redact("eyJ-access sp-secret") == "[MASKED] [MASKED]"


@pytest.mark.parametrize("indirect", [False, True])
def test_env_oidc_token_exchange(tmp_path: Path, indirect: bool) -> None:
    values = {"DATABRICKS_CLIENT_ID": "sp-app-id"}
    if indirect:
        values |= {
            "DATABRICKS_AUTH_TYPE": "env-oidc",
            "DATABRICKS_OIDC_TOKEN_ENV": "GITLAB_ID_TOKEN",
            "GITLAB_ID_TOKEN": "jwt-from-gitlab",
        }
    else:
        values |= {"DATABRICKS_OIDC_TOKEN": "jwt-from-gitlab"}
    e = env(tmp_path, **values)
    creds = auth.resolve(HOST, None, e)
    assert creds.auth_type == "env-oidc"
    fake = oauth_fake(
        {
            "grant_type": auth.TOKEN_EXCHANGE,
            "subject_token": "jwt-from-gitlab",
            "subject_token_type": auth.JWT_TOKEN_TYPE,
            "scope": "all-apis",
            "client_id": "sp-app-id",
        },
        None,
    )
    assert auth.build(creds, fake.session(), e).headers() == {"Authorization": "Bearer eyJ-access"}
    assert log.redact("jwt-from-gitlab") == "[MASKED]"


def test_env_oidc_without_token_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigurationError, match="DATABRICKS_AUTH_TYPE=env-oidc but DATABRICKS_OIDC_TOKEN is empty"
    ):
        auth.resolve(HOST, None, env(tmp_path, DATABRICKS_AUTH_TYPE="env-oidc"))


def test_token_endpoint_refusal_is_reported(tmp_path: Path) -> None:
    e = env(tmp_path, DATABRICKS_OIDC_TOKEN="jwt")
    fake = (
        FakeTransport()
        .on("GET", "/oidc/.well-known", (404, None))
        .on(
            "POST",
            "/oidc/v1/token",
            (401, {"error": "invalid_client", "error_description": "audience mismatch"}),
        )
    )
    with pytest.raises(DatabricksError) as info:
        auth.build(auth.resolve(HOST, None, e), fake.session(), e).headers()
    assert str(info.value).startswith(
        "authenticate: env-oidc: the token endpoint refused: invalid_client: audience mismatch"
    )


def test_other_auth_types_are_left_to_the_sdk(tmp_path: Path) -> None:
    # Resolution only; setting the SDK up probes the host (integration tests do that).
    creds = auth.resolve(HOST, None, env(tmp_path, DATABRICKS_AUTH_TYPE="azure-cli"))
    assert creds.auth_type == "azure-cli"


def test_plain_http_discovery_url_to_a_remote_host_is_refused(tmp_path: Path) -> None:
    e = env(
        tmp_path,
        DATABRICKS_CLIENT_ID="sp",
        DATABRICKS_CLIENT_SECRET="sp-secret-7777",
        DATABRICKS_DISCOVERY_URL="http://idp.example.com/.well-known/oauth-authorization-server",
    )
    creds = auth.resolve(HOST, None, e)
    with pytest.raises(ConfigurationError, match=r"OIDC discovery URL .* uses plain http"):
        auth.build(creds, FakeTransport().session(), e)


def test_credentials_are_used_without_surrounding_whitespace(tmp_path: Path) -> None:
    """A CI variable pasted with a trailing newline: requests would refuse the header and quote
    it (token included) in its exception; the credential is stripped and masked either way."""
    e = env(tmp_path, DATABRICKS_TOKEN="dapi-trailing-newline-1\n")
    a = auth.build(auth.resolve(HOST, None, e), FakeTransport().session(), e)
    assert a.headers() == {"Authorization": "Bearer dapi-trailing-newline-1"}
    assert log.redact("'Bearer dapi-trailing-newline-1\\n'") == "'Bearer [MASKED]\\n'"
    oidc = env(
        tmp_path,
        DATABRICKS_AUTH_TYPE="env-oidc",
        DATABRICKS_OIDC_TOKEN_ENV="CI_ID ",
        CI_ID=" eyJ.id-token.sig\n",
    )
    assert auth.resolve(HOST, None, oidc).values["oidc_token"] == "eyJ.id-token.sig"

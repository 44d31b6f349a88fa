"""Credentials for a workspace: PAT, OAuth M2M, OIDC workload identity federation, profiles.

Resolution (first match wins), the same variables the Databricks SDK and CLI read:

1. ``DATABRICKS_AUTH_TYPE`` forces a method: ``pat``, ``oauth-m2m``, ``env-oidc``,
   ``file-oidc``; any other type is delegated to ``databricks-sdk`` when it is installed.
2. The target's ``profile:`` (or ``DATABRICKS_CONFIG_PROFILE``) in ``~/.databrickscfg``
   (``DATABRICKS_CONFIG_FILE``).
3. Environment: ``DATABRICKS_TOKEN`` (PAT); ``DATABRICKS_CLIENT_ID`` + ``DATABRICKS_CLIENT_SECRET``
   (OAuth M2M); an ID token in ``DATABRICKS_OIDC_TOKEN`` or in the variable named by
   ``DATABRICKS_OIDC_TOKEN_ENV`` (env-oidc: what a GitLab ``id_tokens:`` entry provides).
4. The ``DEFAULT`` profile.

Every secret read here is registered with :func:`wheelship.log.register_secret`, including the
OAuth access tokens fetched, so none can reach a log line or an artifact.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

from wheelship import log, net
from wheelship.databricks.client import Client
from wheelship.errors import ConfigurationError, DatabricksError

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
NATIVE_TYPES = ("pat", "oauth-m2m", "env-oidc", "file-oidc")


def normalize_host(value: str) -> str:
    text = value.strip().rstrip("/")
    if "://" not in text:
        text = "https://" + text
    if text.startswith("https://") and text.endswith(":443"):
        text = text[: -len(":443")]
    return text


class _NoAuth:
    name = "none"

    def headers(self) -> dict[str, str]:
        return {}

    def invalidate(self) -> bool:
        return False


class PatAuth:
    name = "pat"

    def __init__(self, token: str) -> None:
        log.register_secret(token)
        self._header = {"Authorization": f"Bearer {token.strip()}"}

    def headers(self) -> dict[str, str]:
        return dict(self._header)

    def invalidate(self) -> bool:
        return False


class OAuthAuth:
    """OAuth access tokens from the workspace token endpoint, cached and refreshed before they
    expire (client credentials for M2M, RFC 8693 token exchange for OIDC federation)."""

    def __init__(
        self,
        name: str,
        host: str,
        session: requests.Session,
        form: Callable[[], dict[str, str]],
        basic: tuple[str, str] | None = None,
        *,
        discovery_url: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._host = host
        self._session = session
        self._form = form
        self._basic = basic
        self._discovery_url = discovery_url
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0
        self._endpoint: str | None = None
        self._client: Client | None = None

    def bind(self, client: Client) -> None:
        """Send the token requests through ``client``: the same retries, Retry-After handling,
        pacing and request counting as every workspace call."""
        self._client = client

    def _transport(self) -> Client:
        if self._client is None:
            # used on its own (not by a Client): a client of its own, without credentials
            self._client = Client(self._host, _NoAuth(), session=self._session)
        return self._client

    def _token_endpoint(self) -> str:
        if self._endpoint:
            return self._endpoint
        url = net.check_url(
            self._discovery_url or f"{self._host}/oidc/.well-known/oauth-authorization-server",
            "OIDC discovery URL",
            "fix DATABRICKS_DISCOVERY_URL",
        )
        endpoint = f"{self._host}/oidc/v1/token"
        try:
            # The document names where the credentials go: never take it from a redirect
            # (the client never follows one).
            resp = self._transport().request(
                "GET", "", url=url, authenticate=False, raise_errors=False
            )
            if resp.ok and not resp.is_redirect:
                found = resp.json().get("token_endpoint")
                if isinstance(found, str) and found:
                    endpoint = found
        except (DatabricksError, ValueError):
            pass  # the well-known workspace endpoint below is the documented default
        self._endpoint = net.check_url(endpoint, "OAuth token endpoint", "check the workspace host")
        return self._endpoint

    def _fetch(self) -> None:
        endpoint = self._token_endpoint()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        if self._basic:
            raw = f"{self._basic[0]}:{self._basic[1]}".encode()
            basic = base64.b64encode(raw).decode()
            log.register_secret(basic)
            headers["Authorization"] = "Basic " + basic
        form = urlencode(self._form()).encode("ascii")
        try:
            # No redirects (the client never follows one): a 307/308 would re-send the form
            # (the OIDC ID token, the client secret in the Basic header for same-host hops)
            # wherever the answer points.
            resp = self._transport().request(
                "POST",
                "",
                url=endpoint,
                body=lambda: form,
                headers=headers,
                authenticate=False,
                raise_errors=False,
            )
        except DatabricksError as exc:
            if exc.status is not None:
                raise  # a 429/503 the retries did not outlast
            raise DatabricksError(
                f"cannot reach the OAuth token endpoint {endpoint}: {exc.what.split(': ', 1)[-1]}",
                "check the workspace URL and the network",
                step="authenticate",
            ) from None
        try:
            body: Any = resp.json()
        except ValueError:
            body = {}
        if resp.is_redirect:
            raise DatabricksError(
                f"{self.name}: the token endpoint {endpoint} answered with a redirect "
                f"(HTTP {resp.status_code}); credentials are never sent on",
                "check the workspace host, or DATABRICKS_DISCOVERY_URL",
                status=resp.status_code,
                step="authenticate",
            )
        if not resp.ok or not isinstance(body, dict) or "access_token" not in body:
            error = body.get("error") or body.get("errorCode") or f"HTTP {resp.status_code}"
            detail = body.get("error_description") or body.get("errorSummary") or ""
            raise DatabricksError(
                f"{self.name}: the token endpoint refused: {error}"
                + (f": {detail}" if detail else ""),
                "check the client id/secret or the federation policy (issuer, audience, subject)",
                status=resp.status_code,
                error_code=str(error),
                step="authenticate",
            )
        token = str(body["access_token"])
        log.register_secret(token)
        try:
            ttl = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            ttl = 3600.0
        self._token = f"{body.get('token_type') or 'Bearer'} {token}"
        # Refresh well before expiry: a deploy that waits for clusters can outlive a token.
        self._expires = self._clock() + max(30.0, min(ttl / 2, ttl - 300))

    def headers(self) -> dict[str, str]:
        with self._lock:
            if self._token is None or self._clock() >= self._expires:
                self._fetch()
            assert self._token is not None
            return {"Authorization": self._token}

    def invalidate(self) -> bool:
        with self._lock:
            self._token = None
        return True


class SdkAuth:
    """Any other auth type the Databricks SDK knows (azure-cli, databricks-cli, ...)."""

    def __init__(self, auth_type: str | None, host: str, profile: str | None) -> None:
        try:
            from databricks.sdk.core import Config
        except ImportError:
            raise ConfigurationError(
                f"auth type {auth_type!r} needs the databricks-sdk package",
                f"pip install databricks-sdk, or use one of: {', '.join(NATIVE_TYPES)}",
            ) from None
        kwargs: dict[str, Any] = {"host": host}
        if auth_type:
            kwargs["auth_type"] = auth_type
        if profile:
            kwargs["profile"] = profile
        try:
            self._config = Config(**kwargs)
        except Exception as exc:  # the SDK raises ValueError and friends with its own text
            raise ConfigurationError(
                f"databricks-sdk could not set up auth type {auth_type!r}: {log.redact(str(exc))}",
                "check the credentials that auth type needs",
            ) from None
        self.name = f"sdk:{self._config.auth_type}"

    def headers(self) -> dict[str, str]:
        headers = dict(self._config.authenticate())
        for value in headers.values():
            log.register_secret(value.split(" ", 1)[-1])
        return headers

    def invalidate(self) -> bool:
        return False


# -- profiles ----------------------------------------------------------------------------------


def config_file(environ: Mapping[str, str]) -> Path:
    return Path(
        environ.get("DATABRICKS_CONFIG_FILE") or Path.home() / ".databrickscfg"
    ).expanduser()


def read_profile(name: str, environ: Mapping[str, str], *, required: bool) -> dict[str, str] | None:
    import configparser  # here: a job authenticated by its environment never reads a profile

    path = config_file(environ)
    # DEFAULT is an ordinary profile here: configparser's default section would leak its keys
    # into every other profile.
    parser = configparser.ConfigParser(default_section="\x00none", interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise ConfigurationError(f"{path}: {exc.message}", "fix the profile file") from None
    if not parser.has_section(name):
        if required:
            have = ", ".join(parser.sections()) or "none"
            raise ConfigurationError(
                f"profile {name!r} not found in {path} (profiles: {have})",
                "fix profile: in wheelship.yml or DATABRICKS_CONFIG_PROFILE",
            )
        return None
    values = {k: v.strip() for k, v in parser.items(name)}
    for key in ("token", "client_secret", "password"):
        log.register_secret(values.get(key))
    return values


# -- resolution --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    host: str
    auth_type: str
    values: Mapping[str, str]  # token / client_id / client_secret / oidc_token / profile
    source: str


def _oidc_token(environ: Mapping[str, str]) -> tuple[str | None, str]:
    var = (environ.get("DATABRICKS_OIDC_TOKEN_ENV") or "").strip() or "DATABRICKS_OIDC_TOKEN"
    return (environ.get(var) or "").strip() or None, var


def _from_values(values: Mapping[str, str], source: str) -> tuple[str, dict[str, str]] | None:
    """``(auth_type, values)`` from explicit values, or None when there are none."""
    auth_type = values.get("auth_type") or ""
    token = values.get("token") or ""
    client_id = values.get("client_id") or ""
    client_secret = values.get("client_secret") or ""
    if auth_type:
        return auth_type, dict(values)
    if token and client_secret:
        raise ConfigurationError(
            f"{source}: both a token and an OAuth client secret are configured",
            "set DATABRICKS_AUTH_TYPE (pat or oauth-m2m) to choose one",
        )
    if token:
        return "pat", dict(values)
    if client_id and client_secret:
        return "oauth-m2m", dict(values)
    return None


def resolve(
    host: str | None,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Pick the host and the auth method (no network calls)."""
    env = os.environ if environ is None else environ
    forced = (env.get("DATABRICKS_AUTH_TYPE") or "").strip()
    profile_name = profile or env.get("DATABRICKS_CONFIG_PROFILE") or None
    prof = read_profile(profile_name, env, required=True) if profile_name else None
    for key in ("DATABRICKS_TOKEN", "DATABRICKS_CLIENT_SECRET"):
        log.register_secret(env.get(key))
    # CI variables and files often carry a trailing newline; in a header it would make requests
    # fail (and echo the value), so credentials are used without surrounding whitespace.
    env_values = {
        "token": env.get("DATABRICKS_TOKEN", "").strip(),
        "client_id": env.get("DATABRICKS_CLIENT_ID", "").strip(),
        "client_secret": env.get("DATABRICKS_CLIENT_SECRET", "").strip(),
    }
    oidc, oidc_var = _oidc_token(env)
    log.register_secret(oidc)

    chosen: tuple[str, dict[str, str]] | None = None
    source = ""
    if prof is not None:
        chosen = _from_values(prof, f"profile {profile_name}")
        source = f"profile {profile_name}"
        if chosen is None:
            raise ConfigurationError(
                f"profile {profile_name!r} has no credentials (token, client_id/client_secret or auth_type)",
                "add them to the profile, or use DATABRICKS_TOKEN",
            )
    if forced:
        base = dict(chosen[1]) if chosen else {}
        for key, value in env_values.items():
            if value:
                base[key] = value
        chosen = (forced, base)
        source = source or "environment"
    elif chosen is None:
        chosen = _from_values(env_values, "environment")
        source = "environment"
        if chosen is None and oidc:
            chosen = ("env-oidc", {"client_id": env_values["client_id"]})
    if chosen is None:
        prof = read_profile("DEFAULT", env, required=False)
        if prof is not None:
            chosen = _from_values(prof, "profile DEFAULT")
            profile_name, source = "DEFAULT", "profile DEFAULT"
    if chosen is None:
        raise ConfigurationError(
            "no Databricks credentials",
            "set DATABRICKS_TOKEN, DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET, or an OIDC ID "
            "token with DATABRICKS_AUTH_TYPE=env-oidc (see docs/security.md#authentication)",
        )
    auth_type, values = chosen
    if auth_type == "env-oidc":
        if not oidc:
            raise ConfigurationError(
                f"DATABRICKS_AUTH_TYPE=env-oidc but {oidc_var} is empty",
                "declare it in the job's id_tokens: (or point DATABRICKS_OIDC_TOKEN_ENV at the variable)",
            )
        values = {**values, "oidc_token": oidc}
    if auth_type == "file-oidc":
        path = env.get("DATABRICKS_OIDC_TOKEN_FILEPATH") or env.get("DATABRICKS_OIDC_TOKEN_FILE")
        if not path or not Path(path).is_file():
            raise ConfigurationError(
                "DATABRICKS_AUTH_TYPE=file-oidc but DATABRICKS_OIDC_TOKEN_FILEPATH names no file",
                "point it at the file that holds the ID token",
            )
        token = Path(path).read_text().strip()
        log.register_secret(token)
        values = {**values, "oidc_token": token}
    if profile_name:
        values = {**values, "profile": profile_name}
    raw_host = host or env.get("DATABRICKS_HOST") or (prof or {}).get("host")
    if not raw_host and prof is None:
        # Like the SDK: the DEFAULT profile is the base that environment variables override.
        raw_host = (read_profile("DEFAULT", env, required=False) or {}).get("host")
    if not raw_host:
        raise ConfigurationError(
            "no workspace host",
            "set host: in the target, DATABRICKS_HOST, or host in the ~/.databrickscfg profile",
        )
    checked = net.check_url(
        normalize_host(raw_host), "workspace host", "fix host: / DATABRICKS_HOST"
    )
    return Credentials(checked, auth_type, values, source)


def build(
    creds: Credentials, session: requests.Session, environ: Mapping[str, str] | None = None
) -> Any:
    """The :class:`~wheelship.databricks.client.Auth` for resolved credentials."""
    env = os.environ if environ is None else environ
    v = creds.values
    discovery = (env.get("DATABRICKS_DISCOVERY_URL") or "").strip() or None
    if discovery and creds.auth_type in {"oauth-m2m", "env-oidc", "file-oidc"}:
        discovery = net.check_url(discovery, "OIDC discovery URL", "fix DATABRICKS_DISCOVERY_URL")
    if creds.auth_type == "pat":
        if not v.get("token"):
            raise ConfigurationError("auth type pat but no token", "set DATABRICKS_TOKEN")
        return PatAuth(v["token"])
    if creds.auth_type == "oauth-m2m":
        cid, secret = v.get("client_id", ""), v.get("client_secret", "")
        if not cid or not secret:
            raise ConfigurationError(
                "auth type oauth-m2m needs a client id and secret",
                "set DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET",
            )
        return OAuthAuth(
            "oauth-m2m",
            creds.host,
            session,
            lambda: {"grant_type": "client_credentials", "scope": "all-apis"},
            basic=(cid, secret),
            discovery_url=discovery,
        )
    if creds.auth_type in {"env-oidc", "file-oidc"}:
        subject = v["oidc_token"]
        cid = v.get("client_id") or env.get("DATABRICKS_CLIENT_ID", "")

        def form() -> dict[str, str]:
            data = {
                "grant_type": TOKEN_EXCHANGE,
                "subject_token": subject,
                "subject_token_type": JWT_TOKEN_TYPE,
                "scope": "all-apis",
            }
            if cid:  # without it: account-wide federation policy
                data["client_id"] = cid
            return data

        return OAuthAuth(creds.auth_type, creds.host, session, form, discovery_url=discovery)
    return SdkAuth(creds.auth_type, creds.host, v.get("profile"))

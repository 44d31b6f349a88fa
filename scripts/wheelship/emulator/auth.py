"""Who is calling: personal access tokens, OAuth M2M and OIDC token federation.

Every caller is a :class:`Principal` — a user or a service principal with its groups. Its
``permission`` is the workspace-wide standing:

- ``admin``: a member of the ``admins`` group — a workspace admin may do everything;
- ``user``: an ordinary workspace user: what it may see and do on a job, a cluster or a volume
  comes from that object's access list (:mod:`wheelship.emulator.acl`);
- ``read-only`` (emulator shorthand, no workspace object): may read every object and gets 403
  PERMISSION_DENIED on every mutation;
- ``none``: 403 on everything (no workspace access entitlement).

OAuth access tokens expire after an hour of *real* time (the client measures expiry with its
own clock, not the simulated one).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from wheelship.emulator.wire import ApiError

Permission = Literal["admin", "user", "read-only", "none"]
PERMISSIONS: tuple[Permission, ...] = ("admin", "user", "read-only", "none")
ADMINS = "admins"  # the workspace admin group
USERS = "users"  # every workspace identity is a member
ACCESS_TOKEN_TTL = 3600
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"


@dataclass(frozen=True)
class Principal:
    name: str  # user name or service principal application id: shown in logs, never a secret
    permission: str = "admin"
    kind: Literal["user", "service_principal"] = "user"
    display_name: str = ""
    groups: tuple[str, ...] = ()  # direct group memberships (``admins`` for an admin)

    def __post_init__(self) -> None:
        groups = tuple(self.groups)  # a list after a JSON round trip
        if self.permission == "admin" and ADMINS not in groups:
            groups = (ADMINS, *groups)
        object.__setattr__(self, "groups", groups)
        # the keys an access-list entry may name this caller by, computed once per principal
        # so an access check is a few dict lookups
        own = f"{'service_principal' if self.kind == 'service_principal' else 'user'}:{self.name}"
        keys = (own, f"group:{USERS}", *(f"group:{g}" for g in groups))
        object.__setattr__(self, "_keys", keys)

    @property
    def is_admin(self) -> bool:
        return self.permission == "admin" or ADMINS in self.groups

    @property
    def key(self) -> str:
        """How access lists name this principal: ``user:<name>``/``service_principal:<id>``."""
        return self.acl_keys[0]

    @property
    def acl_keys(self) -> tuple[str, ...]:
        keys: tuple[str, ...] = object.__getattribute__(self, "_keys")
        return keys


@dataclass
class ServicePrincipal:
    application_id: str
    display_name: str
    permission: str = "admin"
    secrets: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)

    @property
    def principal(self) -> Principal:
        return Principal(
            self.application_id,
            self.permission,
            "service_principal",
            self.display_name,
            tuple(self.groups),
        )


@dataclass
class FederationPolicy:
    """A service principal (or account-wide) OIDC federation policy.

    Signatures: ``hs256_secret`` (shared secret), ``jwks`` (RS256 public keys, needs the
    ``cryptography`` package), or ``verify_signature: false`` for trying a pipeline's real ID
    token offline (issuer, audience, subject and expiry are still checked)."""

    issuer: str
    audiences: list[str]
    subject: str
    subject_claim: str = "sub"
    service_principal: str | None = None  # application id; None = account-wide policy
    hs256_secret: str | None = None
    jwks: list[dict[str, Any]] = field(default_factory=list)
    verify_signature: bool = True


class OAuthError(Exception):
    """An OAuth token-endpoint error: ``{"error", "error_description"}`` (not the API body)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(claims: dict[str, Any], hs256_secret: str, kid: str | None = None) -> str:
    """An HS256 JWT (tests and the demo use it to play a CI ID token)."""
    header: dict[str, Any] = {"alg": "HS256", "typ": "JWT"}
    if kid:
        header["kid"] = kid
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    sig = hmac.new(hs256_secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64url(sig)


def _verify_rs256(signing_input: bytes, signature: bytes, jwk: dict[str, Any]) -> bool:
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:  # pragma: no cover - cryptography ships with keyring/twine
        raise OAuthError(
            400, "invalid_request", "RS256 verification needs the cryptography package"
        ) from None
    try:
        n = int.from_bytes(_b64url_decode(jwk["n"]), "big")
        e = int.from_bytes(_b64url_decode(jwk["e"]), "big")
        key = rsa.RSAPublicNumbers(e, n).public_key()
        key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except (KeyError, ValueError, InvalidSignature, binascii.Error):
        return False
    return True


class AuthRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tokens: dict[str, tuple[str, Principal]] = {}  # value -> (token name, principal)
        self.service_principals: dict[str, ServicePrincipal] = {}
        self.users: dict[str, Principal] = {}  # workspace users by user name
        self.groups: set[str] = {ADMINS, USERS}  # workspace groups by name
        self.policies: list[FederationPolicy] = []
        self._issued: dict[str, tuple[Principal, float]] = {}  # access token -> (who, expiry)

    def add_token(self, name: str, value: str, principal: Principal) -> None:
        self.tokens[value] = (name, principal)

    def exists(self, kind: str, name: str) -> bool:
        """Whether an access-list entry may name this identity (``user``, ``group``,
        ``service_principal``)."""
        if kind == "group":
            return name in self.groups
        if kind == "service_principal":
            return name in self.service_principals
        return name in self.users

    def principal_of(self, kind: str, name: str) -> Principal | None:
        if kind == "service_principal":
            sp = self.service_principals.get(name)
            return None if sp is None else sp.principal
        return self.users.get(name) if kind == "user" else None

    def token_value(self, name: str) -> str:
        for value, (token_name, _) in self.tokens.items():
            if token_name == name:
                return value
        raise KeyError(name)

    # -- API authentication --------------------------------------------------------------------
    def authenticate(self, header: str | None) -> tuple[str, Principal]:
        """``(token name, principal)`` for an ``Authorization`` header, or the real errors:
        401 without credentials, 403 with numeric ``error_code`` for an invalid token."""
        if not header:
            raise ApiError(
                401, 401, "Credential was not sent or was of an unsupported type for this API."
            )
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            raise ApiError(
                401, 401, "Credential was not sent or was of an unsupported type for this API."
            )
        found = self.tokens.get(value)
        if found is not None:
            return found
        with self._lock:
            issued = self._issued.get(value)
            if issued is not None:
                principal, expiry = issued
                if time.monotonic() < expiry:
                    return f"oauth:{principal.name}", principal
                del self._issued[value]
        raise ApiError(
            403,
            403,
            "Invalid access token.",
            headers={"X-Databricks-Reason-Phrase": "Invalid access token."},
        )

    # -- the token endpoint --------------------------------------------------------------------
    def token_endpoint(self, form: dict[str, str], auth_header: str | None) -> dict[str, Any]:
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            principal = self._client_credentials(form, auth_header)
        elif grant == TOKEN_EXCHANGE:
            principal = self._token_exchange(form)
        elif not grant:
            raise OAuthError(400, "invalid_request", "Missing grant_type")
        else:
            raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant_type {grant}")
        scope = form.get("scope") or "all-apis"
        # looks like the real JWT access tokens, but is an opaque random handle here
        token = "eyJ" + secrets.token_urlsafe(48)
        with self._lock:
            now = time.monotonic()
            self._issued = {k: v for k, v in self._issued.items() if v[1] > now}
            self._issued[token] = (principal, now + ACCESS_TOKEN_TTL)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL,
            "scope": scope,
        }

    def _client_credentials(self, form: dict[str, str], auth_header: str | None) -> Principal:
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        if auth_header and auth_header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth_header[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError(401, "invalid_client", "Malformed basic credentials") from None
            client_id, _, client_secret = decoded.partition(":")
        if not client_id or not client_secret:
            raise OAuthError(401, "invalid_client", "Client authentication failed")
        sp = self.service_principals.get(client_id)
        if sp is None or not any(hmac.compare_digest(client_secret, s) for s in sp.secrets):
            raise OAuthError(401, "invalid_client", "Client authentication failed")
        return sp.principal

    def _token_exchange(self, form: dict[str, str]) -> Principal:
        token = form.get("subject_token", "")
        if not token:
            raise OAuthError(400, "invalid_request", "Missing subject_token")
        if form.get("subject_token_type", JWT_TOKEN_TYPE) != JWT_TOKEN_TYPE:
            raise OAuthError(400, "invalid_request", "Unsupported subject_token_type")
        header, claims, signing_input, signature = self._parse_jwt(token)
        client_id = form.get("client_id") or None
        reasons: list[str] = []
        for policy in self.policies:
            if client_id and policy.service_principal not in (None, client_id):
                continue
            problem = self._check(policy, header, claims, signing_input, signature)
            if problem:
                reasons.append(problem)
                continue
            app_id = policy.service_principal or client_id
            sp = self.service_principals.get(app_id or "")
            if sp is None:
                reasons.append(f"no service principal with application id {app_id}")
                continue
            return sp.principal
        detail = "; ".join(reasons) or "no federation policy matches this client"
        raise OAuthError(400, "invalid_grant", f"Token exchange failed: {detail}")

    @staticmethod
    def _parse_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
        parts = token.split(".")
        if len(parts) != 3:
            raise OAuthError(400, "invalid_request", "subject_token is not a JWT")
        try:
            header = json.loads(_b64url_decode(parts[0]))
            claims = json.loads(_b64url_decode(parts[1]))
            signature = _b64url_decode(parts[2])
        except (ValueError, binascii.Error):
            raise OAuthError(400, "invalid_request", "subject_token is not a JWT") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise OAuthError(400, "invalid_request", "subject_token is not a JWT")
        return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature

    @staticmethod
    def _check(
        policy: FederationPolicy,
        header: dict[str, Any],
        claims: dict[str, Any],
        signing_input: bytes,
        signature: bytes,
    ) -> str | None:
        if policy.verify_signature:
            alg = header.get("alg")
            if alg == "HS256" and policy.hs256_secret:
                expected = hmac.new(
                    policy.hs256_secret.encode(), signing_input, hashlib.sha256
                ).digest()
                if not hmac.compare_digest(expected, signature):
                    return "signature does not verify"
            elif alg == "RS256" and policy.jwks:
                keys = [k for k in policy.jwks if header.get("kid") in (None, k.get("kid"))]
                if not any(_verify_rs256(signing_input, signature, k) for k in keys):
                    return "signature does not verify"
            else:
                return f"signing algorithm {alg!r} is not accepted by the policy"
        now = time.time()
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp < now:
            return "token is expired"
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and nbf > now + 60:
            return "token is not valid yet"
        if claims.get("iss") != policy.issuer:
            return f"issuer {claims.get('iss')!r} does not match the policy"
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if not any(a in policy.audiences for a in auds):
            return f"audience {aud!r} does not match the policy"
        if claims.get(policy.subject_claim) != policy.subject:
            return f"subject {claims.get(policy.subject_claim)!r} does not match the policy"
        return None

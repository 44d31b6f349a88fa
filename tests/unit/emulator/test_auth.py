from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from wheelship.emulator.auth import (
    AuthRegistry,
    FederationPolicy,
    OAuthError,
    Principal,
    ServicePrincipal,
    make_jwt,
)
from wheelship.emulator.wire import ApiError

SP = "sp-app-id"
ISS = "https://gitlab.example.com"
SUB = "project_path:g/p:ref_type:branch:ref:main"


def registry(**policy: Any) -> AuthRegistry:
    reg = AuthRegistry()
    reg.add_token("admin", "dapi-admin", Principal("admin@x"))
    reg.service_principals[SP] = ServicePrincipal(SP, "deployer", "admin", ["s3cret"])
    fields: dict[str, Any] = {
        "issuer": ISS,
        "audiences": ["aud-1"],
        "subject": SUB,
        "service_principal": SP,
    }
    fields.update(policy)
    reg.policies.append(FederationPolicy(**fields))
    return reg


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    out = {"iss": ISS, "aud": "aud-1", "sub": SUB, "exp": now + 60, "iat": now}
    out.update(overrides)
    return out


def test_pat_authentication_errors() -> None:
    reg = registry(hs256_secret="k")
    assert reg.authenticate("Bearer dapi-admin") == ("admin", Principal("admin@x"))
    for header, status in [
        (None, 401),
        ("", 401),
        ("Basic abc", 401),
        ("Bearer", 401),
        ("Bearer nope", 403),
    ]:
        with pytest.raises(ApiError) as info:
            reg.authenticate(header)
        assert info.value.status == status
        assert info.value.error_code == status  # numeric, as the real service answers


def test_client_credentials_basic_and_post() -> None:
    reg = registry(hs256_secret="k")
    basic = "Basic " + base64.b64encode(f"{SP}:s3cret".encode()).decode()
    issued = reg.token_endpoint({"grant_type": "client_credentials", "scope": "all-apis"}, basic)
    assert issued["token_type"] == "Bearer" and issued["expires_in"] == 3600
    assert reg.authenticate("Bearer " + issued["access_token"]) == (
        f"oauth:{SP}",
        reg.service_principals[SP].principal,
    )
    post = reg.token_endpoint(
        {"grant_type": "client_credentials", "client_id": SP, "client_secret": "s3cret"}, None
    )
    assert post["access_token"] != issued["access_token"]
    for form, header in [
        ({"grant_type": "client_credentials", "client_id": SP, "client_secret": "bad"}, None),
        ({"grant_type": "client_credentials"}, "Basic !!!"),
        (
            {"grant_type": "client_credentials", "client_id": "other", "client_secret": "s3cret"},
            None,
        ),
    ]:
        with pytest.raises(OAuthError) as info:
            reg.token_endpoint(form, header)
        assert (info.value.status, info.value.error) == (401, "invalid_client")


def exchange(reg: AuthRegistry, token: str, client_id: str | None = SP) -> dict[str, Any]:
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "scope": "all-apis",
    }
    if client_id:
        form["client_id"] = client_id
    return reg.token_endpoint(form, None)


def test_hs256_token_exchange_checks_every_claim() -> None:
    reg = registry(hs256_secret="k")
    assert exchange(reg, make_jwt(claims(), "k"))["access_token"]
    assert exchange(reg, make_jwt(claims(aud=["x", "aud-1"]), "k"), client_id=None)["access_token"]
    cases = [
        (make_jwt(claims(), "wrong-key"), "signature"),
        (make_jwt(claims(exp=int(time.time()) - 1), "k"), "expired"),
        (make_jwt(claims(nbf=int(time.time()) + 3600), "k"), "not valid yet"),
        (make_jwt(claims(iss="https://other"), "k"), "issuer"),
        (make_jwt(claims(aud="nope"), "k"), "audience"),
        (make_jwt(claims(sub="project_path:g/p:ref_type:branch:ref:dev"), "k"), "subject"),
    ]
    for token, reason in cases:
        with pytest.raises(OAuthError, match=reason) as info:
            exchange(reg, token)
        assert info.value.error == "invalid_grant"
    with pytest.raises(OAuthError, match="no federation policy"):
        exchange(reg, make_jwt(claims(), "k"), client_id="someone-else")
    with pytest.raises(OAuthError, match="not a JWT"):
        exchange(reg, "abc.def")


def test_unsigned_tokens_are_refused_unless_the_policy_says_so() -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=").decode()
    unsigned = f"{header}.{body}."
    with pytest.raises(OAuthError, match="algorithm 'none'"):
        exchange(registry(hs256_secret="k"), unsigned)
    assert exchange(registry(verify_signature=False), unsigned)["access_token"]


def _b64int(value: int) -> str:
    return (
        base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))
        .rstrip(b"=")
        .decode()
    )


def test_rs256_with_jwks() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    jwk = {"kty": "RSA", "kid": "k1", "n": _b64int(numbers.n), "e": _b64int(numbers.e)}

    def sign(payload: dict[str, Any], kid: str = "k1") -> str:
        head = base64.urlsafe_b64encode(json.dumps({"alg": "RS256", "kid": kid}).encode()).rstrip(
            b"="
        )
        body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=")
        signing = head + b"." + body
        sig = key.sign(signing, padding.PKCS1v15(), hashes.SHA256())
        return (signing + b"." + base64.urlsafe_b64encode(sig).rstrip(b"=")).decode()

    reg = registry(jwks=[jwk])
    assert exchange(reg, sign(claims()))["access_token"]
    with pytest.raises(OAuthError, match="signature"):
        exchange(reg, sign(claims(), kid="other"))
    tampered = sign(claims()).split(".")
    tampered[1] = (
        base64.urlsafe_b64encode(json.dumps(claims(sub="evil")).encode()).rstrip(b"=").decode()
    )
    with pytest.raises(OAuthError, match="signature"):
        exchange(reg, ".".join(tampered))

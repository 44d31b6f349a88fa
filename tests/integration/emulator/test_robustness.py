"""Bad requests get the real error shapes — never a crash (500) or a hang."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from support.emulator_api import Api
from wheelship.emulator import Emulator
from wheelship.emulator.router import Router
from wheelship.emulator.services import register_all

CLUSTER = "0101-000000-shared01"
SEED = {
    "clusters": [{"cluster_id": CLUSTER, "cluster_name": "c", "state": "RUNNING"}],
    "jobs": [
        {
            "job_id": 5,
            "settings": {"name": "j", "tasks": [{"task_key": "a", "existing_cluster_id": CLUSTER}]},
        }
    ],
}


def _routes() -> list[tuple[str, str]]:
    router = Router()
    register_all(router)
    out = []
    for endpoint in router.endpoints():
        method, path = endpoint.split(" ", 1)
        if path.startswith("/api/"):
            out.append((method, path))
    return out


ROUTES = _routes()
BAD_BODIES: list[bytes] = [
    b"{",
    b"[]",
    b'"text"',
    b"null",
    b"\xff\xfe\x00garbage",
    b'{"cluster_id": 1, "job_id": {}, "path": 7, "libraries": {}, "new_settings": [], "run_id": "x", "handle": true}',
    b'{"cluster_id": "nope", "job_id": 999, "path": "relative", "run_id": 42, "handle": 42, "libraries": [1]}',
    b'{"job_id": "5", "new_settings": {"tasks": [{"task_key": 3}]}, "fields_to_remove": [1]}',
    b'{"path": "/../etc/passwd", "source_path": "/a", "destination_path": 1}',
]
BAD_QUERIES: list[dict[str, str]] = [
    {},
    {"cluster_id": "nope", "job_id": "abc", "run_id": "-1", "path": "rel"},
    {
        "limit": "-5",
        "offset": "x",
        "page_token": "!!!",
        "expand_tasks": "maybe",
        "active_only": "2",
    },
    {"page_size": "-1", "filter_by.cluster_states": "BOGUS", "sort_by.field": "X"},
    {"job_id": "5", "page_token": "am9iNTo5OTk5"},
]


@pytest.fixture(scope="module")
def emu() -> Any:
    with Emulator(seed=SEED, clock_speed=0) as emu:
        yield emu
        assert emu.internal_errors == []


def _check(response: Any, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400 and response.request.method != "HEAD":
        body = response.json()
        assert "error_code" in body and body.get("message"), f"{what}: {body}"


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_endpoint_survives_bad_input(emu: Emulator, method: str, path: str) -> None:
    api = Api(emu, emu.token)
    try:
        target = path + (
            "/Volumes/main/ops/v/x" if path.endswith(("/fs/files", "/fs/directories")) else ""
        )
        if path.endswith("import-file"):
            target = path + "/Shared/x.whl"
        if method in ("POST", "PUT", "PATCH"):
            for body in BAD_BODIES:
                response = api.session.request(
                    method,
                    api.url(target),
                    data=body,
                    headers={"Content-Type": "application/json"},
                    timeout=10,
                )
                _check(response, f"{method} {target} {body[:40]!r}")
        for query in BAD_QUERIES:
            response = api.session.request(method, api.url(target), params=query, timeout=10)
            _check(response, f"{method} {target} {query}")
    finally:
        api.close()
    assert emu.internal_errors == []


def _exchange(emu: Emulator, data: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", emu.port), timeout=timeout) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def _head(emu: Emulator, method: str, path: str, extra: str = "") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {emu.token}\r\n{extra}"
        "Connection: close\r\n\r\n"
    ).encode()


def test_invalid_content_length(emu: Emulator) -> None:
    answer = _exchange(
        emu, _head(emu, "POST", "/api/2.0/workspace/mkdirs", "Content-Length: abc\r\n")
    )
    assert answer.startswith(b"HTTP/1.1 400")
    assert b"MALFORMED_REQUEST" in answer


def test_body_shorter_than_content_length_does_not_hang(emu: Emulator) -> None:
    started = time.monotonic()
    answer = _exchange(
        emu, _head(emu, "POST", "/api/2.0/workspace/mkdirs", "Content-Length: 100\r\n") + b'{"pa'
    )
    assert answer == b""  # the client went away mid-body: nothing to answer, no hang
    assert time.monotonic() - started < 5
    assert emu.requests[-1].status == 0


def test_bad_chunked_encoding(emu: Emulator) -> None:
    answer = _exchange(
        emu,
        _head(emu, "POST", "/api/2.0/workspace/mkdirs", "Transfer-Encoding: chunked\r\n")
        + b"zz\r\n{}\r\n0\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 400")


def test_garbage_request_line(emu: Emulator) -> None:
    answer = _exchange(emu, b"NOT HTTP AT ALL\r\n\r\n")
    assert answer.split(b" ")[1] == b"400"
    assert b"MALFORMED_REQUEST" in answer


def test_oversized_upload_is_refused_before_reading(emu: Emulator) -> None:
    head = _head(
        emu, "PUT", "/api/2.0/fs/files/Volumes/m/s/v/huge.bin", f"Content-Length: {6 * 1024**3}\r\n"
    )
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", emu.port), timeout=10) as sock:
        sock.sendall(head + b"x" * 1024)
        answer = b""
        while chunk := sock.recv(65536):  # the server answers and closes without the body
            answer += chunk
    assert time.monotonic() - started < 5
    assert answer.startswith(b"HTTP/1.1 400")
    assert b"larger than the maximum of 5368709120 bytes" in answer
    assert emu.files("/Volumes/m") == {}
    big_json = _head(emu, "POST", "/api/2.0/workspace/mkdirs", f"Content-Length: {10**9}\r\n")
    assert _exchange(emu, big_json).startswith(b"HTTP/1.1 400")


def test_oauth_token_endpoint_errors_are_oauth_shaped(emu: Emulator) -> None:
    api = Api(emu, None)
    try:
        for data, status, error in [
            ("", 400, "invalid_request"),
            ("grant_type=password", 400, "unsupported_grant_type"),
            ("grant_type=client_credentials", 401, "invalid_client"),
            ("grant_type=client_credentials&client_id=x&client_secret=y", 401, "invalid_client"),
            (
                "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token=abc",
                400,
                "invalid_request",
            ),
        ]:
            response = api.session.post(
                api.url("/oidc/v1/token"),
                data=data,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=10,
            )
            assert response.status_code == status, data
            assert response.headers["Content-Type"] == "application/json"
            assert response.json()["error"] == error
    finally:
        api.close()


def test_json_numbers_as_strings_are_coerced(emulator_factory) -> None:  # type: ignore[no-untyped-def]
    emu = emulator_factory(SEED, clock_speed=0)
    api = Api(emu, emu.token)
    try:
        assert api.post("/api/2.1/jobs/run-now", {"job_id": "5"}).status_code == 200
        got = api.get("/api/2.1/jobs/get", job_id="5").json()
        assert got["job_id"] == 5
        response = api.session.post(api.url("/api/2.1/jobs/get"), data=json.dumps({}), timeout=10)
        assert response.status_code == 404  # GET-only endpoint
    finally:
        api.close()

from __future__ import annotations

import threading
import time

import pytest
import requests

from support.fake_transport import Call, FakeTransport
from wheelship import log, net
from wheelship.databricks.auth import PatAuth
from wheelship.databricks.client import Client, RetryPolicy, endpoint, in_step
from wheelship.errors import DatabricksError

HOST = "https://adb-1.azuredatabricks.net"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def make(fake: FakeTransport, clock: Clock | None = None, **kwargs: object) -> Client:
    clock = clock or Clock()
    return Client(
        HOST,
        PatAuth("dapi-secret-token"),
        session=fake.session(),
        sleep=clock.sleep,
        clock=clock,
        rng=lambda: 0.5,
        **kwargs,  # type: ignore[arg-type]
    )


def test_get_sends_bearer_and_lowercase_booleans() -> None:
    fake = FakeTransport().on("GET", "/api/2.2/jobs/list", (200, {"jobs": []}))
    make(fake).get("/api/2.2/jobs/list", {"expand_tasks": True, "limit": 100, "name": None})
    call = fake.calls[0]
    assert call.headers["Authorization"] == "Bearer dapi-secret-token"
    assert call.query == {"expand_tasks": ["true"], "limit": ["100"]}
    assert call.headers["User-Agent"].startswith("wheelship/")


def test_429_honours_retry_after_then_succeeds() -> None:
    clock = Clock()
    fake = FakeTransport().on(
        "POST",
        "/api/2.2/jobs/update",
        (
            429,
            {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "slow down"},
            {"Retry-After": "3"},
        ),
        (200, {}),
    )
    client = make(fake, clock)
    assert client.post("/api/2.2/jobs/update", {"job_id": 1}) == {}
    assert len(fake.calls) == 2
    assert clock.sleeps[0] == pytest.approx(3.05)  # Retry-After plus a little jitter
    assert client.counts["POST /api/2.2/jobs/update"] == 2
    assert client.retries["POST /api/2.2/jobs/update"] == 1


def test_503_and_connection_errors_back_off_exponentially() -> None:
    clock = Clock()
    fake = FakeTransport().on(
        "GET",
        "/api/2.1/clusters/get",
        (503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}),
        requests.ConnectionError("Connection reset by peer"),
        (503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}),
        (200, {"cluster_id": "c"}),
    )
    assert make(fake, clock).get("/api/2.1/clusters/get", {"cluster_id": "c"}) == {
        "cluster_id": "c"
    }
    # base 0.5 s doubling, jitter fixed at the middle of [ceiling/2, ceiling]
    assert clock.sleeps == [0.375, 0.75, 1.5]


def test_server_errors_are_retried_a_few_times_only() -> None:
    fake = FakeTransport().on(
        "GET", "/api/2.2/jobs/get", (500, {"error_code": "INTERNAL_ERROR", "message": "boom"})
    )
    with pytest.raises(DatabricksError) as info:
        make(fake).get("/api/2.2/jobs/get", {"job_id": 1})
    assert len(fake.calls) == 3
    assert info.value.what == "INTERNAL_ERROR: boom"
    assert "run again" in (info.value.fix or "")


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "RPC token bucket limit has been exceeded"),
        (400, "Request throttled. Please try again later or try a faster operation."),
        (409, "com.databricks.ClusterNotReadyException: cluster 0101 is not ready"),
        (500, "Unexpected error"),
    ],
)
def test_message_based_transient_errors_are_retried_like_the_sdk(status: int, message: str) -> None:
    clock = Clock()
    fake = FakeTransport().on(
        "GET",
        "/api/2.1/clusters/get",
        (status, {"error_code": "INVALID_STATE", "message": message}),
        (status, {"error_code": "INVALID_STATE", "message": message}),
        (200, {"cluster_id": "c"}),
    )
    assert make(fake, clock).get("/api/2.1/clusters/get")["cluster_id"] == "c"
    assert len(fake.calls) == 3 and clock.sleeps == [0.375, 0.75]


def test_transient_messages_are_retried_a_bounded_number_of_times() -> None:
    fake = FakeTransport().on(
        "GET", "/x", (400, {"error_code": "INVALID_STATE", "message": "Unexpected error"})
    )
    with pytest.raises(DatabricksError, match="INVALID_STATE: Unexpected error"):
        make(fake).get("/x")
    assert len(fake.calls) == 5
    plain = FakeTransport().on(
        "GET", "/x", (400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "bad id"})
    )
    with pytest.raises(DatabricksError):
        make(plain).get("/x")
    assert len(plain.calls) == 1  # an ordinary 400 is not retried
    once = FakeTransport().on("POST", "/y", (400, {"message": "Unexpected error"}))
    with pytest.raises(DatabricksError):
        make(once).request("POST", "/y", json_body={}, idempotent=False)
    assert len(once.calls) == 1  # a call that must not repeat is not retried


def test_retry_budget_bounds_rate_limited_calls() -> None:
    clock = Clock()
    fake = FakeTransport().on(
        "GET",
        "/x",
        (429, {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "no"}, {"Retry-After": "20"}),
    )
    with pytest.raises(DatabricksError, match="REQUEST_LIMIT_EXCEEDED"):
        make(fake, clock, retry=RetryPolicy(budget=60)).get("/x")
    assert len(fake.calls) == 3  # 0 s, ~20 s, ~40 s; the next wait would pass the budget


def test_unreachable_host_is_one_clear_error() -> None:
    fake = FakeTransport().on(
        "GET", "/api", requests.ConnectionError("[Errno 111] Connection refused")
    )
    with pytest.raises(DatabricksError) as info:
        make(fake).get("/api/2.2/jobs/list")
    assert str(info.value) == (
        f"cannot reach {HOST}: connection refused — check the workspace URL (host: / DATABRICKS_HOST) and the network"
    )
    assert len(fake.calls) == RetryPolicy().connect_attempts


@pytest.mark.parametrize(
    ("timeout", "attempts"),
    [
        # the default read timeout: a silent host is given up after two attempts (50 s of
        # timeouts, under a minute with the backoff)
        ((10.0, 25.0), 2),
        # a short read timeout that a slow answer now and then passes: retried like a reset
        ((2.0, 0.3), RetryPolicy().timeout_attempts),
    ],
)
def test_read_timeouts_are_retried_within_the_timeout_budget(
    timeout: tuple[float, float], attempts: int
) -> None:
    fake = FakeTransport().on("GET", "/api", requests.ReadTimeout("read timed out"))
    with pytest.raises(DatabricksError, match="timed out"):
        make(fake, timeout=timeout).get("/api/2.2/jobs/list")
    assert len(fake.calls) == attempts
    assert attempts * timeout[1] <= net.TIMEOUT_BUDGET < 60


def test_error_bodies_map_to_codes_and_fixes() -> None:
    fake = (
        FakeTransport()
        .on("GET", "/bad-token", (403, {"error_code": 403, "message": "Invalid access token."}))
        .on(
            "GET",
            "/denied",
            (
                403,
                {
                    "error_code": "PERMISSION_DENIED",
                    "message": "User x does not have Manage on job 1",
                },
            ),
        )
        .on(
            "GET",
            "/html",
            (
                403,
                b"<html><title>Error 403 Invalid access token.</title></html>",
                {"Content-Type": "text/html"},
            ),
        )
        .on(
            "GET",
            "/text",
            (
                400,
                b"INVALID_STATE: Cluster c is in unexpected state Terminated.",
                {"Content-Type": "text/plain"},
            ),
        )
        .on("GET", "/empty", (404, None))
    )
    client = make(fake)
    cases = {
        "/bad-token": ("PERMISSION_DENIED: Invalid access token.", "check the credentials"),
        "/denied": (
            "PERMISSION_DENIED: User x does not have Manage on job 1",
            "grant the deploy identity",
        ),
        "/html": ("PERMISSION_DENIED: Error 403 Invalid access token.", "check the credentials"),
        "/text": ("INVALID_STATE: Cluster c is in unexpected state Terminated.", "see the message"),
        "/empty": ("NOT_FOUND: Not Found", "the object is gone"),
    }
    for path, (what, fix) in cases.items():
        with pytest.raises(DatabricksError) as info:
            client.get(path)
        assert info.value.what == what
        assert (info.value.fix or "").startswith(fix)


def test_in_step_names_step_and_object_once() -> None:
    fake = FakeTransport().on(
        "POST", "/api/2.2/jobs/update", (403, {"error_code": "PERMISSION_DENIED", "message": "no"})
    )
    client = make(fake)
    with (
        pytest.raises(DatabricksError) as info,
        in_step("deploy: outer"),
        in_step("deploy: repoint job", "123 (tsff-train)"),
    ):
        client.post("/api/2.2/jobs/update", {})
    assert str(info.value).startswith(
        "deploy: repoint job 123 (tsff-train): PERMISSION_DENIED: no — "
    )


def test_token_never_appears_in_errors() -> None:
    fake = FakeTransport().on(
        "GET",
        "/echo",
        (400, {"error_code": "BAD_REQUEST", "message": "bad header Bearer dapi-secret-token"}),
    )
    with pytest.raises(DatabricksError) as info:
        make(fake).get("/echo")
    assert "dapi-secret-token" not in log.redact(str(info.value))


def test_paginate_follows_tokens_and_stops_on_empty() -> None:
    pages = {
        None: {"jobs": [1, 2], "next_page_token": "a"},
        "a": {"jobs": [3], "next_page_token": ""},
    }

    def answer(call: Call) -> tuple[int, object]:
        return 200, pages[call.query.get("page_token", [None])[0]]

    fake = FakeTransport().on("GET", "/api/2.2/jobs/list", answer)
    assert list(make(fake).paginate("/api/2.2/jobs/list", {"limit": 2}, "jobs")) == [1, 2, 3]
    assert fake.calls[1].query == {"limit": ["2"], "page_token": ["a"]}


def test_pages_name_the_token_that_asked_for_each_page() -> None:
    """The deploy reads a page again by the token that asked for it (None: the first)."""
    pages = {
        None: {"jobs": [{"job_id": 1}], "next_page_token": "a"},
        "a": {"jobs": [{"job_id": 2}], "next_page_token": "b"},
        "b": {"jobs": [{"job_id": 3}]},
    }

    def answer(call: Call) -> tuple[int, object]:
        return 200, pages[call.query.get("page_token", [None])[0]]

    fake = FakeTransport().on("GET", "/api/2.2/jobs/list", answer)
    got = list(make(fake).pages("/api/2.2/jobs/list", {"limit": 1}, "jobs"))
    assert [(p.token, [j["job_id"] for j in p.items]) for p in got] == [
        (None, [1]),
        ("a", [2]),
        ("b", [3]),
    ]


def test_paginate_refuses_a_repeating_token() -> None:
    fake = FakeTransport().on("GET", "/l", (200, {"items": [1], "next_page_token": "same"}))
    with pytest.raises(DatabricksError, match="page token 'same' twice"):
        list(make(fake).paginate("/l", None, "items"))


def test_a_429_gates_the_endpoint_and_paces_it_from_then_on() -> None:
    clock = Clock()
    fake = FakeTransport().on(
        "GET",
        "/e",
        (429, {"error_code": "REQUEST_LIMIT_EXCEEDED"}, {"Retry-After": "2"}),
        (200, {}),
    )
    client = make(fake, clock)
    client.get("/e")
    assert clock.sleeps == [2.05]  # Retry-After (+ jitter) before the retry
    assert client._gates["/e"] == pytest.approx(2.05)  # other threads wait for it too
    assert client.limiter.throttled["GET /e"] == 1
    clock.sleeps.clear()
    client.get("/e")
    assert clock.sleeps and max(clock.sleeps) < 1  # paced, no longer gated


def test_map_bounds_concurrency_and_keeps_order() -> None:
    fake = FakeTransport()
    client = Client(HOST, PatAuth("dapi-x"), session=fake.session(), concurrency=3)
    active = 0
    peak = 0
    lock = threading.Lock()

    def work(i: int) -> int:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.01)
        with lock:
            active -= 1
        return i * 2

    assert client.map(work, range(12)) == [i * 2 for i in range(12)]
    assert peak == 3


def test_map_stops_starting_work_after_a_failure() -> None:
    client = Client(HOST, PatAuth("dapi-x"), session=FakeTransport().session(), concurrency=2)
    started: list[int] = []

    def work(i: int) -> int:
        started.append(i)
        time.sleep(0.01)
        if i == 0:
            raise DatabricksError("boom")
        return i

    with pytest.raises(DatabricksError, match="boom"):
        client.map(work, range(50))
    assert len(started) < 50


def test_endpoint_strips_file_paths() -> None:
    assert endpoint("/api/2.0/fs/files/Volumes/a/b/c/x.whl") == "/api/2.0/fs/files"
    assert endpoint("/api/2.2/jobs/get") == "/api/2.2/jobs/get"


def test_streamed_upload_body_is_reopened_on_retry(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "w.whl"
    path.write_bytes(b"x" * 1000)
    fake = FakeTransport().on(
        "PUT", "/api/2.0/fs/files", (503, {"error_code": "TEMPORARILY_UNAVAILABLE"}), (204, None)
    )
    make(fake).request("PUT", "/api/2.0/fs/files/Volumes/a/b/c/w.whl", body=lambda: path.open("rb"))
    assert [len(c.body) for c in fake.calls] == [1000, 1000]


def test_rate_limiter_paces_endpoints_with_published_limits() -> None:
    from wheelship.databricks.client import RateLimiter

    clock = Clock()
    limiter = RateLimiter(
        {"POST /api/*/jobs/run-now": 20}, pacing=1.0, clock=clock, sleep=clock.sleep
    )
    for _ in range(20 + 40):  # a full bucket of 20, then 40 paced at 20/s
        limiter.acquire("POST /api/2.2/jobs/run-now")
    assert clock.now == pytest.approx(2.0, abs=0.01)
    start = clock.now
    for _ in range(500):  # no published limit: not paced
        limiter.acquire("POST /api/2.2/jobs/update")
    assert clock.now == start
    limiter.throttle("POST /api/2.2/jobs/run-now")
    before = clock.now
    for _ in range(14):
        limiter.acquire("POST /api/2.2/jobs/run-now")
    assert clock.now - before == pytest.approx(1.0, abs=0.01)  # 14/s after a 429


def test_rate_limiter_learns_a_pace_for_unpublished_endpoints_from_a_429() -> None:
    from wheelship.databricks.client import RateLimiter

    clock = Clock()
    limiter = RateLimiter({}, clock=clock, sleep=clock.sleep)
    key = "POST /api/2.2/jobs/update"
    for _ in range(100):  # 200 requests/s ...
        limiter.acquire(key)
        clock.now += 0.005
    limiter.throttle(key)  # ... were too many
    before = clock.now
    for _ in range(140):
        limiter.acquire(key)
    assert clock.now - before == pytest.approx(1.0, abs=0.05)  # 0.7 x 200/s
    assert limiter.throttled[key] == 1


def test_one_burst_of_429s_lowers_the_pace_once() -> None:
    from wheelship.databricks.client import RateLimiter

    clock = Clock()
    limiter = RateLimiter({"POST /x": 10}, pacing=1.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):  # five calls in flight all come back 429
        limiter.throttle("POST /x")
    assert limiter.throttled["POST /x"] == 5
    assert limiter._buckets["POST /x"][0] == pytest.approx(7.0)
    clock.now += 1.5
    limiter.throttle("POST /x")  # a later one is a new signal
    assert limiter._buckets["POST /x"][0] == pytest.approx(4.9)


def test_a_call_that_is_not_idempotent_is_retried_only_when_the_workspace_did_not_act() -> None:
    """DBFS add-block appends: after a lost answer (connection error, timeout) or a server
    error it may have acted, so the caller decides; 429/503 mean it did not, so they retry."""
    lost = FakeTransport().on("POST", "/add", requests.ConnectionError("Connection reset by peer"))
    with pytest.raises(DatabricksError, match="connection reset"):
        make(lost).post("/add", {"data": "x"}, idempotent=False)
    assert len(lost.calls) == 1
    failed = FakeTransport().on("POST", "/add", (500, {"error_code": "INTERNAL_ERROR"}))
    with pytest.raises(DatabricksError, match="INTERNAL_ERROR"):
        make(failed).post("/add", {"data": "x"}, idempotent=False)
    assert len(failed.calls) == 1
    busy = FakeTransport().on(
        "POST",
        "/add",
        (503, {"error_code": "TEMPORARILY_UNAVAILABLE"}),
        (429, {"error_code": "REQUEST_LIMIT_EXCEEDED"}, {"Retry-After": "1"}),
        (200, {}),
    )
    assert make(busy).post("/add", {"data": "x"}, idempotent=False) == {}
    assert len(busy.calls) == 3


def test_paginate_stops_a_server_that_invents_page_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    import itertools

    from wheelship.databricks import client as client_module

    monkeypatch.setattr(client_module, "MAX_PAGES", 50)
    counter = itertools.count()
    fake = FakeTransport().on(
        "GET", "/l", lambda _call: (200, {"items": [1], "next_page_token": f"t{next(counter)}"})
    )
    with pytest.raises(DatabricksError, match="/l returned endless pages"):
        list(make(fake).paginate("/l", None, "items"))
    assert len(fake.calls) == 51


def test_a_learned_pace_allows_no_burst_when_the_retry_gate_opens() -> None:
    """After a 429 the workspace has shown how little burst it takes: calls that waited out
    Retry-After together leave one by one at the learned pace, not as a full bucket."""
    from wheelship.databricks.client import RateLimiter

    clock = Clock()
    limiter = RateLimiter({}, clock=clock, sleep=clock.sleep)
    key = "POST /api/2.2/jobs/update"
    for _ in range(20):  # 20 requests/s ...
        limiter.acquire(key)
        clock.now += 0.05
    limiter.throttle(key)  # ... were too many: 14/s from now on
    clock.now += 5.0  # everybody waits out the gate
    before = clock.now
    for _ in range(15):
        limiter.acquire(key)
    assert clock.now - before == pytest.approx(1.0, abs=0.05)  # 1 at once, then 14 at 14/s

from __future__ import annotations

import pytest

from wheelship.emulator.faults import Fault, FaultPlan, Latency, RateLimits, matches


@pytest.mark.parametrize(
    ("pattern", "endpoint", "hit"),
    [
        ("*", "GET /api/2.1/clusters/get", True),
        ("/api/*/clusters/*", "POST /api/2.0/clusters/start", True),
        ("GET /api/*/clusters/*", "POST /api/2.0/clusters/start", False),
        ("POST /api/2.0/libraries/install", "POST /api/2.0/libraries/install", True),
        ("/api/2.2/jobs/*", "GET /api/2.1/jobs/get", False),
    ],
)
def test_endpoint_patterns(pattern: str, endpoint: str, hit: bool) -> None:
    assert matches(pattern, endpoint) is hit


def test_fault_parsing() -> None:
    assert Fault.parse("503") == Fault(kind="503")
    assert Fault.parse("reset:0.25:/api/*/jobs/*") == Fault(
        kind="reset", rate=0.25, endpoint="/api/*/jobs/*"
    )
    assert Fault.parse({"kind": 429, "retry_after": 3}).retry_after == 3
    for bad in ("teapot", "500:abc", {"kind": "500", "colour": "red"}, 12):
        with pytest.raises(ValueError, match=r"fault|cannot read"):
            Fault.parse(bad)


def test_transient_and_bare_429_faults() -> None:
    bare = Fault.parse("429-no-retry-after:1:GET /api/2.2/jobs/list")
    assert (bare.kind, bare.retry_after, bare.endpoint) == ("429", None, "GET /api/2.2/jobs/list")
    assert Fault.parse({"kind": "429", "retry_after": None}).retry_after is None
    transient = Fault.parse("transient")
    assert (transient.message, transient.status) == (
        "RPC token bucket limit has been exceeded",
        400,
    )
    assert Fault.parse({"kind": "transient", "message": "x: Unexpected error", "status": 500})
    with pytest.raises(ValueError, match="one the SDK retries"):
        Fault.parse({"kind": "transient", "message": "Something broke"})
    with pytest.raises(ValueError, match="status must be one of"):
        Fault.parse({"kind": "transient", "status": 418})


def test_a_rate_limit_may_omit_retry_after() -> None:
    limits = RateLimits({"GET /x": {"rate": 1, "burst": 1, "retry_after": False}, "GET /y": 1})
    assert limits.check("GET /x") is None and limits.check("GET /x") == 1
    assert not limits.sends_retry_after("GET /x") and limits.sends_retry_after("GET /y")
    limits.set("GET /x", 5)
    assert limits.sends_retry_after("GET /x")


def test_plan_is_seeded_and_counts() -> None:
    def draw(seed: int) -> list[bool]:
        plan = FaultPlan([{"kind": "500", "rate": 0.5}], seed=seed)
        return [plan.pick("GET /x") is not None for _ in range(50)]

    assert draw(1) == draw(1) != draw(2)
    plan = FaultPlan()
    fault = plan.add("503", endpoint="GET /x", count=2)
    assert [plan.pick("GET /x") is fault for _ in range(3)] == [True, True, False]
    assert plan.pick("GET /y") is None and fault.injected == 2


def test_rate_limit_bucket_and_retry_after() -> None:
    limits = RateLimits({"GET /x": {"rate": 1, "burst": 2}})
    assert [limits.check("GET /x") for _ in range(3)] == [None, None, 1]
    assert limits.check("GET /y") is None
    slow = RateLimits({"*": 0.2})
    assert slow.check("GET /z") is None
    assert slow.check("GET /z") == 5
    with pytest.raises(ValueError, match="must be > 0"):
        RateLimits({"*": 0})


def test_latency_per_endpoint_and_default() -> None:
    latency = Latency(0.1)
    latency.set(0.5, endpoint="/api/*/jobs/*")
    assert latency.for_endpoint("GET /api/2.2/jobs/get") == 0.5
    assert latency.for_endpoint("GET /api/2.1/clusters/get") == 0.1
    latency.set(None, endpoint="/api/*/jobs/*")
    assert latency.for_endpoint("GET /api/2.2/jobs/get") == 0.1


def test_a_glob_shares_one_bucket_and_presets() -> None:
    limits = RateLimits({"/api/2.0/dbfs/*": {"rate": 1, "burst": 2}})
    assert limits.check("GET /api/2.0/dbfs/get-status") is None
    assert limits.check("POST /api/2.0/dbfs/put") is None
    assert limits.check("GET /api/2.0/dbfs/read") == 1  # the service as a whole
    preset = RateLimits("databricks")
    assert [preset.check("POST /api/2.2/jobs/create") for _ in range(21)].count(None) == 20
    changes = ["PUT /api/2.0/permissions/jobs", "PATCH /api/2.0/permissions/clusters"] * 16
    assert [preset.check(e) for e in changes].count(None) == 30  # one bucket for both
    assert preset.check("GET /api/2.0/permissions/jobs") is None
    with pytest.raises(ValueError, match="unknown rate-limit preset"):
        RateLimits("fastest")

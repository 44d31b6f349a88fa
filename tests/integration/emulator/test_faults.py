"""Knobs on the wire: seeded faults, rate limits with Retry-After, latency, resets."""

from __future__ import annotations

import pytest
import requests

from support.emulator_api import Api, error_of
from wheelship.emulator import Emulator

LIST = "/api/2.1/clusters/list"


def test_seeded_faults_replay_identically(emulator_factory, make_api) -> None:  # type: ignore[no-untyped-def]
    def statuses(seed: int) -> list[int]:
        emu = emulator_factory(faults=["503:0.3:/api/*/clusters/*"], fault_seed=seed)
        api = make_api(emu, emu.token)
        return [api.get(LIST).status_code for _ in range(40)]

    first = statuses(3)
    assert first == statuses(3)
    assert first != statuses(4)
    assert 5 <= first.count(503) <= 20


def test_fault_bodies_and_counts(emulator: Emulator, api: Api) -> None:
    emulator.add_fault("500", endpoint="GET /api/2.1/clusters/list", count=1)
    emulator.add_fault("429", endpoint="/api/*/jobs/*", count=1, retry_after=7)
    emulator.add_fault("503", endpoint="GET /api/2.0/libraries/*", count=1)
    assert error_of(api.get(LIST)) == (
        500,
        "INTERNAL_ERROR",
        "Internal server error (injected fault).",
    )
    assert api.get(LIST).status_code == 200  # count=1: only once
    throttled = api.get("/api/2.2/jobs/list")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
    assert throttled.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert error_of(api.get("/api/2.0/libraries/all-cluster-statuses"))[:2] == (
        503,
        "TEMPORARILY_UNAVAILABLE",
    )
    assert [r.fault for r in emulator.requests] == ["500", None, "429", "503"]
    emulator.add_fault("500")
    emulator.clear_faults()
    assert api.get(LIST).status_code == 200


def test_reset_drops_the_connection(emulator: Emulator, api: Api) -> None:
    emulator.add_fault("reset", endpoint=LIST, count=1)
    with pytest.raises(requests.ConnectionError):
        api.get(LIST)
    assert api.get(LIST).status_code == 200
    assert [r.status for r in emulator.requests] == [0, 200]


def test_slow_fault_meets_client_timeouts(emulator: Emulator, api: Api) -> None:
    emulator.add_fault("slow", endpoint=LIST, count=1, delay=1.5)
    with pytest.raises(requests.Timeout):
        api.session.get(api.url(LIST), timeout=0.3)
    assert api.get(LIST).status_code == 200


def test_rate_limit_per_endpoint_with_retry_after(emulator_factory, make_api) -> None:  # type: ignore[no-untyped-def]
    emu = emulator_factory(rate_limits={"GET /api/2.1/clusters/list": {"rate": 0.5, "burst": 2}})
    api = make_api(emu, emu.token)
    codes = [api.get(LIST).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    limited = api.get(LIST)
    assert limited.headers["Retry-After"] == "2"
    assert api.get("/api/2.0/clusters/list").status_code == 200  # other endpoints are not limited
    emu.set_rate_limit("GET /api/2.1/clusters/list", None)
    assert api.get(LIST).status_code == 200


def test_knob_validation_is_a_configuration_error() -> None:
    from wheelship.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="fault kind must be one of"):
        Emulator(faults=["418"])
    with pytest.raises(ConfigurationError, match="fault rate must be between 0 and 1"):
        Emulator(faults=[{"kind": "500", "rate": 2}])
    with pytest.raises(ConfigurationError, match="clock speed must be >= 0"):
        Emulator(clock_speed=-1)


def test_control_endpoints_for_out_of_process_clients(emulator_factory, make_api) -> None:  # type: ignore[no-untyped-def]
    seed = {
        "clusters": [
            {
                "cluster_id": "c1",
                "cluster_name": "c",
                "state": "TERMINATED",
                "libraries": [{"whl": "/Volumes/a/b/c/x-1.0-py3-none-any.whl"}],
            }
        ],
        "tokens": [{"name": "reader", "value": "dapi-reader-ctl", "permission": "read-only"}],
    }
    emu = emulator_factory(seed, clock_speed=0)
    admin, reader = make_api(emu, emu.token), make_api(emu, "dapi-reader-ctl")
    assert reader.get("/_emulator/invariants").json() == {
        "violations": [
            "cluster c1 (c): library references missing file /Volumes/a/b/c/x-1.0-py3-none-any.whl"
        ]
    }
    admin.post("/api/2.1/clusters/start", {"cluster_id": "c1"})
    assert error_of(reader.post("/_emulator/clock", {"settle": True}))[:2] == (
        403,
        "PERMISSION_DENIED",
    )
    before = admin.post("/_emulator/clock", {}).json()["now_ms"]
    after = admin.post(
        "/_emulator/clock", {"advance_seconds": 1, "settle": True, "speed": 5}
    ).json()
    assert after["now_ms"] > before + 1000 and after["speed"] == 5
    assert emu.cluster_state("c1") == "RUNNING"
    assert error_of(admin.post("/_emulator/clock", {"advance_seconds": -3}))[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )

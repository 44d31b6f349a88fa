"""The emulator's own endpoints (not Databricks APIs), for clients in another process — a
pipeline job that runs ``wheelship emulator`` as a service, say:

- ``GET /_emulator/invariants`` → ``{"violations": [...]}`` (any token that may read)
- ``POST /_emulator/clock`` ``{"advance_seconds": 60}`` and/or ``{"speed": 100}`` and/or
  ``{"settle": true}`` → ``{"now_ms": ...}`` (admin token)
"""

from __future__ import annotations

from typing import Any

from wheelship.emulator import invariants
from wheelship.emulator.router import Router
from wheelship.emulator.state import Workspace
from wheelship.emulator.wire import Request, bad_request, field_bool

SETTLE_LIMIT = 7 * 24 * 3600.0


def register(router: Router) -> None:
    router.add("GET", "/_emulator/invariants", get_invariants, body="none")
    router.add("POST", "/_emulator/clock", clock)


def get_invariants(ws: Workspace, req: Request) -> dict[str, Any]:
    return {"violations": invariants.check(ws)}


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise bad_request(f"{name} must be a non-negative number")
    return float(value)


def clock(ws: Workspace, req: Request) -> dict[str, Any]:
    body = req.json()
    advance = _number(body, "advance_seconds")
    speed = _number(body, "speed")
    if speed is not None:
        ws.clock.speed = speed
    if advance:
        ws.clock.advance(advance)
        ws.tick()
    if field_bool(body, "settle"):
        settle(ws, SETTLE_LIMIT)
    return {"now_ms": ws.now_ms(), "speed": ws.clock.speed}


def settle(ws: Workspace, limit: float) -> float:
    """Advance simulated time until nothing is in motion; returns the seconds it took."""
    total = 0.0
    ws.tick()
    while total < limit:
        dues = [c.due for c in ws.clusters.values() if c.due is not None]
        dues += [
            lib.due for c in ws.clusters.values() for lib in c.libraries if lib.due is not None
        ]
        dues += [r.due for r in ws.runs.values() if r.due is not None]
        if not dues:
            break
        step = max(0.0, min(dues) - ws.now()) + 0.001
        ws.clock.advance(step)
        total += step
        ws.tick()
    return total

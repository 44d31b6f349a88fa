"""Knobs for benchmarks and failure tests: latency, rate limits and seeded fault injection.

Endpoints are named ``"METHOD /api/<version>/<service>/<verb>"`` (Files API paths collapse to
``/api/2.0/fs/files`` and ``/api/2.0/fs/directories``). A pattern is a shell glob matched against
that name; a pattern without a space matches the path for any method
(``"/api/*/jobs/*"``, ``"POST /api/2.0/libraries/install"``, ``"*"``).

Rate limits and latency use real time: they act on the client's wall clock.
"""

from __future__ import annotations

import fnmatch
import math
import random
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

FAULT_KINDS = ("500", "503", "429", "429-no-retry-after", "403", "transient", "reset", "slow")
#: The messages the SDK retries whatever the status (databricks-sdk-py ``_base_client.py``
#: ``_is_retryable``: ``transient_error_string_matches``, the same list as the Go SDK's
#: ``apierr/errors.go``). A ``transient`` fault answers with one of them.
TRANSIENT_MESSAGES = (
    "RPC token bucket limit has been exceeded",
    "Please try again later or try a faster operation.",
    "ClusterNotReadyException",
    "Unexpected error",
    "com.databricks.backend.manager.util.UnknownWorkerEnvironmentException",
    "does not have any associated worker environments",
    "There is no worker environment with id",
    "Unknown worker environment",
)
#: error codes the service pairs with each status (the Databricks error catalogue)
STATUS_CODES = {
    400: "INVALID_STATE",
    404: "NOT_FOUND",
    409: "RESOURCE_CONFLICT",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}


def matches(pattern: str, endpoint: str) -> bool:
    if pattern in ("*", ""):
        return True
    if " " not in pattern:
        _, _, path = endpoint.partition(" ")
        return fnmatch.fnmatchcase(path, pattern)
    return fnmatch.fnmatchcase(endpoint, pattern)


@dataclass
class Fault:
    """Inject ``kind`` into a ``rate`` fraction of matching requests, at most ``count`` times."""

    kind: str
    rate: float = 1.0
    endpoint: str = "*"
    count: int | None = None
    delay: float = 5.0  # "slow": seconds before the answer
    retry_after: int | None = 1  # "429": the Retry-After header (None: none, as real 429s may)
    # "transient": the answer's message (it must contain one of TRANSIENT_MESSAGES) and status
    message: str = TRANSIENT_MESSAGES[0]
    status: int = 400
    injected: int = 0

    def __post_init__(self) -> None:
        self.kind = str(self.kind)
        if self.kind not in FAULT_KINDS:
            raise ValueError(
                f"fault kind must be one of {', '.join(FAULT_KINDS)}, not {self.kind!r}"
            )
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, not {self.rate}")
        if self.kind == "429-no-retry-after":
            self.kind, self.retry_after = "429", None
        if self.kind == "transient":
            if not any(m in self.message for m in TRANSIENT_MESSAGES):
                raise ValueError(
                    "a transient fault's message must contain one the SDK retries: "
                    + "; ".join(TRANSIENT_MESSAGES)
                )
            if self.status not in STATUS_CODES:
                raise ValueError(
                    f"transient fault status must be one of {sorted(STATUS_CODES)}, "
                    f"not {self.status}"
                )

    @classmethod
    def parse(cls, item: Any) -> Fault:
        """A Fault, a mapping of its fields, or ``"kind[:rate[:endpoint]]"`` (the CLI form)."""
        if isinstance(item, Fault):
            return item
        if isinstance(item, Mapping):
            known = {
                "kind",
                "rate",
                "endpoint",
                "count",
                "delay",
                "retry_after",
                "message",
                "status",
            }
            unknown = set(item) - known
            if unknown:
                raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
            return cls(**dict(item))
        if isinstance(item, str):
            kind, _, rest = item.partition(":")
            rate_text, _, endpoint = rest.partition(":")
            try:
                rate = float(rate_text) if rate_text else 1.0
            except ValueError:
                raise ValueError(f"fault rate {rate_text!r} is not a number") from None
            return cls(kind=kind, rate=rate, endpoint=endpoint or "*")
        raise ValueError(f"cannot read a fault from {item!r}")


class FaultPlan:
    """Seeded, so a failing test replays the same faults."""

    def __init__(self, faults: Iterable[Any] = (), seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.faults: list[Fault] = [Fault.parse(f) for f in faults]

    def add(self, kind: str, rate: float = 1.0, endpoint: str = "*", **kwargs: Any) -> Fault:
        fault = Fault(kind=kind, rate=rate, endpoint=endpoint, **kwargs)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def pick(self, endpoint: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.count is not None and fault.injected >= fault.count:
                    continue
                if not matches(fault.endpoint, endpoint):
                    continue
                if fault.rate >= 1.0 or self._random.random() < fault.rate:
                    fault.injected += 1
                    return fault
        return None


#: The published per-workspace limits (Databricks resource-limits page), as ``--rate-limit
#: databricks`` applies them. Endpoints without a published limit stay unlimited.
PUBLISHED_LIMITS: dict[str, float] = {
    "POST /api/*/jobs/create": 20,
    "POST /api/*/jobs/run-now": 20,
    "GET /api/*/jobs/runs/get": 100,
    "/api/2.0/dbfs/*": 30,
    "POST /api/2.0/workspace/import": 30,
    "GET /api/2.0/workspace/export": 60,
    "/api/2.0/fs/*": 100,
    "GET /api/2.0/permissions/*": 100,
    "P* /api/2.0/permissions/*": 30,  # PUT and PATCH share one bucket
}
PRESETS = {"databricks": PUBLISHED_LIMITS}


@dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float
    stamp: float


class RateLimits:
    """One token bucket per pattern, shared by the endpoints it matches (a pattern naming one
    endpoint is a per-endpoint limit; ``/api/2.0/dbfs/*`` limits the service as a whole):
    ``{pattern: per_second}``, ``{pattern: {"rate": per_second, "burst": n}}``, or the name of a
    preset (``"databricks"``: :data:`PUBLISHED_LIMITS`). ``"retry_after": False`` in a rule
    answers its 429s without the header — real 429s carry it only sometimes (the SDK then waits
    its default second)."""

    def __init__(self, limits: Mapping[str, Any] | str | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: dict[str, tuple[float, float]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._bare: set[str] = set()  # patterns whose 429s send no Retry-After
        if isinstance(limits, str):
            if limits not in PRESETS:
                raise ValueError(
                    f"unknown rate-limit preset {limits!r}; use one of {', '.join(PRESETS)}"
                )
            limits = PRESETS[limits]
        for pattern, value in (limits or {}).items():
            self.set(pattern, value)

    def set(self, pattern: str, value: Any) -> None:
        """Limit ``pattern`` to ``value`` requests/s (None removes the limit)."""
        with self._lock:
            self._buckets.pop(pattern, None)
            self._bare.discard(pattern)
            if value is None:
                self._rules.pop(pattern, None)
                return
            if isinstance(value, Mapping):
                rate = float(value["rate"])
                burst = float(value.get("burst", max(1.0, rate)))
                if value.get("retry_after", True) is False:
                    self._bare.add(pattern)
            else:
                rate = float(value)
                burst = max(1.0, rate)
            if rate <= 0:
                raise ValueError(f"rate limit for {pattern!r} must be > 0")
            self._rules[pattern] = (rate, burst)

    def check(self, endpoint: str) -> int | None:
        """None when the request may pass, else the Retry-After seconds."""
        with self._lock:
            if not self._rules:
                return None
            now = time.monotonic()
            for pattern, (rate, burst) in self._rules.items():
                if not matches(pattern, endpoint):
                    continue
                bucket = self._buckets.get(pattern)
                if bucket is None:
                    bucket = self._buckets[pattern] = _Bucket(rate, burst, burst, now)
                bucket.tokens = min(bucket.burst, bucket.tokens + (now - bucket.stamp) * rate)
                bucket.stamp = now
                if bucket.tokens < 1.0:
                    return max(1, math.ceil((1.0 - bucket.tokens) / rate))
                bucket.tokens -= 1.0
        return None

    def sends_retry_after(self, endpoint: str) -> bool:
        """Whether this endpoint's 429s carry ``Retry-After``."""
        with self._lock:
            return not any(matches(pattern, endpoint) for pattern in self._bare)


class Latency:
    """Seconds to wait before answering: one value for everything and/or per pattern."""

    def __init__(self, value: float | Mapping[str, float] | None = None) -> None:
        self._lock = threading.Lock()
        self.default = 0.0
        self.per_endpoint: dict[str, float] = {}
        self.set(value)

    def set(self, value: float | Mapping[str, float] | None, endpoint: str | None = None) -> None:
        with self._lock:
            if endpoint is not None:
                if value is None:
                    self.per_endpoint.pop(endpoint, None)
                else:
                    self.per_endpoint[endpoint] = float(value)  # type: ignore[arg-type]
            elif isinstance(value, Mapping):
                self.per_endpoint = {k: float(v) for k, v in value.items()}
            else:
                self.default = float(value or 0.0)

    def for_endpoint(self, endpoint: str) -> float:
        with self._lock:
            for pattern, seconds in self.per_endpoint.items():
                if matches(pattern, endpoint):
                    return seconds
            return self.default

"""Simulated time for cluster, library and run durations.

The clock starts at the real wall-clock time and then runs ``speed`` times faster than real time
(``speed=0`` freezes it, so only :meth:`SimClock.advance` moves it — deterministic tests).
Durations in the emulator are simulated seconds; timestamps on the wire are epoch milliseconds of
simulated time. Token expiry and rate limits use real time: clients measure those with their own
clocks.
"""

from __future__ import annotations

import threading
import time


class SimClock:
    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed < 0:
            raise ValueError("clock speed must be >= 0")
        self._lock = threading.Lock()
        self._speed = float(speed)
        self._base_sim = time.time() if start is None else float(start)
        self._base_real = time.monotonic()

    def now(self) -> float:
        """Simulated epoch seconds."""
        with self._lock:
            return self._base_sim + (time.monotonic() - self._base_real) * self._speed

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if value < 0:
            raise ValueError("clock speed must be >= 0")
        with self._lock:
            real = time.monotonic()
            self._base_sim += (real - self._base_real) * self._speed
            self._base_real = real
            self._speed = float(value)

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward (clusters, libraries and runs move on at the next request
        or state read)."""
        if seconds < 0:
            raise ValueError("the clock cannot go backwards")
        with self._lock:
            self._base_sim += seconds

    def set_now(self, epoch_seconds: float) -> None:
        """Resume from a saved simulated time (never moves backwards)."""
        with self._lock:
            current = self._base_sim + (time.monotonic() - self._base_real) * self._speed
            if epoch_seconds > current:
                self._base_sim += epoch_seconds - current

"""Shared fixtures for integration tests: the workspace emulator on loopback.

``emulator`` is a fresh, running workspace per test (simulated clock 100x real time, so cluster
starts and runs finish in about a second of real time); ``emulator_factory(seed=..., **options)``
starts others with any :class:`wheelship.emulator.Emulator` options. Both fail the test when a
request crashed a handler (``emu.internal_errors``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wheelship.emulator import Emulator

EmulatorFactory = Callable[..., Emulator]

#: Fast enough for client waiters, slow enough that intermediate states can be seen.
DEFAULT_CLOCK_SPEED = 100.0


@pytest.fixture
def emulator_factory() -> Iterator[EmulatorFactory]:
    started: list[Emulator] = []

    def start(seed: Any = None, **options: Any) -> Emulator:
        options.setdefault("clock_speed", DEFAULT_CLOCK_SPEED)
        emu = Emulator(seed=seed, **options).start()
        started.append(emu)
        return emu

    yield start
    errors: list[str] = []
    for emu in reversed(started):
        errors += emu.internal_errors
        emu.stop()
    assert not errors, "emulator handler crashed:\n" + "\n".join(errors)


@pytest.fixture
def emulator(emulator_factory: EmulatorFactory) -> Emulator:
    return emulator_factory()

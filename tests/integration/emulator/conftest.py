"""Fixtures for the emulator's own integration tests: a raw HTTP client per token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from support.emulator_api import Api
from wheelship.emulator import Emulator


@pytest.fixture
def api(emulator: Emulator) -> Any:
    client = Api(emulator, emulator.token)
    yield client
    client.close()


@pytest.fixture
def make_api() -> Any:
    made: list[Api] = []

    def make(emu: Emulator, token: str | None) -> Api:
        client = Api(emu, token)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def emu(request: pytest.FixtureRequest, emulator_factory: Callable[..., Emulator]) -> Emulator:
    """The test module's ``SEED`` on a stopped clock: time moves only when the test advances it.
    (Modules that need another clock define their own ``emu``.)"""
    return emulator_factory(request.module.SEED, clock_speed=0)


@pytest.fixture
def client(emu: Emulator, make_api: Callable[[Emulator, str | None], Api]) -> Api:
    """A raw HTTP client with the admin token of ``emu``."""
    return make_api(emu, emu.token)

"""Fixtures for the emulator's own integration tests: a raw HTTP client per token."""

from __future__ import annotations

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

"""A workspace without a server: state, lifecycle and services as plain objects."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wheelship.emulator.blobs import BlobStore
from wheelship.emulator.clock import SimClock
from wheelship.emulator.state import Workspace


@pytest.fixture
def ws() -> Iterator[Workspace]:
    blobs = BlobStore()
    workspace = Workspace(clock=SimClock(speed=0, start=1_700_000_000.0), blobs=blobs)
    yield workspace
    blobs.close()

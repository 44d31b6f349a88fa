"""Fixtures for deploy tests: a seeded emulator workspace (see ``support.deployws``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.deployws import Workspace, seed
from wheelship.emulator import Emulator


@pytest.fixture
def workspace_factory(
    tmp_path: Path, emulator_factory: Callable[..., Emulator]
) -> Callable[..., Workspace]:
    count = 0

    def make(**kw: Any) -> Workspace:
        nonlocal count
        count += 1
        root = tmp_path / f"ws{count}"
        root.mkdir()
        options = {
            k: kw.pop(k)
            for k in list(kw)
            if k in {"latency", "rate_limits", "faults", "fault_seed", "clock_speed", "state_dir"}
        }
        emu = emulator_factory(seed(root, **kw), **options)
        ws = Workspace(emu, root)
        ws.config()
        return ws

    return make


@pytest.fixture
def ws(workspace_factory: Callable[..., Workspace]) -> Workspace:
    return workspace_factory()

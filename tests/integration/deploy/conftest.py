"""Fixtures for deploy tests: a seeded emulator workspace (see ``support.deployws``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.deployws import Workspace, seed
from wheelship.emulator import Emulator


@pytest.fixture
def workspace_factory(
    tmp_path: Path, emulator_factory: Callable[..., Emulator]
) -> Iterator[Callable[..., Workspace]]:
    """Seeded workspaces that check the deploy invariants after every state-changing request:
    a test fails if, at any moment, a job or cluster referenced a missing file or a cluster had
    two versions of a package (unless the test sets ``ws.allow_violations``)."""
    count = 0
    made: list[Workspace] = []

    def make(**kw: Any) -> Workspace:
        nonlocal count
        count += 1
        root = tmp_path / f"ws{count}"
        root.mkdir()
        options = {
            k: kw.pop(k)
            for k in list(kw)
            if k
            in {
                "latency",
                "rate_limits",
                "faults",
                "fault_seed",
                "clock_speed",
                "state_dir",
                "jobs_list_omits",
                "watch_invariants",
            }
        }
        options.setdefault("watch_invariants", True)
        emu = emulator_factory(seed(root, **kw), **options)
        ws = Workspace(emu, root)
        ws.config()
        made.append(ws)
        return ws

    yield make
    for ws in made:
        if ws.emu.watch_invariants and not ws.allow_violations:
            assert ws.emu.violations == [], "\n".join(ws.emu.violations)


@pytest.fixture
def ws(workspace_factory: Callable[..., Workspace]) -> Workspace:
    return workspace_factory()


@pytest.fixture
def ws_env(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI talks to ``ws`` with its token: the environment holds its host, token and an empty
    databrickscfg, and no WHEELSHIP_* or other Databricks auth variables from outside (the suite
    may itself run in a pipeline). Modules that drive the CLI use it for every test
    (``pytestmark = pytest.mark.usefixtures("ws_env")``)."""
    for key, value in ws.env.items():
        monkeypatch.setenv(key, value)
    for key in list(os.environ):
        if key.startswith("WHEELSHIP_") or key in {"DATABRICKS_AUTH_TYPE", "DATABRICKS_CLIENT_ID"}:
            monkeypatch.delenv(key)

"""A deploy interrupted anywhere leaves a working workspace, and a rerun finishes the job.

Interruptions come two ways: a step limit (the deploy stops after k steps, for every k), and the
workspace failing a mutating endpoint (500s the client gives up on). After each interruption the
emulator's invariants hold (no job or cluster references a missing file, no cluster has two
versions); a rerun converges to exactly the state of an uninterrupted deploy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from support.deployws import Workspace
from wheelship.databricks.client import RetryPolicy
from wheelship.deploy import workflow
from wheelship.deploy.apply import StepLimit
from wheelship.errors import DatabricksError

CONFIG = {
    "keep": 0,
    "clusters": {"mode": "automated", "tags": {"tsff": "prod"}, "restart": "always", "wait": 600},
}


def deploy(ws: Workspace, max_steps: int | None = None, **kw: Any) -> None:
    settings = ws.settings("1.3.0", dist=ws.root / "dist", **kw)
    workflow.run_deploy(settings, ws.knobs(max_steps=max_steps))


def prepared(factory: Callable[..., Workspace], **kw: object) -> Workspace:
    ws = factory(**kw)
    ws.config(**CONFIG)
    ws.dist("1.3.0").rename(ws.root / "dist")
    return ws


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], int]:
    """The workspace after an uninterrupted deploy, and how many steps it took."""
    from support.deployws import seed
    from wheelship.emulator import Emulator

    root = tmp_path_factory.mktemp("reference")
    with Emulator(seed(root), clock_speed=100) as emu:
        ws = Workspace(emu, root)
        ws.config(**CONFIG)
        ws.dist("1.3.0").rename(root / "dist")
        plan, _result = workflow.run_deploy(ws.settings("1.3.0", dist=root / "dist"), ws.knobs())
        assert emu.invariants() == []
        return ws.snapshot(), len(plan.steps())


# upload, 4 jobs, 3 clusters + restarts, deletions: every stop point below is one of these
STEPS = 11


def test_reference_deploy_has_every_kind_of_step(reference: tuple[dict[str, object], int]) -> None:
    _state, steps = reference
    assert steps == STEPS  # a changed plan needs STEPS updated, so no stop point goes untested


@pytest.mark.parametrize("limit", range(STEPS))
def test_interrupted_after_each_step_then_rerun(
    workspace_factory: Callable[..., Workspace],
    reference: tuple[dict[str, object], int],
    limit: int,
) -> None:
    state, _steps = reference
    ws = prepared(workspace_factory)
    with pytest.raises(StepLimit):
        deploy(ws, max_steps=limit)
    assert ws.emu.invariants() == []
    ws.emu.settle()  # whatever was in motion (a restart) finishes
    assert ws.emu.invariants() == []
    deploy(ws)
    assert ws.emu.invariants() == []
    assert ws.snapshot() == state


@pytest.mark.parametrize(
    "endpoint",
    [
        "PUT /api/2.0/fs/files",
        "POST /api/2.2/jobs/update",
        "POST /api/2.0/libraries/uninstall",
        "POST /api/2.0/libraries/install",
        "POST /api/2.1/clusters/restart",
        "DELETE /api/2.0/fs/files",
    ],
)
def test_workspace_failures_stop_the_deploy_safely_and_a_rerun_finishes(
    workspace_factory: Callable[..., Workspace],
    reference: tuple[dict[str, object], int],
    endpoint: str,
) -> None:
    state, _steps = reference
    ws = prepared(workspace_factory)
    ws.emu.add_fault("500", endpoint=endpoint)  # the endpoint fails until the faults are cleared
    with pytest.raises(DatabricksError) as info:
        deploy(ws)
    assert "INTERNAL_ERROR" in str(info.value) or "HTTP_500" in str(info.value)
    assert str(info.value).startswith("deploy: ")
    assert ws.emu.invariants() == []
    ws.emu.clear_faults()
    ws.emu.settle()
    deploy(ws)
    assert ws.emu.invariants() == []
    assert ws.snapshot() == state


def test_transient_faults_are_retried_without_failing(
    workspace_factory: Callable[..., Workspace], reference: tuple[dict[str, object], int]
) -> None:
    state, _steps = reference
    ws = prepared(
        workspace_factory,
        faults=[
            {"kind": "503", "rate": 0.3},
            {"kind": "429", "rate": 0.1, "retry_after": 1},
            {"kind": "reset", "rate": 0.05},
        ],
        fault_seed=7,
    )
    # test knob: short backoffs (45% of answers are faults; the default policy's waits of up
    # to 10 s made this one test a minute long without testing anything more)
    deploy(ws, retry=RetryPolicy(base=0.05, cap=0.2))
    assert ws.emu.invariants() == []
    assert ws.snapshot() == state
    statuses = [r.status for r in ws.emu.requests]
    assert 503 in statuses and 429 in statuses


STRESS = [
    {"kind": "429", "rate": 0.1, "retry_after": 1},
    {"kind": "503", "rate": 0.15},
    {"kind": "reset", "rate": 0.08},
    # slower than the client's read timeout: the client gives up, the workspace still acts
    # (a lost answer), so every retried write must be safe to repeat
    {"kind": "slow", "rate": 0.1, "delay": 0.6},
]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_converges_under_throttling_overload_resets_and_lost_answers(
    workspace_factory: Callable[..., Workspace],
    reference: tuple[dict[str, object], int],
    seed: int,
) -> None:
    """Seeded faults on every endpoint: the deploy finishes in one run, ends exactly where an
    undisturbed deploy ends, and the invariants held after every single change (the workspace
    fixture watches them)."""
    state, _steps = reference
    ws = prepared(workspace_factory, faults=STRESS, fault_seed=seed)
    deploy(
        ws,
        retry=RetryPolicy(budget=60, base=0.05, cap=0.2),
        timeout=(2.0, 0.3),
    )
    ws.emu.settle()
    assert ws.emu.invariants() == []
    assert ws.snapshot() == state
    faulted = [r.fault for r in ws.emu.requests if r.fault]
    assert len(faulted) >= 5 and {"429", "503"} <= set(faulted)
    # a second deploy in the same weather has nothing left to do
    again_plan = workflow.run_plan(
        ws.settings("1.3.0", dist=ws.root / "dist", retry=RetryPolicy(base=0.05, cap=0.2)),
        ws.knobs(),
    )
    assert not again_plan.changes_anything


@pytest.mark.parametrize("folder", ["/Workspace/Shared/wheels", "dbfs:/FileStore/wheels"])
def test_uploads_survive_lost_answers_in_every_storage(
    workspace_factory: Callable[..., Workspace], folder: str
) -> None:
    """Every upload request is answered too late once (the workspace acted): a DBFS block
    must not be appended twice, a moved file must not be reported missing."""
    endpoints = {
        "/Workspace/Shared/wheels": ["POST /api/2.0/workspace-files/import-file"],
        "dbfs:/FileStore/wheels": [
            "POST /api/2.0/dbfs/create",
            "POST /api/2.0/dbfs/add-block",
            "POST /api/2.0/dbfs/close",
            "POST /api/2.0/dbfs/move",
        ],
    }[folder]
    ws = workspace_factory(folder=folder)
    ws.config(artifacts=folder, keep=1, clusters={"mode": "off"})
    for endpoint in endpoints:
        ws.emu.add_fault("slow", endpoint=endpoint, count=1, delay=0.6)
    plan, result = workflow.run_deploy(
        ws.settings(
            "1.3.0",
            dist=ws.dist("1.3.0", size=3 << 20),  # several DBFS blocks
            retry=RetryPolicy(base=0.05, cap=0.2),
            timeout=(2.0, 0.3),
        ),
        ws.knobs(),
    )
    assert ws.emu.file_sha256(plan.artifact) == plan.sha256
    assert [s.outcome for s in result.steps if s.step == "upload"] in (["done"], ["unchanged"])
    assert not [p for p in ws.emu.files(folder) if ".partial" in p]

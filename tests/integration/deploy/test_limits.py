"""When a step cannot finish: a permission missing on one object, a cluster that does not settle
within ``wait``, a smoke run that outlives its ``timeout``. Each is one line naming the step and
the object, exit 1; the workspace keeps working (every reference points at an existing file) and
a rerun finishes the job."""

from __future__ import annotations

import json

import pytest

from support.deployws import ART, CLUSTERS, Workspace, cli, error_line, whl

IDLE = CLUSTERS[0]
pytestmark = pytest.mark.usefixtures("ws_env")


def deploy(ws: Workspace, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    return cli(ws, "deploy", "--dist", str(ws.root / "dist"), *extra), error_line(capsys)


def test_a_job_the_identity_may_not_manage(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.dist("1.3.0").rename(ws.root / "dist")
    ws.config(clusters={"mode": "off"})
    ws.emu.add_fault("403", endpoint="POST /api/2.2/jobs/update", count=1)
    code, line = deploy(ws, capsys, "--concurrency", "1")
    assert code == 1
    assert line == (
        "error: deploy: repoint job 101 (tsff-train): PERMISSION_DENIED: User does not have "
        "permission to perform this action (injected fault). — grant the deploy identity the "
        "permission named above, or use another identity"
    )
    # the upload stands, no job moved, nothing was deleted: the workspace works as before
    assert ws.emu.file_exists(whl("1.3.0")) and ws.emu.file_exists(whl("1.1.0"))
    assert ws.emu.job_settings(101)["tasks"][0]["libraries"][0]["whl"] == whl("1.2.0")
    report = json.loads((ws.root / "out" / "deploy-report.json").read_text())
    assert report["outcome"] == "failed" and "repoint job 101 (tsff-train)" in report["error"]
    # once the permission is granted, a rerun finishes
    assert deploy(ws, capsys) == (0, "")
    assert ws.emu.job_settings(101)["tasks"][0]["libraries"][0]["whl"] == whl("1.3.0")
    assert ws.emu.invariants() == []


def test_a_cluster_that_does_not_settle_within_the_wait(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.dist("1.3.0").rename(ws.root / "dist")
    ws.config(
        keep=0,
        clusters={"mode": "automated", "ids": [IDLE], "restart": "always", "wait": 1},
    )
    ws.emu.durations.cluster_restart = 1e6  # the restart outlasts the wait
    code, line = deploy(ws, capsys)
    assert code == 1
    assert line.startswith(
        f"error: deploy: clusters: cluster {IDLE} (ml-idle) did not settle within the wait"
    ), line
    # jobs moved; retention did not run
    assert ws.emu.job_settings(101)["tasks"][0]["libraries"][0]["whl"] == whl("1.3.0")
    assert ws.emu.file_exists(whl("1.1.0"))
    assert ws.emu.invariants() == []
    # the restart finishes; the rerun has only retention left
    ws.emu.durations.cluster_restart = 20
    ws.emu.settle()
    assert deploy(ws, capsys) == (0, "")
    # 1.1.0 goes; 1.0.0 and 1.2.0 stay: clusters this target does not select still list them
    assert set(ws.emu.files(ART)) == {whl("1.0.0"), whl("1.2.0"), whl("1.3.0")}
    assert [x["library"]["whl"] for x in ws.emu.cluster_libraries(IDLE)] == [whl("1.3.0")]
    assert ws.emu.invariants() == []


def test_a_smoke_run_that_outlives_its_timeout_is_cancelled(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.dist("1.3.0").rename(ws.root / "dist")
    ws.config(clusters={"mode": "off"}, smoke={"job": "tsff-smoke", "timeout": 1})
    ws.emu.durations.run_execute = 1e7
    code, line = deploy(ws, capsys)
    assert code == 1
    (run,) = ws.emu.runs(105)
    assert line == (
        f"error: deploy: smoke run 105 (tsff-smoke): run {run['run_id']} did not finish within "
        "1 s (cancelled) — raise smoke.timeout, or look at the run; roll back with "
        "'wheelship rollback'"
    )
    ws.emu.settle()
    (run,) = ws.emu.runs(105)
    assert run["state"]["result_state"] == "CANCELED"
    report = json.loads((ws.root / "out" / "deploy-report.json").read_text())
    assert report["smoke"]["result"] == "TIMEDOUT"
    assert ws.emu.invariants() == []


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"kind": "429", "retry_after": 1}, "REQUEST_LIMIT_EXCEEDED: Too many requests."),
        ({"kind": "503"}, "TEMPORARILY_UNAVAILABLE: The service is temporarily unavailable."),
        ({"kind": "slow", "delay": 2.0}, "cannot reach"),
        ({"kind": "reset"}, "cannot reach"),
    ],
    ids=["throttled", "overloaded", "hanging", "resetting"],
)
def test_a_workspace_that_never_recovers_fails_the_command_within_the_retry_budget(
    workspace_factory: object, fault: dict[str, object], expected: str
) -> None:
    """Retries are bounded per call (time budget, attempt counts, a read timeout): a workspace
    that keeps throttling, failing, hanging or resetting ends the command with one error
    instead of holding a pipeline until its job timeout."""
    import time

    from wheelship.databricks.client import RetryPolicy
    from wheelship.deploy import workflow
    from wheelship.errors import DatabricksError

    sick = workspace_factory(faults=[fault])  # type: ignore[operator]
    started = time.monotonic()
    with pytest.raises(DatabricksError) as info:
        workflow.run_status(
            sick.settings(
                "1.3.0", retry=RetryPolicy(budget=4, base=0.1, cap=0.5), timeout=(2.0, 0.5)
            ),
            sick.knobs(),
        )
    assert expected in str(info.value)
    assert str(info.value).startswith("status: ")
    assert time.monotonic() - started < 30  # the budget (4 s) plus one attempt in flight
    assert len(sick.emu.requests) < 60

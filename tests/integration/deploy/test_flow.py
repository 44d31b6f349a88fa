"""deploy over HTTP against the emulator: the whole flow, its order, idempotency, reports."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from support.deployws import ART, CLUSTERS, READER, Workspace, cli, mutations, whl
from wheelship.deploy import references, workflow

IDLE, BUSY, TERM, ADMIN, OTHER = CLUSTERS
pytestmark = pytest.mark.usefixtures("ws_env")


def refs(settings: dict[str, Any]) -> set[str]:
    return references.referenced_versions(settings, "tsff")


def without_refs(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings with every tsff reference blanked: what must not change."""
    out = copy.deepcopy(settings)
    rw = references.rewrite(out, "tsff", "0", "X")
    return references.apply_rewrite(out, rw)


def test_deploy_repoints_updates_clusters_and_retains(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    busy_run = ws.start_busy_run()
    ws.emu.clear_log()
    ws.config(keep=1, smoke={"job": "tsff-smoke", "timeout": 600})
    before = {j: copy.deepcopy(s) for j, s in ws.emu.jobs().items()}
    settings = ws.settings("1.3.0")

    plan, result = workflow.run_deploy(settings, ws.knobs())
    assert ws.emu.invariants() == []

    # 1. the wheel, verified
    new = whl("1.3.0")
    assert ws.emu.file_sha256(new) == plan.sha256
    # 2. every reference of every referencing job, and nothing else
    for job_id in (101, 102, 103, 105):
        after = ws.emu.job_settings(job_id)
        assert refs(after) == {"1.3.0"}, job_id
        assert without_refs(after) == without_refs(before[job_id])
    assert ws.emu.job_settings(104) == before[104]
    assert ws.emu.job_settings(102)["tasks"][1]["libraries"][0]["pypi"]["package"] == "tsff==1.3.0"
    assert ws.emu.job_settings(103)["environments"][0]["spec"]["dependencies"] == [
        new,
        "scikit-learn==1.5.0",
    ]
    # 3. clusters: idle restarted onto 1.3.0 alone; busy not restarted (if-idle); terminated
    #    queued; the manual-mode and unselected clusters untouched
    assert [(x["library"], x["status"]) for x in ws.emu.cluster_libraries(IDLE)] == [
        ({"whl": new}, "INSTALLED")
    ]
    busy = {x["library"]["whl"]: x["status"] for x in ws.emu.cluster_libraries(BUSY)}
    assert busy == {new: "FAILED", whl("1.2.0"): "UNINSTALL_ON_RESTART"}
    assert ws.emu.cluster_state(TERM) == "TERMINATED"
    term = {x["library"]["whl"]: x["status"] for x in ws.emu.cluster_libraries(TERM)}
    assert term == {new: "PENDING", whl("1.2.0"): "UNINSTALL_ON_RESTART"}
    assert [x["library"]["whl"] for x in ws.emu.cluster_libraries(ADMIN)] == [whl("1.2.0")]
    assert [x["library"]["whl"] for x in ws.emu.cluster_libraries(OTHER)] == [whl("1.0.0")]
    assert not any(ADMIN in m or OTHER in m for m in mutations(ws))
    restarts = [r for r in ws.emu.requests if r.path.endswith("/clusters/restart")]
    assert len(restarts) == 1
    # 4. retention: keep 1 earlier version (1.2.0, also still loaded on busy); 1.1.0 deleted;
    #    1.0.0 kept because the unselected cluster still has it
    assert set(ws.emu.files(ART)) == {whl("1.0.0"), whl("1.2.0"), whl("1.3.0")}
    # 5. smoke run
    assert result.smoke is not None and result.smoke["result"] == "SUCCESS"
    assert ws.emu.runs(105)[-1]["state"]["result_state"] == "SUCCESS"
    # the busy run was never interrupted
    assert [(r["run_id"], r["state"]["life_cycle_state"]) for r in ws.emu.runs(106)] == [
        (busy_run, "RUNNING")
    ]

    # order: upload < repoint < clusters < retention < smoke
    order = [m.split(" ", 1)[1] for m in mutations(ws)]
    first = {
        key: next(i for i, p in enumerate(order) if key in p)
        for key in ("fs/files", "jobs/update", "libraries/", "run-now")
    }
    last_update = max(i for i, p in enumerate(order) if "jobs/update" in p)
    assert (
        first["fs/files"]
        < first["jobs/update"]
        <= last_update
        < first["libraries/"]
        < first["run-now"]
    )

    # reports
    report = json.loads((settings.out / "deploy-report.json").read_text())
    assert report["outcome"] == "deployed" and report["requests"] == result.requests
    assert any("ml-busy" in w for w in report["warnings"])
    md = (settings.out / "deploy-report.md").read_text()
    assert "# Deploy of tsff 1.3.0 to prod: deployed" in md
    assert (settings.out / "plan.json").is_file() and (settings.out / "plan.md").is_file()

    # a second deploy of the same version changes nothing and says so
    ws.emu.clear_log()
    code = cli(ws, "deploy", "--dist", str(settings.dist))
    assert code == 0
    assert "tsff 1.3.0 on prod: nothing to change" in capsys.readouterr().out
    assert mutations(ws) == ["POST /api/2.2/jobs/run-now"]  # only the smoke run
    assert ws.emu.invariants() == []
    # the token is nowhere: not in the output, not in any file written
    captured = capsys.readouterr()
    written = "".join(p.read_text() for p in settings.out.rglob("*") if p.is_file())
    assert ws.emu.token not in captured.out + captured.err + written


def test_plan_is_read_only_and_works_with_a_read_only_token(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", READER)
    dist = ws.dist("1.3.0")
    out = ws.root / "out"
    before = ws.snapshot()
    code = cli(ws, "plan", "--dist", str(dist))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "# wheelship deploy plan: tsff 1.3.0 → prod" in captured.out
    assert mutations(ws) == []
    assert ws.snapshot() == before
    plan = json.loads((out / "plan.json").read_text())
    assert [j["job_id"] for j in plan["jobs"]] == [101, 102, 103, 105]
    assert plan["upload"]["path"] == whl("1.3.0")
    assert READER not in (out / "plan.json").read_text() + captured.out + captured.err

    # the same read-only token cannot deploy: refused at its first write (the lock), exit 2,
    # one line, nothing changed
    code = cli(ws, "deploy", "--dist", str(dist))
    err = capsys.readouterr().err
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0] == err.splitlines()[-1]
    assert errors[0].startswith(
        f"error: the deploy identity may not write to {ART} (creating the lock file "
        ".wheelship-prod.lock): PERMISSION_DENIED: "
    )
    assert ws.snapshot() == before


def test_long_waits_show_progress_and_gitlab_sections(
    workspace_factory: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from support.deployws import FAST

    slow = workspace_factory(clock_speed=10)  # type: ignore[operator]
    slow.config(clusters={"mode": "automated", "ids": [IDLE], "restart": "always", "wait": 600})
    monkeypatch.setenv("GITLAB_CI", "true")
    settings = slow.settings("1.3.0")
    workflow.run_deploy(settings, slow.knobs(timing=dataclasses.replace(FAST, progress_every=0.3)))
    err = capsys.readouterr().err
    assert "section_start:" in err and "wheelship_deploy_clusters[collapsed=true]" in err
    assert "section_end:" in err
    progress = [
        line
        for line in err.splitlines()
        if line.startswith(f"  cluster {IDLE} (ml-idle): tsff 1.3.0 ")
    ]
    assert progress, err  # e.g. "cluster ... tsff 1.3.0 PENDING (2 s)" while the restart runs


def test_jobs_on_a_shared_cluster_that_keeps_the_old_version_are_named(ws: Workspace) -> None:
    """A job task that installs the wheel on an all-purpose cluster fails to install it next to
    another loaded version. When the deploy leaves such a cluster on the old version (busy
    under ``if-idle``), the plan names the job — and the warning is real: its next run fails."""
    import requests

    task = {
        "task_key": "score",
        "existing_cluster_id": BUSY,
        "python_wheel_task": {"package_name": "tsff", "entry_point": "tsff"},
        "libraries": [{"whl": whl("1.2.0")}],
    }
    headers = {"Authorization": f"Bearer {ws.emu.token}"}
    created = requests.post(
        f"{ws.emu.url}/api/2.2/jobs/create",
        json={"name": "score-on-shared", "tasks": [task]},
        headers=headers,
        timeout=10,
    )
    job_id = created.json()["job_id"]
    ws.start_busy_run()
    plan, _result = workflow.run_deploy(ws.settings("1.3.0"), ws.knobs())
    expected = (
        f"job {job_id} (score-on-shared): task score installs tsff 1.3.0 on cluster {BUSY} "
        "(ml-busy), which has 1.2.0 loaded: its runs fail (ERROR_DUPLICATE_INSTALLATION) until "
        "the job and the cluster agree on one version"
    )
    assert expected in plan.warnings
    run = requests.post(
        f"{ws.emu.url}/api/2.2/jobs/run-now", json={"job_id": job_id}, headers=headers, timeout=10
    ).json()
    ws.emu.advance(60)
    (got,) = [r for r in ws.emu.runs(job_id) if r["run_id"] == run["run_id"]]
    assert got["status"]["termination_details"]["code"] == "LIBRARY_INSTALLATION_ERROR"
    assert "ERROR_DUPLICATE_INSTALLATION" in got["status"]["termination_details"]["message"]
    # with the idle cluster the same job would be fine: no warning names ml-idle
    assert not [w for w in plan.warnings if "ml-idle" in w]

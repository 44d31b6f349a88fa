"""status, rollback, runbook and manual mode over HTTP."""

from __future__ import annotations

import json

import pytest

from support.deployws import ART, CLUSTERS, MUTATING, Workspace, cli, unchanged, whl
from wheelship.deploy import references, workflow

IDLE, BUSY, TERM, ADMIN, OTHER = CLUSTERS
pytestmark = pytest.mark.usefixtures("ws_env")


def test_status_and_drift(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(ws, "status", "--fail-on-drift") == 0
    out = capsys.readouterr().out
    assert "job 101 (tsff-train)" in out and "live: 1.2.0\n" in out
    ws.start_busy_run()
    workflow.run_deploy(ws.settings("1.3.0"), ws.knobs())
    capsys.readouterr()
    ws.emu.clear_log()
    assert cli(ws, "status") == 0
    out = capsys.readouterr().out
    assert "live: 1.3.0, 1.2.0  — DRIFT: more than one version is live" in out
    assert f"cluster {BUSY} (ml-busy)" in out
    report = ws.root / "reports" / "status.json"
    assert cli(ws, "status", "--fail-on-drift", "--json", str(report)) == 3
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1] == (
        "error: 2 versions of tsff are live on prod: 1.3.0, 1.2.0 — deploy one version to every "
        "selected job and cluster ('wheelship deploy --target prod')"
    )
    # The failing drift check still shows, and keeps, where each version is live.
    assert f"cluster {BUSY} (ml-busy)" in captured.out
    written = json.loads(report.read_text())
    assert written["drift"] is True and written["live"] == ["1.3.0", "1.2.0"]
    assert cli(ws, "status", "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["drift"] is True and data["live"] == ["1.3.0", "1.2.0"]
    assert [r for r in ws.emu.requests if r.method in MUTATING] == []


def test_rollback_to_previous_and_named_versions(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.config(
        keep=3,
        clusters={"mode": "automated", "tags": {"tsff": "prod"}, "restart": "always", "wait": 600},
    )
    workflow.run_deploy(ws.settings("1.3.0"), ws.knobs())
    capsys.readouterr()
    assert cli(ws, "rollback") == 0
    assert "rolled prod back to tsff 1.2.0" in capsys.readouterr().out
    assert ws.emu.invariants() == []
    for job_id in (101, 102, 103, 105):
        assert references.referenced_versions(ws.emu.job_settings(job_id), "tsff") == {"1.2.0"}
    assert [x["library"]["whl"] for x in ws.emu.cluster_libraries(IDLE)] == [whl("1.2.0")]
    assert ws.emu.file_exists(whl("1.3.0"))  # kept for a roll-forward
    report = json.loads((ws.root / "out" / "deploy-report.json").read_text())
    assert report["action"] == "rollback" and report["sha256"] == ws.emu.file_sha256(whl("1.2.0"))

    assert cli(ws, "rollback", "--to", "1.1.0") == 0
    capsys.readouterr()
    assert {x["library"]["whl"] for x in ws.emu.cluster_libraries(IDLE)} == {whl("1.1.0")}
    assert ws.emu.invariants() == []

    ws.emu.clear_log()
    assert cli(ws, "rollback", "--to", "0.9.0") == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: version 0.9.0 is not retained in {ART} — roll back to one of: 1.3.0, 1.2.0, 1.1.0, 1.0.0"
    )
    unchanged(ws)


def test_manual_mode_writes_the_runbook_and_never_touches_a_cluster(ws: Workspace) -> None:
    ws.config(clusters={"mode": "manual", "tags": {"tsff": "manual"}})
    settings = ws.settings("1.3.0")
    plan, _ = workflow.run_deploy(settings, ws.knobs())
    assert [c.cluster_id for c in plan.manual_clusters] == [ADMIN]
    # no state-changing call to any cluster or library endpoint at all
    assert not [
        r
        for r in ws.emu.requests
        if r.method in MUTATING and ("/libraries/" in r.path or "/clusters/" in r.path)
    ]
    assert [x["library"]["whl"] for x in ws.emu.cluster_libraries(ADMIN)] == [whl("1.2.0")]
    book = json.loads((settings.out / "runbook.json").read_text())
    assert book["artifact"] == whl("1.3.0") and book["sha256"] == ws.emu.file_sha256(whl("1.3.0"))
    (entry,) = book["clusters"]
    assert (
        entry["cluster_id"] == ADMIN and entry["restart_required"] and entry["standard_access_mode"]
    )
    md = (settings.out / "runbook.md").read_text()
    assert "GRANT READ VOLUME ON VOLUME ml.tsff.wheels" in md
    assert (
        "1 cluster(s) in manual mode: see runbook.md"
        in (settings.out / "deploy-report.md").read_text()
    )
    # the runbook's payloads work when an admin sends them
    import requests

    for call in entry["api_calls"]:
        resp = requests.request(
            call["method"],
            ws.emu.url + call["path"],
            json=call["body"],
            headers={"Authorization": f"Bearer {ws.emu.token}"},
            timeout=10,
        )
        assert resp.ok, resp.text
    ws.emu.settle()
    assert [(x["library"]["whl"], x["status"]) for x in ws.emu.cluster_libraries(ADMIN)] == [
        (whl("1.3.0"), "INSTALLED")
    ]
    assert ws.emu.invariants() == []


def test_runbook_command_covers_automated_clusters_too(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    dist = ws.dist("1.3.0")
    assert cli(ws, "runbook", "--dist", str(dist)) == 0
    out = capsys.readouterr().out
    assert f"## ml-idle ({IDLE})" in out and f"## ml-terminated ({TERM})" in out
    assert [r for r in ws.emu.requests if r.method in MUTATING] == []


def test_smoke_failure_fails_the_deploy_after_everything_else(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    # the smoke job runs a wheel that does not exist: LIBRARY_INSTALLATION_ERROR
    ws.allow_violations = True  # that job breaks the invariant on purpose
    ws.config(
        smoke={"job": "broken-smoke", "timeout": 600},
        jobs={"select": "referencing", "exclude": ["broken-smoke"]},
    )
    import requests

    resp = requests.post(
        f"{ws.emu.url}/api/2.2/jobs/create",
        json={
            "name": "broken-smoke",
            "tasks": [
                {
                    "task_key": "s",
                    "new_cluster": {
                        "spark_version": "15.4.x-scala2.12",
                        "node_type_id": "i3.xlarge",
                        "num_workers": 1,
                    },
                    "python_wheel_task": {"package_name": "tsff", "entry_point": "tsff"},
                    "libraries": [
                        {"whl": "/Volumes/ml/tsff/wheels/missing/tsff-0.0.1-py3-none-any.whl"}
                    ],
                }
            ],
        },
        headers={"Authorization": f"Bearer {ws.emu.token}"},
        timeout=10,
    )
    resp.raise_for_status()
    code = cli(ws, "deploy", "--dist", str(ws.dist("1.3.0")))
    err = capsys.readouterr().err
    assert code == 1
    line = err.splitlines()[-1]
    assert line.startswith("error: deploy: smoke run ") and " ended FAILED" in line
    assert line.endswith("roll back with 'wheelship rollback --target prod'")
    report = json.loads((ws.root / "out" / "deploy-report.json").read_text())
    assert report["outcome"] == "failed" and report["smoke"]["result"] == "FAILED"

"""wheelship doctor against the emulator's shared workspace (identities, access lists, Unity
Catalog grants, access modes): every kind of check reachable as pass, warn and fail, and the
workspace unchanged afterwards."""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from support.deployws import ART, MUTATING, Workspace, cli, error_line, seed_clusters, seed_jobs
from support.wheels import make_wheel
from wheelship.deploy import doctor
from wheelship.deploy.doctor import Report
from wheelship.deploy.lock import LockInfo

pytestmark = pytest.mark.usefixtures("ws_env")

SP = "7d3e6a52-0d1c-4b8e-9a55-3f3c2a1b0c9d"
SP_TOKEN = "dapi-sp-deployer"
BOB = "bob@example.com"
IDLE, BUSY, TERM, ADMN = (
    "0101-000000-idle0001",
    "0101-000000-busy0001",
    "0101-000000-term0001",
    "0101-000000-admn0001",
)


def shared(*, write: bool = True) -> dict[str, Any]:
    """The deploy service principal may manage some jobs and clusters, only view others; a job
    is bundle-managed; one runs as a user without volume grants; clusters in several access
    modes; the SP holds its volume privileges directly."""
    jobs = seed_jobs()
    acls: dict[int, tuple[str, str]] = {
        101: ("CAN_MANAGE", SP),
        102: ("CAN_VIEW", BOB),  # the SP may only view it; it runs as bob
        103: ("CAN_MANAGE", SP),
        105: ("CAN_MANAGE", SP),
    }
    for job in jobs:
        if job["job_id"] in acls:
            level, creator = acls[job["job_id"]]
            job["creator_user_name"] = creator if creator == BOB else "admin@example.com"
            job["access_control_list"] = [{"service_principal_name": SP, "permission_level": level}]
            job["settings"]["run_as"] = (
                {"user_name": BOB} if creator == BOB else {"service_principal_name": SP}
            )
    jobs[2]["settings"]["deployment"] = {"kind": "BUNDLE", "metadata_file_path": "/b/tsff.json"}
    jobs[2]["settings"]["edit_mode"] = "UI_LOCKED"
    clusters = seed_clusters()
    modes = {IDLE: ("USER_ISOLATION", "CAN_MANAGE"), BUSY: ("NONE", "CAN_RESTART")}
    for cluster in clusters:
        mode, level = modes.get(cluster["cluster_id"], ("USER_ISOLATION", "CAN_MANAGE"))
        cluster["data_security_mode"] = mode
        cluster["access_control_list"] = [{"service_principal_name": SP, "permission_level": level}]
    privileges = ["READ VOLUME", "WRITE VOLUME"] if write else ["READ VOLUME"]
    return {
        "admin_user": "admin@example.com",
        "users": [{"user_name": BOB, "token": "dapi-bob"}],
        "service_principals": [
            {
                "application_id": SP,
                "display_name": "tsff-deployer",
                "permission": "user",
                "groups": ["deployers"],
                "token": SP_TOKEN,
            }
        ],
        "jobs": jobs,
        "clusters": clusters,
        "grants": [
            {"on": "catalog ml", "to": SP, "privileges": ["USE CATALOG"]},
            {"on": "schema ml.tsff", "to": SP, "privileges": ["USE SCHEMA"]},
            {"on": "volume ml.tsff.wheels", "to": SP, "privileges": privileges},
        ],
    }


TARGET: dict[str, Any] = {
    "clusters": [
        {"mode": "automated", "tags": {"tsff": "prod"}},
        {"mode": "manual", "tags": {"tsff": "manual"}},
    ]
}


def run(ws: Workspace, token: str | None = None, **target: Any) -> Report:
    ws.config(**{**TARGET, **target})
    env = {**ws.env, "DATABRICKS_TOKEN": token or ws.emu.token}
    return doctor.run_doctor(ws.settings("1.3.0"), ws.knobs(environ=env))


def verdict(report: Report, check: str, subject: str) -> str:
    found = [r for r in report.rows if r.check == check and r.subject.startswith(subject)]
    assert len(found) == 1, (check, subject, doctor.text(report))
    return found[0].verdict


def test_the_deploy_service_principal_in_a_shared_workspace(
    workspace_factory: Callable[..., Workspace],
) -> None:
    ws = workspace_factory(**shared())
    before = copy.deepcopy(ws.emu.jobs()), ws.emu.files("/Volumes/ml")
    ws.emu.clear_log()

    report = run(ws, SP_TOKEN)

    expected = {
        ("identity", SP): "pass",
        ("artifacts folder", ART): "pass",
        ("artifacts writable", ART): "pass",
        ("selection", "prod"): "pass",
        ("job", "101 (tsff-train)"): "pass",
        ("job", "102 (tsff-score)"): "fail",  # CAN_VIEW only
        ("job", "103 (tsff-serverless)"): "warn",  # a bundle manages it
        ("cluster", f"{IDLE} "): "pass",
        ("cluster", f"{BUSY} "): "fail",  # CAN_RESTART only
        ("cluster", f"{ADMN} "): "warn",  # manual mode
        ("library source", f"cluster {IDLE}"): "pass",
        ("library source", f"cluster {BUSY}"): "fail",  # no-isolation shared reads no volume
        ("READ VOLUME", f"{SP} (installer"): "pass",
        ("READ VOLUME", f"{SP} (run-as"): "pass",
        ("READ VOLUME", f"{BOB} (run-as identity of job 102)"): "fail",
        ("plan", "tsff 1.3.0"): "warn",  # retention judged on what a non-admin sees
    }
    for (check, subject), want in expected.items():
        assert verdict(report, check, subject) == want, (check, subject, doctor.text(report))
    assert report.exit_code == 1
    job103 = next(r for r in report.rows if r.subject.startswith("103"))
    assert "Databricks Asset Bundle (/b/tsff.json): the deploy skips it" in job103.detail
    assert "change the wheel where the job is defined" in job103.fix
    bob = next(r for r in report.rows if r.subject.startswith(BOB))
    assert bob.detail == "lacks USE CATALOG, USE SCHEMA, READ VOLUME on ml.tsff.wheels"
    assert bob.fix.startswith("GRANT USE CATALOG, USE SCHEMA, READ VOLUME on ml.tsff.wheels")
    # every row says what to do unless it passed
    assert all(r.fix for r in report.rows if r.verdict != "pass")
    # nothing visible changed: no job, cluster or file (the probe came and went)
    assert (ws.emu.jobs(), ws.emu.files("/Volumes/ml")) == before
    writes = [f"{r.method} {r.path}" for r in ws.emu.requests if r.method in MUTATING]
    assert [w.split(" ")[0] for w in writes] == ["PUT", "PUT", "DELETE"], writes
    assert all("/.wheelship" in w for w in writes), writes


def test_an_admin_user_token_passes_what_it_may_and_warns_of_itself(ws: Workspace) -> None:
    report = run(ws)
    assert verdict(report, "identity", "admin@example.com") == "warn"  # a person's token
    assert verdict(report, "plan", "tsff 1.3.0") == "pass"
    assert verdict(report, "READ VOLUME", "admin@example.com") == "warn"  # no grants visible
    assert report.exit_code == 0
    data = json.loads((ws.root / "out" / "doctor.json").read_text())
    assert data["schema"] == "wheelship-doctor/1" and data["exit_code"] == 0
    assert "| WARN | identity | admin@example.com |" in (ws.root / "out" / "doctor.md").read_text()


def test_bad_credentials_fail_the_identity_row_and_stop(
    ws: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    report = run(ws, "dapi-wrong")
    assert [(r.check, r.verdict) for r in report.rows] == [("identity", "fail")]
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-wrong")
    assert cli(ws, "doctor") == 1
    assert error_line(capsys).startswith(
        f"error: 1 check(s) failed on prod, first: identity {ws.emu.url}: authentication failed: "
    )


def test_the_cli_prints_the_table_and_exits_1_on_a_failing_check(
    workspace_factory: Callable[..., Workspace],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws = workspace_factory(**shared())
    monkeypatch.setenv("DATABRICKS_HOST", ws.emu.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", SP_TOKEN)
    ws.config(**TARGET)
    assert cli(ws, "doctor", "--dist", str(ws.dist("1.3.0"))) == 1
    out = capsys.readouterr()
    line = [x for x in out.err.splitlines() if x.startswith("error:")]
    assert line and line[0].startswith("error: 4 check(s) failed on prod, first: job 102")
    assert (
        "FAIL  job" in out.out and "-> grant the deploy identity CAN_MANAGE on job 102" in out.out
    )


def test_read_only_writes_nothing_at_all(
    workspace_factory: Callable[..., Workspace],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the merge-request job runs (the template's default): not even the probe."""
    ws = workspace_factory(**shared())
    monkeypatch.setenv("DATABRICKS_HOST", ws.emu.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", SP_TOKEN)
    monkeypatch.setenv("WHEELSHIP_READ_ONLY", "true")
    ws.config(**TARGET)
    ws.emu.clear_log()
    assert cli(ws, "doctor", "--dist", str(ws.dist("1.3.0"))) == 1
    assert [r for r in ws.emu.requests if r.method in MUTATING] == []
    out = capsys.readouterr().out
    assert "WARN  artifacts writable" in out
    assert "not probed (--read-only: this run writes nothing)" in out


def test_writes_refused_a_missing_folder_and_a_missing_volume(
    workspace_factory: Callable[..., Workspace],
) -> None:
    ws = workspace_factory(**shared(write=False))
    report = run(ws, SP_TOKEN)
    assert verdict(report, "artifacts writable", ART) == "fail"
    row = next(r for r in report.rows if r.check == "artifacts writable")
    assert "WRITE VOLUME" in row.detail and "WRITE VOLUME" in row.fix

    report = run(ws, SP_TOKEN, artifacts=f"{ART}/next")
    assert verdict(report, "artifacts folder", f"{ART}/next") == "warn"
    assert verdict(report, "artifacts writable", f"{ART}/next") == "warn"

    report = run(ws, SP_TOKEN, artifacts="/Volumes/ml/gone/wheels")
    assert verdict(report, "artifacts folder", "/Volumes/ml/gone/wheels") == "fail"


def test_selection_and_plan_rows(ws: Workspace) -> None:
    report = run(ws, jobs={"select": "listed", "ids": [999]})
    assert verdict(report, "selection", "prod") == "fail"
    report = run(ws, jobs={"names": ["nothing-*"]})
    assert verdict(report, "selection", "prod") == "warn"
    # the build's version is already there with other bytes: the deploy would be refused
    other = make_wheel(ws.root / "other", "tsff", "1.3.0", payload=b"other bytes")
    ws.emu.put_file(f"{ART}/{other.name}", other.read_bytes())
    report = run(ws)
    assert verdict(report, "plan", "tsff 1.3.0") == "fail"
    assert (
        "already exists with different bytes"
        in next(r for r in report.rows if r.check == "plan").detail
    )


def test_dbfs_sources_by_runtime(workspace_factory: Callable[..., Workspace]) -> None:
    clusters = seed_clusters(folder="dbfs:/FileStore/wheels")
    for cluster in clusters:
        cluster["spark_version"] = (
            "14.3.x-scala2.12" if cluster["cluster_id"] == IDLE else "15.4.x-scala2.12"
        )
    ws = workspace_factory(clusters=clusters, folder="dbfs:/FileStore/wheels")
    report = run(ws, artifacts="dbfs:/FileStore/wheels")
    assert verdict(report, "library source", f"cluster {IDLE}") == "warn"  # works on 14.3, for now
    assert verdict(report, "library source", f"cluster {BUSY}") == "fail"  # DBR 15.4
    assert verdict(report, "library source", "job 101 on job cluster main") == "fail"


def test_a_held_lock_fails_a_stale_one_warns(ws: Workspace) -> None:
    assert verdict(run(ws), "lock", ".wheelship-prod.lock") == "pass"
    now = time.time()
    held = LockInfo(
        "prod", "https://gitlab.example.com/x/-/jobs/7", "runner-9", 4242, now, 3600, "t1"
    )
    ws.emu.put_file(f"{ART}/.wheelship-prod.lock", held.to_bytes())
    report = run(ws)
    assert verdict(report, "lock", ".wheelship-prod.lock") == "fail"
    row = next(r for r in report.rows if r.check == "lock")
    assert row.detail.startswith(
        "held by https://gitlab.example.com/x/-/jobs/7 (deploy, host runner-9"
    )
    assert "--force-unlock" in row.fix
    old = dataclasses.replace(held, started=now - 7200)
    ws.emu.put_file(f"{ART}/.wheelship-prod.lock", old.to_bytes())
    report = run(ws)
    assert verdict(report, "lock", ".wheelship-prod.lock") == "warn"
    assert (
        "stale (older than its TTL (3600 s))"
        in next(r for r in report.rows if r.check == "lock").detail
    )
    # doctor never takes, moves or removes a lock
    assert ws.emu.read_file(f"{ART}/.wheelship-prod.lock") == old.to_bytes()

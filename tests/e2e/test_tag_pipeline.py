"""The release-tag pipeline of the example project ``tsff`` from the full-pipeline component
(scenarios 3 and 4): build, test, plan, publish to a real pypiserver, deploy to the workspace
emulator behind the manual gate, status, and the admin runbook of a manual-mode target.

The story runs once (module fixture), as it would happen; each test checks one claim about it:

1. ``v1.1.0`` is tagged; GitLab runs the tag pipeline up to the manual gate;
2. someone starts ``wheelship-deploy`` (gitlab-ci-local ``--manual``); ``wheelship-status``,
   which waits for it, reports where each version is; publish runs again and changes nothing;
3. the cluster admin follows the runbook artifact; the scheduled drift check passes;
4. a colleague points a job back at the old wheel by hand; the scheduled drift check fails;
5. someone starts the manual ``wheelship-rollback`` job: 1.0.0 is back everywhere it may go.

The jobs authenticate to Databricks as docs/oidc.md recommends: no stored secret, the GitLab ID
token of the job (``id_tokens:``) exchanged for a workspace token under a federation policy on the
project path. gitlab-ci-local mints no ID tokens, so the test plays GitLab and passes a signed one
in ``WHEELSHIP_ID_TOKEN``. Neither it nor the index password shows in any log or kept file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from support import example_workspace as ws
from support.consumer import (
    CONSUMER_PATH,
    HOST,
    Consumer,
    include_component,
    make_example_consumer,
)
from support.gitlab_ci_local import (
    TEST_KNOB_NO_ISOLATION,
    GitlabCiLocal,
    Pipeline,
    PipelineRun,
    Runner,
)
from support.pypiserver import PypiServer, run_pypiserver
from wheelship.databricks.auth import PatAuth
from wheelship.databricks.client import Client
from wheelship.emulator import Emulator
from wheelship.emulator.auth import make_jwt

TAG = "v1.1.0"
NEW = "1.1.0"
CLOCK_SPEED = 400.0  # simulated seconds per real second: restarts and smoke runs take ~0.1 s
#: What GitLab runs of the tag pipeline before anyone opens the gate.
UNGATED = (
    "wheelship-build",
    "wheelship-test",
    "wheelship-plan",
    "wheelship-publish",
    "wheelship-runbook",
)
CLUSTERS = (ws.RUNNING, ws.TERMINATED, ws.RESTRICTED)
DEPLOYER = "5f1d3c9e-0000-4000-8000-0000000d3910"  # the service principal's application id
SIGNING_KEY = "gitlab-oidc-signing-key-of-the-test"
AUDIENCE = "databricks-account-of-the-test"


@dataclass
class Story:
    consumer: Consumer
    emu: Emulator
    index: PypiServer
    previous_wheel: Path
    id_token: str
    runs: dict[str, PipelineRun] = field(default_factory=dict)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    invariants: dict[str, list[str]] = field(default_factory=dict)

    def everything_logged(self) -> str:
        return "\n".join(
            run.output + "".join(p.read_text() for p in (run.state_dir / "output").glob("*.log"))
            for run in self.runs.values()
        )


def built(story: Story) -> dict[str, Any]:
    """The build job's manifest."""
    dist = story.runs["gated"].artifacts("wheelship-build") / "dist"
    return json.loads((dist / "wheelship-manifest.json").read_text())  # type: ignore[no-any-return]


def libraries(emu: Emulator, cluster_id: str) -> list[tuple[str, str]]:
    return sorted(
        (json.dumps(lib["library"], sort_keys=True), lib["status"])
        for lib in emu.cluster_libraries(cluster_id)
    )


def snapshot(emu: Emulator) -> dict[str, Any]:
    """The workspace as the tests compare it (read in-process: it adds no requests)."""
    return {
        "jobs": {jid: emu.job_settings(jid) for jid in [*ws.TSFF_JOBS, ws.OTHER_JOB]},
        "libraries": {cid: libraries(emu, cid) for cid in CLUSTERS},
        "clusters": {cid: emu.cluster(cid) for cid in CLUSTERS},
        "files": sorted(emu.files(ws.ARTIFACTS)),
        "mutations": [
            f"{r.method} {r.path}"
            for r in emu.requests
            if r.method not in ("GET", "HEAD") and r.path.startswith("/api/")
        ],
    }


def admin_call(emu: Emulator, path: str, body: dict[str, Any], method: str = "POST") -> None:
    """A workspace admin's API call (the admin token; not the pipeline's credentials)."""
    admin = Client(emu.url, PatAuth(emu.token))
    try:
        admin.request(method, path, json_body=body)
    finally:
        admin.close()


def follow_runbook(emu: Emulator, runbook: dict[str, Any]) -> None:
    """What the cluster admin does with the runbook artifact: send its API calls."""
    for entry in runbook["clusters"]:
        for call in entry["api_calls"]:
            if call["method"] != "GET":
                admin_call(emu, call["path"], call["body"], call["method"])
    emu.settle()


def edit_job_by_hand(emu: Emulator, job_id: int, version: str) -> None:
    """A colleague puts the old wheel back into one job through the API (as the UI does)."""
    task = emu.job_settings(job_id)["tasks"][0]
    task["libraries"] = [{"whl": ws.wheel_path(version)}]
    admin_call(emu, "/api/2.1/jobs/update", {"job_id": job_id, "new_settings": {"tasks": [task]}})


def id_token_for(ref: str) -> str:
    """The ID token GitLab would give a job of this project's pipeline for ``ref``."""
    now = int(time.time())
    claims = {
        "iss": f"https://{HOST}",
        "aud": AUDIENCE,
        "sub": f"project_path:{CONSUMER_PATH}:ref_type:tag:ref:{ref}",
        "project_path": CONSUMER_PATH,
        "ref_type": "tag",
        "ref": ref,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
    }
    return make_jwt(claims, SIGNING_KEY)


def workspace_seed(previous: Path, registry: str) -> dict[str, Any]:
    """The demo's workspace, and a deployer service principal federated with this project."""
    return {
        **ws.seed(previous, registry),
        "service_principals": [
            {"application_id": DEPLOYER, "display_name": "tsff-deployer", "permission": "admin"}
        ],
        "oidc_federation": [
            {
                "issuer": f"https://{HOST}",
                "audiences": [AUDIENCE],
                # Release tags change the sub claim every time: match the project path instead.
                "subject_claim": "project_path",
                "subject": CONSUMER_PATH,
                "service_principal": DEPLOYER,
                "hs256_secret": SIGNING_KEY,
            }
        ],
    }


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory, runner: Runner) -> Iterator[Story]:
    base = tmp_path_factory.mktemp("release")
    previous = ws.build_previous_release(base)
    with (
        run_pypiserver(base / "index") as index,
        Emulator(seed=workspace_seed(previous, index.simple_url), clock_speed=CLOCK_SPEED) as emu,
    ):
        (index.packages / previous.name).write_bytes(previous.read_bytes())  # the last release
        ci = {
            "include": [
                include_component(
                    "full-pipeline",
                    {
                        **runner.test_knob_install_inputs,
                        "oidc-audience": AUDIENCE,
                        "repository-url": index.url,
                        "password-variable": "INDEX_PASSWORD",
                        "runbook-target": "restricted",
                    },
                )
            ]
        }
        consumer = make_example_consumer(base / "tsff", ci, files={"wheelship.yml": ws.CONFIG})
        consumer.commit("Holt-Winters: damped trend by default")
        consumer.repo.tag(TAG)
        consumer.push("main", "--tags")
        id_token = id_token_for(TAG)
        variables = {
            **TEST_KNOB_NO_ISOLATION,
            "TWINE_USERNAME": index.username,
            "INDEX_PASSWORD": index.password,
            "DATABRICKS_HOST": emu.url,
            # What the project sets up for OIDC federation (docs/oidc.md).
            "DATABRICKS_AUTH_TYPE": "env-oidc",
            "DATABRICKS_CLIENT_ID": DEPLOYER,
            "WHEELSHIP_ID_TOKEN": id_token,  # GitLab's part: the job's id_tokens entry
        }
        gcl = GitlabCiLocal(consumer.path, env=runner.env)
        tag, schedule = Pipeline.tag(TAG), Pipeline.schedule("main")
        story = Story(consumer, emu, index, previous, id_token)

        def run(name: str, *jobs: str, **kwargs: Any) -> PipelineRun:
            return gcl.run(*jobs, **kwargs).keep(base / "runs" / name)

        story.states["before"] = snapshot(emu)
        story.runs["whole"] = run("whole", pipeline=tag, variables=variables)
        story.runs["gated"] = run("gated", *UNGATED, pipeline=tag, variables=variables)
        story.states["gated"] = snapshot(emu)

        story.runs["deploy"] = run(
            "deploy",
            "wheelship-publish",
            "wheelship-deploy",
            "wheelship-status",
            pipeline=tag,
            variables=variables,
            manual=["wheelship-deploy"],
        )
        emu.settle()
        story.states["deployed"] = snapshot(emu)
        story.invariants["deployed"] = emu.invariants()
        admin_call(emu, "/api/2.1/clusters/start", {"cluster_id": ws.TERMINATED})  # tonight
        emu.settle()
        story.states["nightly started"] = snapshot(emu)

        runbook = story.runs["gated"].artifacts("wheelship-runbook") / "runbook.json"
        follow_runbook(emu, json.loads(runbook.read_text()))
        story.runs["schedule"] = run("schedule", pipeline=schedule, variables=variables)
        story.states["admin"] = snapshot(emu)
        story.invariants["admin"] = emu.invariants()

        edit_job_by_hand(emu, 1001, ws.PREVIOUS)
        story.runs["drift"] = run("drift", pipeline=schedule, variables=variables)

        story.runs["rollback"] = run(
            "rollback",
            "wheelship-rollback",
            pipeline=tag,
            variables=variables,
            manual=["wheelship-rollback"],
        )
        emu.settle()
        story.states["rolled back"] = snapshot(emu)
        story.invariants["rolled back"] = emu.invariants()
        yield story
        assert emu.internal_errors == []


def test_the_manual_gate_holds_the_deploy_and_everything_before_it_runs(story: Story) -> None:
    whole = story.runs["whole"]
    # gitlab-ci-local refuses to start a pipeline whose jobs wait for an unstarted manual job.
    assert whole.returncode != 0
    assert "wheelship-deploy is when:manual, its needed by wheelship-status" in whole.output
    gated = story.runs["gated"]
    assert gated.returncode == 0, gated.explain()
    assert all(gated.passed(job) for job in UNGATED), gated.explain()
    assert "wheelship-deploy" not in gated.output
    # Up to the gate the workspace is only read: plan and runbook change nothing.
    assert story.states["gated"] == {**story.states["before"], "mutations": []}


def test_the_release_is_built_tested_and_published_to_the_index(story: Story) -> None:
    gated = story.runs["gated"]
    dist = gated.artifacts("wheelship-build") / "dist"
    manifest = built(story)
    assert (manifest["name"], manifest["version"], manifest["tag"]) == ("tsff", NEW, TAG)
    assert gated.dotenv("wheelship-build")["WHEELSHIP_VERSION"] == NEW
    assert "7 passed" in gated.log("wheelship-test")
    stored = story.index.stored()
    assert set(stored) == {story.previous_wheel.name, *(f["name"] for f in manifest["files"])}
    for f in manifest["files"]:
        assert stored[f["name"]] == (dist / f["name"]).read_bytes()
    # The index the backtest job installs its pin from now lists the new release.
    page = requests.get(f"{story.index.simple_url}/tsff/", timeout=10).text
    assert f"tsff-{NEW}-py3-none-any.whl" in page and "tsff-1.0.0-py3-none-any.whl" in page
    # Publishing the same tag again (a retried pipeline) skips what is there.
    deploy = story.runs["deploy"]
    assert "already" in deploy.log("wheelship-publish"), deploy.explain()
    assert story.index.stored() == stored


def test_the_plan_artifact_shows_what_the_deploy_then_did(story: Story) -> None:
    plan_dir = story.runs["gated"].artifacts("wheelship-plan")
    plan = json.loads((plan_dir / "plan.json").read_text())
    assert "tsff-train" in (plan_dir / "plan.md").read_text()
    assert plan["version"] == NEW and plan["upload"] is not None
    assert sorted(j["job_id"] for j in plan["jobs"]) == sorted(ws.TSFF_JOBS)
    report = json.loads(
        (story.runs["deploy"].artifacts("wheelship-deploy") / "deploy-report.json").read_text()
    )
    done = [(s["step"], s["obj"]) for s in report["steps"] if s["outcome"] == "done"]
    assert {step for step, _ in done} >= {"upload", "repoint job", "restart cluster", "smoke run"}


def test_deploy_repoints_every_job_and_leaves_one_version_on_each_automated_cluster(
    story: Story,
) -> None:
    run = story.runs["deploy"]
    assert run.returncode == 0, run.explain()
    assert run.passed("wheelship-deploy") and run.passed("wheelship-status"), run.explain()
    after, before = story.states["deployed"], story.states["before"]
    for job_id in ws.TSFF_JOBS:
        refs = ws.tsff_references(after["jobs"][job_id])
        assert refs and all(NEW in ref and "1.0.0" not in ref for ref in refs), (job_id, refs)
    assert after["jobs"][ws.OTHER_JOB] == before["jobs"][ws.OTHER_JOB]
    backtest = after["jobs"][1003]["tasks"][0]["for_each_task"]["task"]["libraries"][0]["pypi"]
    assert backtest == {"package": f"tsff=={NEW}", "repo": story.index.simple_url}
    new_wheel = json.dumps({"whl": ws.wheel_path(NEW)})
    assert after["libraries"][ws.RUNNING] == [(new_wheel, "INSTALLED")]
    # Terminated: the change waits for its next start, when only the new version loads.
    old_wheel = json.dumps({"whl": ws.wheel_path("1.0.0")})
    assert after["libraries"][ws.TERMINATED] == [
        (old_wheel, "UNINSTALL_ON_RESTART"),
        (new_wheel, "PENDING"),
    ]
    assert story.states["nightly started"]["libraries"][ws.TERMINATED] == [(new_wheel, "INSTALLED")]
    assert story.invariants["deployed"] == []
    # The wheel in the workspace is the build's, and the previous one stays for rollback.
    assert after["files"] == [ws.wheel_path("1.0.0"), ws.wheel_path(NEW)]
    (wheel,) = [f for f in built(story)["files"] if f["name"].endswith(".whl")]
    assert story.emu.file_sha256(ws.wheel_path(NEW)) == wheel["sha256"]


def test_a_manual_mode_cluster_gets_a_runbook_and_is_not_touched(story: Story) -> None:
    before, after = story.states["before"], story.states["deployed"]
    assert after["libraries"][ws.RESTRICTED] == before["libraries"][ws.RESTRICTED]
    assert after["clusters"][ws.RESTRICTED] == before["clusters"][ws.RESTRICTED]  # no restart
    for job, target in (("wheelship-runbook", "restricted"), ("wheelship-deploy", "prod")):
        folder = story.runs["gated" if job == "wheelship-runbook" else "deploy"].artifacts(job)
        book = json.loads((folder / "runbook.json").read_text())
        assert book["target"] == target and book["version"] == NEW
        assert [c["cluster_id"] for c in book["clusters"]] == [ws.RESTRICTED]
        text = (folder / "runbook.md").read_text()
        assert ws.wheel_path(NEW) in text and "Uninstall" in text


def test_status_reports_the_drift_after_deploy_and_the_schedule_checks_it(story: Story) -> None:
    deploy = story.runs["deploy"]
    log = deploy.log("wheelship-status")
    # Until the admin follows the runbook, the restricted cluster runs 1.0.0: reported, not failed.
    assert f"live: {NEW}, 1.0.0  — DRIFT" in log, deploy.explain()
    status = json.loads((deploy.artifacts("wheelship-status") / "status.json").read_text())
    assert status["drift"] is True and status["live"] == [NEW, "1.0.0"]

    settled = story.runs["schedule"]
    assert settled.returncode == 0, settled.explain()
    assert f"live: {NEW}\n" in settled.log("wheelship-status")
    assert story.states["admin"]["libraries"][ws.RESTRICTED] == [
        (json.dumps({"whl": ws.wheel_path(NEW)}), "INSTALLED")
    ]
    assert story.invariants["admin"] == []

    drift = story.runs["drift"]
    assert drift.returncode != 0, drift.explain()
    log = drift.log("wheelship-status")
    assert "job 1001 (tsff-train)" in log and "1.0.0" in log
    assert (
        f"error: 2 versions of tsff are live on prod: {NEW}, 1.0.0 — deploy one version to every "
        "selected job and cluster ('wheelship deploy --target prod')"
    ) in log
    report = json.loads((drift.artifacts("wheelship-status") / "status.json").read_text())
    assert report["drift"] is True


def test_the_manual_rollback_job_brings_the_previous_release_back(story: Story) -> None:
    run = story.runs["rollback"]
    assert run.returncode == 0, run.explain()
    assert f"rolled prod back to tsff {ws.PREVIOUS}" in run.log("wheelship-rollback")
    state = story.states["rolled back"]
    for job_id in ws.TSFF_JOBS:
        refs = ws.tsff_references(state["jobs"][job_id])
        assert refs and all(ws.PREVIOUS in ref and NEW not in ref for ref in refs), (job_id, refs)
    old_wheel = json.dumps({"whl": ws.wheel_path(ws.PREVIOUS)})
    for cluster in (ws.RUNNING, ws.TERMINATED):
        assert state["libraries"][cluster] == [(old_wheel, "INSTALLED")], cluster
    assert story.invariants["rolled back"] == []
    assert ws.wheel_path(NEW) in state["files"], "a rollback deletes nothing"
    report = json.loads((run.artifacts("wheelship-rollback") / "deploy-report.json").read_text())
    assert report["plan"]["version"] == ws.PREVIOUS


def test_the_jobs_authenticate_with_their_id_token_alone(story: Story) -> None:
    # Every pipeline request came with a token exchanged for the job's ID token (the "admin"
    # requests are the test's: the runbook's calls and the hand edit).
    pipeline = [r for r in story.emu.requests if r.token != "admin"]
    exchanges = [r for r in pipeline if r.path == "/oidc/v1/token"]
    assert exchanges and all(r.status == 200 for r in exchanges)
    assert {r.token for r in pipeline if r.path.startswith("/api/")} == {f"oauth:{DEPLOYER}"}


def test_no_credential_reaches_a_log_or_an_artifact(story: Story) -> None:
    logged = story.everything_logged()
    assert story.id_token not in logged
    assert story.index.password not in logged
    # Nor any file gitlab-ci-local keeps: logs, artifacts, job scripts, the builds' copies.
    state = story.consumer.path / ".gitlab-ci-local"
    for path in [*state.rglob("*"), *(story.consumer.path.parent / "runs").rglob("*")]:
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            assert story.id_token.encode() not in data, path
            assert story.index.password.encode() not in data, path

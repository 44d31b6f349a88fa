"""A team's first pipelines on the templates' defaults, from the first merge request to a
rollback (issue 10's story): ``demand-forecast``, a hatchling + hatch-vcs project with a src
layout, tests, a README and an ordinary ``.gitignore`` (tests/fixtures/consumers), whose
``.gitlab-ci.yml`` includes ``full-pipeline`` with only what a team on its own package index
sets (the index URL, its user, the name of its password variable).

No test knob: the jobs start from a bare Python (support/job_image.py) and install wheelship
with all its dependencies from the team's index (``PIP_INDEX_URL``); builds use the templates'
cached isolation and cache paths. The test plays GitLab — predefined variables, the Releases
API (support/fake_gitlab.py, creating tags in the bare ``origin``), the manual "play" — and the
workspace admin; Databricks is the emulator. The story runs once (module fixture):

1. merge request: build, test, plan, and the publish check (a dry run with the index user);
2. main after the merge: build, test;
3. ``release/1.0``: build, test, compat, tag — the Releases API creates ``v1.0.0``;
4. tag ``v1.0.0``: build, test, plan, publish, deploy (started by hand), status;
5. the scheduled drift check fails: the manual-mode cluster needs its admin and the runbook;
   the admin follows it; the next check passes;
6. a fix on ``release/1.0`` gets ``v1.0.1``, which is deployed;
7. rollback from the Environments page (re-running ``v1.0.0``'s deploy job), re-deploy of
   ``v1.0.1``, then the manual ``wheelship-rollback`` job of ``v1.0.1``'s pipeline;
8. a beta tag ``v1.1.0-beta.1`` gets a release pipeline and publishes ``1.1.0b1``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import tarfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from support.consumer import Consumer, make_team_project
from support.fake_gitlab import FakeGitLab, run_fake_gitlab
from support.gitlab_ci_local import GitlabCiLocal, Pipeline, PipelineRun
from support.job_image import JobImage
from support.mirror import TEAM_USERS
from support.pypiserver import PypiServer
from wheelship.databricks.auth import PatAuth
from wheelship.databricks.client import Client
from wheelship.emulator import Emulator

PACKAGE = "demand-forecast"
PROJECT_PATH = "supply/demand-forecast"
ART = "/Volumes/supply/forecast/wheels"
AUTO = "0202-000000-supplyai"  # the team's cluster (automated)
SHARED = "0202-000000-sharedbi"  # the BI team's cluster: only its admin changes it (manual)
JOB = 3001
DEPLOY_TOKEN = "dapi-supply-deployer-0c9e"
INDEX_TOKEN = TEAM_USERS["supply-ci"]
CLOCK_SPEED = 400.0
#: What GitLab runs of a release tag's pipeline once someone starts the deploy.
RELEASE = (
    "wheelship-build",
    "wheelship-test",
    "wheelship-plan",
    "wheelship-publish",
    "wheelship-deploy",
    "wheelship-status",
)


def whl(version: str) -> str:
    return f"{ART}/demand_forecast-{version}-py3-none-any.whl"


def hand_built_wheel() -> bytes:
    """0.9.0, which the team uploaded by hand before it had a pipeline."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("demand_forecast/__init__.py", "")
        info = "demand_forecast-0.9.0.dist-info"
        zf.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: demand-forecast\n")
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
        zf.writestr(f"{info}/RECORD", "")
    return buf.getvalue()


def workspace_seed() -> dict[str, Any]:
    old = [{"whl": whl("0.9.0")}]
    return {
        "tokens": [{"name": "deployer", "value": DEPLOY_TOKEN}],
        "volumes": [ART],
        "files": [
            {
                "path": whl("0.9.0"),
                "content_base64": base64.b64encode(hand_built_wheel()).decode(),
            }
        ],
        "clusters": [
            {
                "cluster_id": AUTO,
                "cluster_name": "supply-interactive",
                "state": "RUNNING",
                "custom_tags": {"team": "supply"},
                "data_security_mode": "SINGLE_USER",
                "libraries": old,
            },
            {
                "cluster_id": SHARED,
                "cluster_name": "shared-bi",
                "state": "RUNNING",
                "custom_tags": {"team": "bi"},
                "data_security_mode": "USER_ISOLATION",
                "libraries": old,
            },
        ],
        "jobs": [
            {
                "job_id": JOB,
                "settings": {
                    "name": "demand-forecast-train",
                    "job_clusters": [
                        {
                            "job_cluster_key": "main",
                            "new_cluster": {
                                "spark_version": "15.4.x-scala2.12",
                                "node_type_id": "i3.xlarge",
                                "num_workers": 1,
                            },
                        }
                    ],
                    "tasks": [
                        {
                            "task_key": "train",
                            "job_cluster_key": "main",
                            "python_wheel_task": {
                                "package_name": "demand_forecast",
                                "entry_point": "demand-forecast",
                                "parameters": ["train"],
                            },
                            "libraries": old,
                        }
                    ],
                },
            }
        ],
    }


@dataclass
class Story:
    consumer: Consumer
    emu: Emulator
    index: PypiServer
    fake: FakeGitLab
    runs: dict[str, PipelineRun] = field(default_factory=dict)
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    beta_jobs: dict[str, Any] = field(default_factory=dict)
    writes_before_release: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def secrets(self) -> tuple[str, ...]:
        return (DEPLOY_TOKEN, INDEX_TOKEN, self.fake.tokens["JOB-TOKEN"])


def live_state(emu: Emulator) -> dict[str, Any]:
    """Which wheel the job and each cluster use (read in-process: no requests)."""
    emu.settle()
    task = emu.job_settings(JOB)["tasks"][0]
    return {
        "job": [lib.get("whl") for lib in task.get("libraries", [])],
        "clusters": {
            cid: sorted(
                (lib["library"].get("whl", ""), lib["status"]) for lib in emu.cluster_libraries(cid)
            )
            for cid in (AUTO, SHARED)
        },
        "files": sorted(emu.files(ART)),
    }


def follow_runbook(emu: Emulator, runbook: dict[str, Any]) -> None:
    """The BI team's admin sends the runbook's API calls with their own (admin) token."""
    admin = Client(emu.url, PatAuth(emu.token))
    try:
        for entry in runbook["clusters"]:
            for call in entry["api_calls"]:
                if call["method"] != "GET":
                    admin.request(call["method"], call["path"], json_body=call["body"])
    finally:
        admin.close()
    emu.settle()


@pytest.fixture(scope="module")
def story(
    tmp_path_factory: pytest.TempPathFactory, mirror: PypiServer, job_image: JobImage
) -> Iterator[Story]:
    base = tmp_path_factory.mktemp("first-pipelines")
    home = base / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Dana Dev\n\temail = dana@example.com\n")
    consumer = make_team_project(
        "demand-forecast",
        base / "demand-forecast",
        project_path=PROJECT_PATH,
        index_url=mirror.url,
    )
    repo = consumer.repo
    fake = FakeGitLab(project_id="77", project_path=PROJECT_PATH, bare_repo=consumer.origin)
    started = time.monotonic()
    with run_fake_gitlab(fake), Emulator(seed=workspace_seed(), clock_speed=CLOCK_SPEED) as emu:
        story = Story(consumer, emu, mirror, fake)
        variables = {
            # the team's CI/CD variables (README: variables to set)
            "PIP_INDEX_URL": mirror.simple_url,
            "SUPPLY_INDEX_TOKEN": INDEX_TOKEN,
            "DATABRICKS_HOST": emu.url,
            "DATABRICKS_TOKEN": DEPLOY_TOKEN,
            # what GitLab gives every job
            "CI_API_V4_URL": fake.api_url,
            "CI_PROJECT_ID": "77",
            "CI_JOB_TOKEN": fake.tokens["JOB-TOKEN"],
        }
        gcl = GitlabCiLocal(consumer.path, env=job_image.env(home))

        def run(name: str, pipeline: Pipeline, *jobs: str, **kw: Any) -> PipelineRun:
            done = gcl.run(*jobs, pipeline=pipeline, variables=variables, **kw)
            story.runs[name] = done.keep(base / "runs" / name)
            return story.runs[name]

        story.live["before"] = live_state(emu)
        # 1-2. A merge request, merged.
        repo.checkout("-b", "feature/smoothing")
        repo.commit("models: exponential smoothing", files={"CHANGELOG.md": "- smoothing\n"})
        consumer.push("feature/smoothing")
        run("mr", Pipeline.merge_request("feature/smoothing", iid=3))
        repo.checkout("main")
        repo.git("merge", "-q", "--no-ff", "feature/smoothing", "-m", "Merge smoothing")
        consumer.push("main")
        run("main", Pipeline.branch("main", iid=4))
        # 3. The release branch: its pipeline creates v1.0.0 (Releases API).
        repo.checkout("-b", "release/1.0")
        consumer.push("release/1.0")
        run("release-1.0", Pipeline.branch("release/1.0", iid=5))
        repo.git("fetch", "-q", "origin", "--tags")
        story.writes_before_release = [
            f"{r.method} {r.path}"
            for r in emu.requests
            if r.method not in ("GET", "HEAD") and r.path.startswith("/api/")
        ]
        # 4. The tag pipeline; someone opens the manual gate.
        run("v1.0.0", Pipeline.tag("v1.0.0", iid=6), manual=["wheelship-deploy"])
        story.live["v1.0.0"] = live_state(emu)
        # 5. Tonight's drift check; the admin follows the runbook; the next night's check.
        run("schedule", Pipeline.schedule("main", iid=7))
        runbook = story.runs["v1.0.0"].artifacts("wheelship-deploy") / "runbook.json"
        follow_runbook(emu, json.loads(runbook.read_text()))
        run("schedule-after-runbook", Pipeline.schedule("main", iid=8))
        # 6. A fix on the release branch: v1.0.1, deployed.
        repo.checkout("release/1.0")
        repo.commit(
            "models: smooth() accepts one value",
            files={"CHANGELOG.md": "- smoothing\n- one value\n"},
        )
        consumer.push("release/1.0")
        run("release-1.0-fix", Pipeline.branch("release/1.0", iid=9))
        repo.git("fetch", "-q", "origin", "--tags")
        run("v1.0.1", Pipeline.tag("v1.0.1", iid=10), manual=["wheelship-deploy"])
        story.live["v1.0.1"] = live_state(emu)
        # 7. Environments page, "Rollback" on v1.0.0's deployment: GitLab re-runs that job of
        # v1.0.0's pipeline, with that pipeline's artifacts (kept for each tag's latest pipeline).
        state = consumer.path / ".gitlab-ci-local" / "artifacts" / "wheelship-build"
        shutil.rmtree(state)
        shutil.copytree(story.runs["v1.0.0"].artifacts("wheelship-build"), state)
        repo.checkout("v1.0.0")
        run("env-rollback", Pipeline.tag("v1.0.0", iid=6), "wheelship-deploy")
        story.live["env-rollback"] = live_state(emu)
        repo.checkout("release/1.0")
        shutil.rmtree(state)
        shutil.copytree(story.runs["v1.0.1"].artifacts("wheelship-build"), state)
        run("env-redeploy", Pipeline.tag("v1.0.1", iid=10), "wheelship-deploy")
        story.live["env-redeploy"] = live_state(emu)
        # ... and the manual rollback job of v1.0.1's pipeline.
        run(
            "rollback-job",
            Pipeline.tag("v1.0.1", iid=10),
            "wheelship-rollback",
            manual=["wheelship-rollback"],
        )
        story.live["rollback-job"] = live_state(emu)
        # 8. A beta of the next minor, tagged on main by hand.
        repo.checkout("main")
        repo.commit("models: damped trend (beta)", files={"NOTES.md": "beta\n"})
        repo.tag("v1.1.0-beta.1")
        consumer.push("main", "v1.1.0-beta.1")
        beta = Pipeline.tag("v1.1.0-beta.1", iid=11)
        story.beta_jobs = dict(gcl.jobs(beta, variables=variables))
        run("beta", beta, "wheelship-build", "wheelship-test", "wheelship-publish", needs=True)
        story.seconds = time.monotonic() - started
        yield story
        assert emu.internal_errors == []


def manifest(run: PipelineRun) -> dict[str, Any]:
    dist = run.artifacts("wheelship-build") / "dist"
    return json.loads((dist / "wheelship-manifest.json").read_text())  # type: ignore[no-any-return]


def test_the_merge_request_builds_tests_plans_and_checks_the_publish_settings(
    story: Story,
) -> None:
    mr = story.runs["mr"]
    assert mr.returncode == 0, mr.explain()
    for job in ("wheelship-build", "wheelship-test", "wheelship-plan", "wheelship-publish-check"):
        assert mr.passed(job), mr.explain()
    assert manifest(mr)["version"] == "0.0.1.dev3"  # no release yet: counts from 0.0.0
    assert "3 passed" in mr.log("wheelship-test")
    # the doctor template on its defaults: the merge request's preflight, read-only (no probe)
    doctor = json.loads((mr.artifacts("wheelship-doctor") / "doctor.json").read_text())
    assert doctor["counts"]["fail"] == 0, doctor
    assert ("artifacts writable", "warn") in {(r["check"], r["verdict"]) for r in doctor["checks"]}
    plan = json.loads((mr.artifacts("wheelship-plan") / "plan.json").read_text())
    assert plan["version"] == "0.0.1.dev3" and [j["job_id"] for j in plan["jobs"]] == [JOB]
    check = mr.log("wheelship-publish-check")
    for name in (
        "demand_forecast-0.0.1.dev3-py3-none-any.whl",
        "demand_forecast-0.0.1.dev3.tar.gz",
    ):
        assert (
            f"would upload {name} to {story.index.url.rstrip('/')} (user supply-ci, password "
            "from $SUPPLY_INDEX_TOKEN)"
        ) in check
    main = story.runs["main"]
    assert main.returncode == 0 and main.passed("wheelship-test"), main.explain()
    assert manifest(main)["version"] == "0.0.1.dev4"
    # Until the release, the pipelines only read the workspace (the plan).
    assert story.writes_before_release == []
    assert any(r.path.startswith("/api/2.2/jobs") for r in story.emu.requests)


def test_the_release_branch_creates_the_tag_through_the_releases_api(story: Story) -> None:
    for name, tag in (("release-1.0", "v1.0.0"), ("release-1.0-fix", "v1.0.1")):
        run = story.runs[name]
        assert run.returncode == 0, run.explain()
        assert run.passed("wheelship-compat") and run.passed("wheelship-tag"), run.explain()
        assert tag in story.fake.releases, name
    tags = story.consumer.repo.git("ls-remote", "--tags", str(story.consumer.origin))
    assert "refs/tags/v1.0.0" in tags and "refs/tags/v1.0.1" in tags


def test_the_release_is_built_from_committed_files_and_published_byte_for_byte(
    story: Story,
) -> None:
    release = story.runs["v1.0.0"]
    assert release.returncode == 0, release.explain()
    assert all(release.passed(job) for job in RELEASE), release.explain()
    built = manifest(release)
    assert (built["version"], built["tag"]) == ("1.0.0", "v1.0.0")
    assert release.dotenv("wheelship-build")["WHEELSHIP_VERSION"] == "1.0.0"
    # build.env carries paths relative to the checkout, which later jobs share.
    assert release.dotenv("wheelship-build")["WHEELSHIP_DIST_DIR"] == "dist"
    (sdist,) = (release.artifacts("wheelship-build") / "dist").glob("*.tar.gz")
    with tarfile.open(sdist) as tf:
        names = sorted(m.name.split("/", 1)[1] for m in tf.getmembers() if m.isfile())
    assert names == [
        ".gitignore",
        ".gitlab-ci.yml",
        "CHANGELOG.md",
        "PKG-INFO",
        "README.md",
        "pyproject.toml",
        "src/demand_forecast/__init__.py",
        "src/demand_forecast/_version.py",  # hatch-vcs writes it; .gitignore lists it
        "src/demand_forecast/cli.py",
        "src/demand_forecast/models.py",
        "tests/test_models.py",
        "wheelship.yml",
    ]
    stored = story.index.stored()
    for f in built["files"]:
        assert hashlib.sha256(stored[f["name"]]).hexdigest() == f["sha256"], f["name"]


def test_deploy_puts_the_release_everywhere_the_pipeline_may_and_writes_the_runbook(
    story: Story,
) -> None:
    release = story.runs["v1.0.0"]
    after = story.live["v1.0.0"]
    assert after["job"] == [whl("1.0.0")]
    assert after["clusters"][AUTO] == [(whl("1.0.0"), "INSTALLED")]
    assert after["clusters"][SHARED] == story.live["before"]["clusters"][SHARED]  # untouched
    (wheel,) = [f for f in manifest(release)["files"] if f["name"].endswith(".whl")]
    assert story.emu.file_sha256(whl("1.0.0")) == wheel["sha256"]
    runbook = (release.artifacts("wheelship-deploy") / "runbook.md").read_text()
    assert SHARED in runbook and whl("1.0.0") in runbook
    # Status after the deploy reports the drift the runbook resolves, without failing.
    assert "live: 1.0.0, 0.9.0  — DRIFT" in release.log("wheelship-status")


def test_the_drift_check_points_to_the_runbook_and_passes_once_the_admin_followed_it(
    story: Story,
) -> None:
    failed = story.runs["schedule"]
    assert failed.returncode != 0 and not failed.passed("wheelship-status")
    assert (
        "error: 2 versions of demand-forecast are live on prod: 1.0.0, 0.9.0 — the admin of the "
        f"manual-mode cluster {SHARED} (shared-bi) installs 1.0.0 by the runbook ('wheelship "
        "runbook --target prod' writes it; the deploy job keeps it as runbook.md)"
    ) in failed.log("wheelship-status")
    passed = story.runs["schedule-after-runbook"]
    assert passed.returncode == 0, passed.explain()
    assert "live: 1.0.0\n" in passed.log("wheelship-status")


def test_rollback_from_the_environments_page_and_by_the_rollback_job(story: Story) -> None:
    assert story.live["v1.0.1"]["job"] == [whl("1.0.1")]
    # Re-running v1.0.0's deploy job brings 1.0.0 back: GitLab records that job, of that tag.
    env = story.runs["env-rollback"]
    assert env.returncode == 0 and env.passed("wheelship-deploy"), env.explain()
    assert story.live["env-rollback"]["job"] == [whl("1.0.0")]
    assert story.live["env-rollback"]["clusters"][AUTO] == [(whl("1.0.0"), "INSTALLED")]
    assert story.live["env-redeploy"]["job"] == [whl("1.0.1")]
    job = story.runs["rollback-job"]
    assert job.returncode == 0, job.explain()
    assert f"rolled prod back to {PACKAGE} 1.0.0" in job.log("wheelship-rollback")
    assert story.live["rollback-job"]["job"] == [whl("1.0.0")]
    assert whl("1.0.1") in story.live["rollback-job"]["files"]  # kept for a roll-forward


def test_a_beta_tag_gets_a_release_pipeline_and_publishes_the_pre_release(story: Story) -> None:
    jobs = story.beta_jobs
    assert {"wheelship-publish", "wheelship-deploy", "wheelship-plan"} <= set(jobs)
    beta = story.runs["beta"]
    assert beta.returncode == 0, beta.explain()
    assert manifest(beta)["version"] == "1.1.0b1"
    assert "demand_forecast-1.1.0b1-py3-none-any.whl" in story.index.stored()


def test_no_secret_reaches_a_log_or_an_artifact(story: Story) -> None:
    kept = [
        p
        for root in (story.consumer.path / ".gitlab-ci-local", story.consumer.path.parent / "runs")
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink()
    ]
    for secret in story.secrets():
        assert not [r for r in story.runs.values() if secret in r.output], secret
        assert not [p for p in kept if secret.encode() in p.read_bytes()], secret
    print(f"e2e story wall time: {story.seconds:.0f}s")

"""A merge-request pipeline of the example project ``tsff`` (scenario 1): it builds a unique dev
version, tests the built wheel, and plans the deploy to production — against the workspace
emulator with a read-only token — as artifacts and as a note on the merge request, which the
next push to the MR edits instead of adding another (GitLab's API: the fake in
``support.fake_gitlab``). The plan component comes in the classic ``include: project:`` form."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from support import example_workspace as ws
from support.consumer import include_component, include_project, make_example_consumer
from support.fake_gitlab import FakeGitLab, run_fake_gitlab
from support.gitlab_ci_local import TEST_KNOB_NO_ISOLATION, GitlabCiLocal, Pipeline, Runner
from wheelship.deploy.mrnote import marker
from wheelship.emulator import Emulator

READER = "dapi-mr-pipelines-read-only"
MR_IID = 12


def test_merge_request_pipeline_builds_a_dev_version_tests_it_and_plans_the_deploy(
    tmp_path: Path, runner: Runner
) -> None:
    previous = ws.build_previous_release(tmp_path)
    seed = {
        **ws.seed(previous, "https://gitlab.example.com/api/v4/projects/42/packages/pypi/simple"),
        "tokens": [{"name": "reader", "value": READER, "permission": "read-only"}],
    }
    inputs = runner.test_knob_install_inputs
    ci = {
        "include": [
            include_component("workflow"),
            include_component("build", inputs),
            include_component("test", inputs),
            include_project("plan", {**inputs, "mr-note": True}),
        ]
    }
    consumer = make_example_consumer(tmp_path / "tsff", ci, files={"wheelship.yml": ws.CONFIG})
    repo = consumer.repo
    repo.git("checkout", "-q", "-b", "feature/damped-trend")
    repo.commit("Holt-Winters: damped trend", files={"CHANGELOG.md": "- damped trend\n"})
    consumer.push("feature/damped-trend")

    fake = FakeGitLab(project_id="42", project_path="data-science/tsff")
    with run_fake_gitlab(fake), Emulator(seed=seed, clock_speed=100) as emu:
        variables = {
            **TEST_KNOB_NO_ISOLATION,
            "DATABRICKS_HOST": emu.url,
            "DATABRICKS_TOKEN": READER,  # merge requests only read the workspace
            "CI_API_V4_URL": fake.api_url,
            "CI_PROJECT_ID": "42",
            "WHEELSHIP_GITLAB_TOKEN": fake.tokens["PRIVATE-TOKEN"],
        }
        gcl = GitlabCiLocal(consumer.path, env=runner.env)
        first = gcl.run(
            pipeline=Pipeline.merge_request("feature/damped-trend", mr_iid=MR_IID, iid=314),
            variables=variables,
        ).keep(tmp_path / "runs" / "first")

        assert first.returncode == 0, first.explain()
        for job in ("wheelship-build", "wheelship-test", "wheelship-plan"):
            assert first.passed(job), first.explain()
        dist = first.artifacts("wheelship-build") / "dist"
        manifest = json.loads((dist / "wheelship-manifest.json").read_text())
        assert manifest["version"] == "1.0.1.dev314"
        assert (dist / "tsff-1.0.1.dev314-py3-none-any.whl").is_file()
        assert first.dotenv("wheelship-build")["WHEELSHIP_VERSION"] == "1.0.1.dev314"
        assert "testing tsff 1.0.1.dev314" in first.log("wheelship-test")
        junit = ET.parse(first.artifacts("wheelship-test") / "junit.xml").getroot()
        assert junit.find("testsuite").get("tests") == "7"  # type: ignore[union-attr]
        coverage = ET.parse(first.artifacts("wheelship-test") / "coverage.xml").getroot()
        assert float(coverage.get("line-rate", "0")) > 0.5

        plan = json.loads((first.artifacts("wheelship-plan") / "plan.json").read_text())
        markdown = (first.artifacts("wheelship-plan") / "plan.md").read_text()
        assert plan["version"] == "1.0.1.dev314" and plan["target"] == "prod"
        assert sorted(j["job_id"] for j in plan["jobs"]) == sorted(ws.TSFF_JOBS)
        assert "tsff-1.0.0-py3-none-any.whl | tsff-1.0.1.dev314-py3-none-any.whl" in markdown
        assert "restricted-shared" in markdown and "admin (runbook)" in markdown

        (note,) = fake.notes[MR_IID]
        assert note["body"].startswith(marker("prod") + "\n")
        assert "tsff-1.0.1.dev314-py3-none-any.whl" in note["body"]
        assert "plan note created on merge request !12" in first.log("wheelship-plan")

        # The next push to the merge request: the plan note is edited, not repeated.
        repo.commit("Holt-Winters: tests for the damped trend", files={"NOTES.md": "tests\n"})
        consumer.push("feature/damped-trend")
        second = gcl.run(
            "wheelship-build",
            "wheelship-plan",
            pipeline=Pipeline.merge_request("feature/damped-trend", mr_iid=MR_IID, iid=315),
            variables=variables,
        ).keep(tmp_path / "runs" / "second")
        assert second.returncode == 0, second.explain()
        (note,) = fake.notes[MR_IID]
        assert "tsff-1.0.1.dev315-py3-none-any.whl" in note["body"]
        assert "dev314" not in note["body"]
        assert "plan note updated on merge request !12" in second.log("wheelship-plan")

        # Read-only: every workspace request used the reader token and changed nothing.
        assert emu.requests and {r.token for r in emu.requests} == {"reader"}
        assert [r for r in emu.requests if r.method not in ("GET", "HEAD")] == []
        assert emu.invariants() == []
        assert emu.job_settings(1001)["tasks"][0]["libraries"] == [
            {"whl": ws.wheel_path(ws.PREVIOUS)}
        ]

    secrets = (READER, fake.tokens["PRIVATE-TOKEN"])
    for path in [*(consumer.path / ".gitlab-ci-local").rglob("*"), *(tmp_path / "runs").rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            assert not [s for s in secrets if s.encode() in data], path
    assert not [s for s in secrets if s in first.output + second.output]
    assert not (consumer.path / "dist").exists(), "artifacts stay out of the work tree"

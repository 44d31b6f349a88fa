"""Which jobs each kind of pipeline gets from the templates, as GitLab would create them.

gitlab-ci-local evaluates the real templates (included as components of release 0.1.0 from this
working tree) with the predefined variables of each pipeline kind; nothing runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

import templates as tpl
from support.consumer import TEMPLATES, Consumer, include_component, include_project, make_consumer
from support.gitlab_ci_local import GitlabCiLocal, Pipeline, available
from support.gitrepo import git
from support.projects import FIXTURES
from wheelship.cli import main

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

FULL = {"include": [include_component("full-pipeline")]}


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Consumer, GitlabCiLocal]:
    base = tmp_path_factory.mktemp("rules")
    consumer = make_consumer(None, base / "project", FULL)
    return consumer, GitlabCiLocal(consumer.path)


def names(gcl: GitlabCiLocal, pipeline: Pipeline, **kw: object) -> dict[str, str]:
    return {name: job.when for name, job in gcl.jobs(pipeline, **kw).items()}  # type: ignore[arg-type]


def test_merge_request_pipeline_builds_tests_and_plans(
    full: tuple[Consumer, GitlabCiLocal],
) -> None:
    _, gcl = full
    jobs = gcl.jobs(Pipeline.merge_request("feature/x", "main"))
    assert {name: job.when for name, job in jobs.items()} == {
        "wheelship-build": "on_success",
        "wheelship-test": "on_success",
        "wheelship-plan": "on_success",
        "wheelship-doctor": "on_success",
        "wheelship-publish-check": "on_success",
    }
    # A failing preflight warns: merge-request credentials are read-only by design.
    assert jobs["wheelship-doctor"].allow_failure
    assert jobs["wheelship-doctor"].needs == ["wheelship-build"]
    # The publish settings are checked (a dry run) before anything is tagged.
    assert jobs["wheelship-publish-check"].needs == ["wheelship-build"]
    rendered = yaml.safe_load(gcl.preview(Pipeline.merge_request("feature/x", "main")))
    assert rendered["wheelship-publish-check"]["variables"]["WHEELSHIP_DRY_RUN"] == "true"


def test_merge_request_into_a_release_branch_also_checks_compatibility(
    full: tuple[Consumer, GitlabCiLocal],
) -> None:
    _, gcl = full
    jobs = names(gcl, Pipeline.merge_request("fix/y", "release/1.4"))
    assert set(jobs) == {
        "wheelship-build",
        "wheelship-test",
        "wheelship-compat",
        "wheelship-plan",
        "wheelship-doctor",
        "wheelship-publish-check",
    }


def test_default_branch_builds_and_tests_only(full: tuple[Consumer, GitlabCiLocal]) -> None:
    _, gcl = full
    assert set(names(gcl, Pipeline.branch("main"))) == {"wheelship-build", "wheelship-test"}


def test_release_branch_tags_after_the_tests(full: tuple[Consumer, GitlabCiLocal]) -> None:
    _, gcl = full
    jobs = gcl.jobs(Pipeline.branch("release/1.4"))
    assert set(jobs) == {"wheelship-build", "wheelship-test", "wheelship-compat", "wheelship-tag"}
    assert jobs["wheelship-tag"].needs == ["wheelship-test", "wheelship-compat"]


def test_the_tag_job_needs_compat_only_when_the_pipeline_has_it(tmp_path: Path) -> None:
    ci = {"include": [include_component(name) for name in ("workflow", "build", "test", "tag")]}
    gcl = GitlabCiLocal(make_consumer(None, tmp_path / "p", ci).path)
    # A valid pipeline without the compat job: the need is optional.
    assert set(gcl.jobs(Pipeline.branch("release/1.4"))) == {
        "wheelship-build",
        "wheelship-test",
        "wheelship-tag",
    }
    rendered = yaml.safe_load(gcl.preview(Pipeline.branch("release/1.4")))
    needs = {n["job"]: n["optional"] for n in rendered["wheelship-tag"]["needs"]}
    assert needs == {"wheelship-test": False, "wheelship-compat": True}


def test_compat_inputs_leave_the_configuration_file_in_charge_unless_given(
    tmp_path: Path,
) -> None:
    mr = Pipeline.merge_request("fix/y", "release/1.4")
    default = GitlabCiLocal(
        make_consumer(None, tmp_path / "a", {"include": [include_component("compat")]}).path
    )
    job = yaml.safe_load(default.preview(mr))["wheelship-compat"]["variables"]
    assert job["WHEELSHIP_ALLOW_BREAKING_MINOR"] == "" and job["WHEELSHIP_COMPAT_PACKAGES"] == ""
    given = {"allow-breaking-minor": "true", "packages": "tsff,tsff_plots"}
    ci = {"include": [include_component("compat", given)]}
    job = yaml.safe_load(GitlabCiLocal(make_consumer(None, tmp_path / "b", ci).path).preview(mr))[
        "wheelship-compat"
    ]["variables"]
    assert job["WHEELSHIP_ALLOW_BREAKING_MINOR"] == "true"
    assert job["WHEELSHIP_COMPAT_PACKAGES"] == "tsff,tsff_plots"
    bad = {"include": [include_component("compat", {"allow-breaking-minor": "yes"})]}
    with pytest.raises(AssertionError, match="cannot be used because it is not in the list"):
        GitlabCiLocal(make_consumer(None, tmp_path / "c", bad).path).preview(mr)


def test_release_tag_publishes_and_deploys_behind_a_manual_gate(
    full: tuple[Consumer, GitlabCiLocal],
) -> None:
    _, gcl = full
    jobs = gcl.jobs(Pipeline.tag("v1.4.2"))
    assert {n: j.when for n, j in jobs.items()} == {
        "wheelship-build": "on_success",
        "wheelship-test": "on_success",
        "wheelship-plan": "on_success",
        "wheelship-publish": "on_success",
        "wheelship-deploy": "manual",
        "wheelship-status": "on_success",
        "wheelship-rollback": "manual",
    }
    assert jobs["wheelship-rollback"].allow_failure
    assert not jobs["wheelship-deploy"].allow_failure  # the gate blocks the pipeline until run
    assert jobs["wheelship-deploy"].needs == ["wheelship-build", "wheelship-publish"]


@pytest.fixture(scope="module")
def workflow_probe(tmp_path_factory: pytest.TempPathFactory) -> GitlabCiLocal:
    """workflow.yml's rules on a probe job: gitlab-ci-local 4.73.0 evaluates ``workflow:rules``
    only for their ``variables:`` and never drops a pipeline, but evaluates job rules like
    GitLab — so the very same rules, as job rules, show which pipelines GitLab creates."""
    workflow = tpl.rendered(tpl.load(TEMPLATES / "workflow.yml"))
    ci = {
        "variables": workflow["variables"],  # global, as the component's are
        "probe": {"rules": workflow["workflow"]["rules"], "script": ["true"]},
    }
    return GitlabCiLocal(make_consumer(None, tmp_path_factory.mktemp("wf") / "p", ci).path)


@pytest.mark.parametrize(
    ("pipeline", "extra", "created"),
    [
        (Pipeline.merge_request("feature/x", "main"), {}, True),
        (Pipeline.branch("main"), {}, True),
        (Pipeline.branch("feature/x"), {}, True),
        (Pipeline.branch("feature/x"), {"CI_OPEN_MERGE_REQUESTS": "data-science/tsff!12"}, False),
        (Pipeline.schedule("main"), {}, True),
    ],
    ids=["mr", "default-branch", "branch", "branch-with-open-mr", "schedule"],
)
def test_workflow_creates_one_pipeline_per_change(
    workflow_probe: GitlabCiLocal, pipeline: Pipeline, extra: dict[str, str], created: bool
) -> None:
    assert ("probe" in workflow_probe.jobs(pipeline, variables=extra)) is created


#: Tags the CLI takes as releases, and tags it refuses (each next to the release it resembles).
TAG_FORMS = (
    *("v1.4.2", "1.4.2", "v0.0.0", "v10.20.30", "v2.0.0-rc.1", "2.0.0-rc.10"),
    *("v1.1.0-beta.1", "v1.1.0-b.2", "v1.1.0-alpha.3", "v1.1.0-a.0"),
    *("v1.4", "v01.4.2", "v1.4.2-rc1", "v1.4.2-rc.01", "v1.4.2-gamma.1", "v1.4.2+build.5"),
    *("v1.4.2.1", "V1.4.2", "vv1.4.2", "v1.4.2-", "release-1.4.2", "nightly-2024"),
)


def test_every_tag_form_gets_one_answer_from_the_workflow_the_job_rules_and_the_cli(
    full: tuple[Consumer, GitlabCiLocal], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One definition of a release tag: for each tag, GitLab creates a pipeline (workflow),
    every release job joins it (its rules) and ``wheelship version`` takes the tag (the CLI,
    with the variable the jobs get) — all of them, or none.

    The rules are the rendered full pipeline's, each copied onto one probe job per tag that
    sets the tag pipeline's variables itself, so one gitlab-ci-local call evaluates them all
    (a job's own CI_COMMIT_TAG counts in its rules unless the command line sets one)."""
    rendered = yaml.safe_load(full[1].preview(Pipeline.tag("v1.4.2")))
    released = full[1].jobs(Pipeline.tag("v1.4.2"))  # with the defaults (no runbook target)
    tagged = {
        name: job
        for name, job in rendered.items()
        if name in released and "$CI_COMMIT_TAG" in json.dumps(job.get("rules"))
    }
    assert {"wheelship-publish", "wheelship-deploy", "wheelship-rollback"} <= set(tagged)
    workflow = tpl.rendered(tpl.load(TEMPLATES / "workflow.yml"))
    pattern = workflow["variables"]["WHEELSHIP_TAG_PATTERN"]
    jobs = [job for name, job in rendered.items() if name.startswith("wheelship-")]
    assert {job["variables"]["WHEELSHIP_TAG_PATTERN"] for job in jobs} == {pattern}
    ci: dict[str, object] = {"variables": workflow["variables"]}
    for i, tag in enumerate(TAG_FORMS):
        pipeline = {"CI_COMMIT_TAG": tag, "CI_COMMIT_REF_NAME": tag, "CI_COMMIT_BRANCH": ""}
        probes = {"workflow": {"rules": workflow["workflow"]["rules"], "variables": {}}}
        for name, job in {**probes, **tagged}.items():
            ci[f"{name}-{i}"] = {
                "rules": job["rules"],
                "variables": {**job["variables"], **pipeline},
                "script": ["true"],
            }
    project = make_consumer(FIXTURES / "setuptools_scm", tmp_path / "probe", ci)
    present = set(GitlabCiLocal(project.path).jobs())
    by_rules = {
        tag: {name for name in ["workflow", *tagged] if f"{name}-{i}" in present}
        for i, tag in enumerate(TAG_FORMS)
    }

    for tag in TAG_FORMS:
        git(project.path, "tag", tag)
    for key in [k for k in os.environ if k.startswith(("CI_", "GITLAB_", "WHEELSHIP_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("WHEELSHIP_TAG_PATTERN", pattern)
    everything = {"workflow", *tagged}
    differ = {}
    for tag in TAG_FORMS:
        monkeypatch.setenv("CI_COMMIT_TAG", tag)
        cli = main(["version", "--project", str(project.path), "--offline"]) == 0
        if by_rules[tag] != (everything if cli else set()):
            differ[tag] = {"rules that missed it": sorted(everything - by_rules[tag]), "cli": cli}
    assert differ == {}
    assert sum(bool(by_rules[t]) for t in TAG_FORMS) == 10  # both kinds are really there


def test_scheduled_pipeline_checks_drift_only(full: tuple[Consumer, GitlabCiLocal]) -> None:
    _, gcl = full
    assert names(gcl, Pipeline.schedule("main")) == {"wheelship-status": "on_success"}


def test_inputs_turn_on_dev_publish_dev_deploy_runbook_and_auto_deploy(tmp_path: Path) -> None:
    ci = {
        "include": [
            include_component(
                "full-pipeline",
                {
                    "dev-publish": True,
                    "dev-target": "dev",
                    "runbook-target": "locked",
                    "manual-deploy": False,
                },
            )
        ]
    }
    gcl = GitlabCiLocal(make_consumer(None, tmp_path / "p", ci).path)
    assert names(gcl, Pipeline.branch("main")) == {
        "wheelship-build": "on_success",
        "wheelship-test": "on_success",
        "wheelship-publish": "on_success",
        "wheelship-deploy-dev": "on_success",
    }
    tag = names(gcl, Pipeline.tag("v2.0.0"))
    assert tag["wheelship-deploy"] == "on_success"
    assert tag["wheelship-runbook"] == "on_success"


def test_classic_project_include_with_inputs_gives_the_same_jobs(tmp_path: Path) -> None:
    ci = {
        "include": [
            include_project("workflow"),
            include_project("build", {"python-version": "3.11"}),
            include_project("test", {"extras": "test,plots"}),
        ]
    }
    gcl = GitlabCiLocal(make_consumer(None, tmp_path / "p", ci).path)
    assert set(names(gcl, Pipeline.merge_request("f", "main"))) == {
        "wheelship-build",
        "wheelship-test",
    }
    assert "WHEELSHIP_EXTRAS: test,plots" in gcl.preview(Pipeline.merge_request("f", "main"))


@pytest.mark.parametrize(
    "pipeline",
    [
        Pipeline.merge_request("f", "release/1.4"),
        Pipeline.branch("release/1.4"),
        Pipeline.tag("v1.4.2"),
    ],
    ids=["mr", "release-branch", "tag"],
)
def test_rendered_full_pipeline_is_valid_against_gitlab_ci_schema(
    full: tuple[Consumer, GitlabCiLocal], pipeline: Pipeline
) -> None:
    rendered = yaml.safe_load(full[1].preview(pipeline))
    assert tpl.schema_errors(rendered) == []
    deploy = rendered["wheelship-deploy"]
    assert deploy["environment"] == {
        "name": "production",
        "url": "$DATABRICKS_HOST",
        "deployment_tier": "production",
    }
    assert deploy["resource_group"] == "wheelship-prod"
    assert deploy["id_tokens"] == {"WHEELSHIP_ID_TOKEN": {"aud": "databricks"}}
    # The rollback job runs in the pipeline of the release it replaces: recording it as a
    # deployment would list that release as live. The Environments page's Rollback re-runs the
    # earlier release's deploy job instead, which GitLab records truthfully.
    rollback = rendered["wheelship-rollback"]["environment"]
    assert (rollback["name"], rollback["action"]) == ("production", "access")

"""A release deployed to three workspaces by one pipeline: the fleet component fans the deploy
out with ``parallel: matrix`` — one job, one environment (``production/<target>``) and one
resource group per workspace, each job with the credentials its environment scopes — and
gitlab-ci-local's runner runs them. One workspace refuses writes: its job fails and leaves it
as it was, the other two converge.

No test knob: the consumer's ``.gitlab-ci.yml`` sets only the fleet's targets (and what its
deploy waits for); every job starts from a bare Python (support/job_image.py) and installs
wheelship with all its dependencies from the team's index (``PIP_INDEX_URL``, a CI/CD variable;
support/mirror.py), and the build uses the templates' cached isolation and cache paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import example_workspace as ws
from support.consumer import include_component, make_example_consumer
from support.gitlab_ci_local import TEST_KNOB_NO_ISOLATION, GitlabCiLocal, Pipeline
from support.job_image import JobImage
from support.pypiserver import PypiServer
from wheelship.emulator import Emulator

NAMES = ("eu", "us", "ap")
TAG = "v1.0.1"
CLOCK_SPEED = 100
#: What only a test would set (the knobs of support/gitlab_ci_local.py): none of it is used here.
KNOB_INPUTS = {"wheelship", "install-args"}
KNOB_VARIABLES = {*TEST_KNOB_NO_ISOLATION, "WHEELSHIP_CACHE_DIR", "PIP_NO_INDEX", "UV_OFFLINE"}


def job(name: str) -> str:
    return f"wheelship-fleet: [{name}]"


def token(name: str) -> str:
    return f"dapi-{name}-deployer"


def config(emus: dict[str, Emulator]) -> str:
    """The example's production target, once per workspace, and the group of all three."""
    base = yaml.safe_load(ws.CONFIG)
    prod = base["targets"]["prod"]
    base["targets"] = {name: {"host": emu.url, **prod} for name, emu in emus.items()}
    base["groups"] = {"everywhere": list(emus)}
    return yaml.safe_dump(base, sort_keys=False)


def state(emu: Emulator) -> dict[str, Any]:
    return {
        "jobs": {j: ws.tsff_references(s) for j, s in emu.jobs().items()},
        "clusters": {c: emu.cluster_libraries(c) for c in (ws.RUNNING, ws.TERMINATED)},
        "files": emu.files(ws.ARTIFACTS),
    }


@pytest.fixture
def gcl_env(job_image: JobImage, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = CI\n\temail = ci@example.com\n")
    return job_image.env(home)


def assert_no_test_knob(ci_file: Path, variables: dict[str, str], env: dict[str, str]) -> None:
    """The pipeline is what a consumer writes: no knob input in any include, no knob variable."""
    for entry in yaml.safe_load(ci_file.read_text())["include"]:
        assert not KNOB_INPUTS & set(entry.get("inputs", {})), entry
    assert not KNOB_VARIABLES & (set(variables) | set(env))


def test_a_release_fans_out_to_three_workspaces_and_one_refusing_writes_fails_alone(
    tmp_path: Path, mirror: PypiServer, gcl_env: dict[str, str]
) -> None:
    previous = ws.build_previous_release(tmp_path)
    registry = "https://gitlab.example.com/api/v4/projects/42/packages/pypi/simple"
    seeds = {
        name: {
            **ws.seed(previous, registry),
            "tokens": [{"name": "deployer", "value": token(name), "permission": "admin"}],
        }
        for name in NAMES
    }
    with (
        Emulator(seed=seeds["eu"], clock_speed=CLOCK_SPEED) as eu,
        Emulator(seed=seeds["us"], clock_speed=CLOCK_SPEED) as us,
        Emulator(seed=seeds["ap"], clock_speed=CLOCK_SPEED) as ap,
    ):
        emus = {"eu": eu, "us": us, "ap": ap}
        inputs = {
            "targets": list(NAMES),
            "needs": ["wheelship-build"],
            "rules": [{"if": "$CI_COMMIT_TAG"}],
        }
        ci = {
            "include": [
                include_component("workflow"),
                include_component("build"),
                include_component("fleet", inputs),
            ]
        }
        consumer = make_example_consumer(
            tmp_path / "tsff", ci, files={"wheelship.yml": config(emus)}
        )
        consumer.commit("Holt-Winters: damped trend by default")
        consumer.repo.tag(TAG)
        consumer.push("main", "--tags")
        # CI/CD variables scoped per environment, as a project sets them up in GitLab.
        (consumer.path / ".gitlab-ci-local-variables.yml").write_text(
            yaml.safe_dump(
                {
                    "DATABRICKS_TOKEN": {
                        "values": {f"production/{name}": token(name) for name in NAMES}
                    }
                }
            )
        )
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            us.add_fault("403", endpoint=f"{method} *")
        before = {name: state(emu) for name, emu in emus.items()}

        variables = {"PIP_INDEX_URL": mirror.simple_url}  # the team's CI/CD variable
        assert_no_test_knob(consumer.path / ".gitlab-ci.yml", variables, gcl_env)

        gcl = GitlabCiLocal(consumer.path, env=gcl_env)
        listed = gcl.jobs(pipeline=Pipeline.tag(TAG))
        assert {job(n) for n in NAMES} <= set(listed)

        run = gcl.run(
            pipeline=Pipeline.tag(TAG),
            variables=variables,
            concurrency=3,
        ).keep(tmp_path / "runs" / "fleet")
        for emu in emus.values():
            emu.settle()

        assert run.returncode != 0, run.explain()
        assert run.passed("wheelship-build"), run.explain()
        for name in ("eu", "ap"):
            # It passed with the token only its environment production/<name> is given.
            assert run.passed(job(name)), run.explain()
            refs = state(emus[name])["jobs"]
            assert all(
                r.endswith("tsff-1.0.1-py3-none-any.whl") or r == "tsff==1.0.1"
                for j in ws.TSFF_JOBS
                for r in refs[j]
            ), (name, refs)
            assert emus[name].invariants() == []
            report = json.loads((run.artifacts(job(name)) / "deploy-report.json").read_text())
            assert report["target"] == name and report["outcome"] == "deployed"
        assert not run.passed(job("us")), run.explain()
        # refused at its first write, the deploy lock, before anything changed
        assert f"error: the deploy identity may not write to {ws.ARTIFACTS}" in run.log(job("us"))
        assert state(us) == before["us"]
        # every workspace got the same bytes
        assert eu.file_sha256(ws.wheel_path("1.0.1")) == ap.file_sha256(ws.wheel_path("1.0.1"))
        # each job used its own environment's token, and none of them is in a log
        logs = "".join(run.log(job(n)) for n in NAMES)
        assert not any(token(n) in logs for n in NAMES)


def test_full_pipeline_deploys_release_tags_with_the_fleet_when_asked(
    tmp_path: Path, gcl_env: dict[str, str]
) -> None:
    ci = {"include": [include_component("full-pipeline", {"fleet": True, "targets": ["eu", "us"]})]}
    consumer = make_example_consumer(tmp_path / "tsff", ci, files={"wheelship.yml": ws.CONFIG})
    assert_no_test_knob(consumer.path / ".gitlab-ci.yml", {}, gcl_env)
    gcl = GitlabCiLocal(consumer.path, env=gcl_env)
    tag = gcl.jobs(pipeline=Pipeline.tag(TAG))
    assert {job("eu"), job("us")} <= set(tag)
    assert tag[job("eu")].when == "manual"
    assert "wheelship-deploy" not in tag
    plain = GitlabCiLocal(
        make_example_consumer(
            tmp_path / "plain",
            {"include": [include_component("full-pipeline")]},
            files={"wheelship.yml": ws.CONFIG},
        ).path,
        env=gcl_env,
    ).jobs(pipeline=Pipeline.tag(TAG))
    assert "wheelship-deploy" in plain and not any(n.startswith("wheelship-fleet") for n in plain)

"""A release deployed to three workspaces by one pipeline: the fleet component fans the deploy
out with ``parallel: matrix`` — one job, one environment (``production/<target>``) and one
resource group per workspace, each job with the credentials its environment scopes — and
gitlab-ci-local's runner runs them. One workspace refuses writes: its job fails and leaves it
as it was, the other two converge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from support import example_workspace as ws
from support.consumer import include_component, make_example_consumer
from support.gitlab_ci_local import TEST_KNOB_NO_ISOLATION, GitlabCiLocal, Pipeline, Runner
from wheelship.emulator import Emulator

NAMES = ("eu", "us", "ap")
TAG = "v1.0.1"
CLOCK_SPEED = 100


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


def test_a_release_fans_out_to_three_workspaces_and_one_refusing_writes_fails_alone(
    tmp_path: Path, runner: Runner
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
            **runner.test_knob_install_inputs,
            "targets": list(NAMES),
            "needs": ["wheelship-build"],
        }
        ci = {
            "include": [
                include_component("workflow"),
                include_component("build", runner.test_knob_install_inputs),
                include_component("fleet", {**inputs, "rules": [{"if": "$CI_COMMIT_TAG"}]}),
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

        gcl = GitlabCiLocal(consumer.path, env=runner.env)
        listed = gcl.jobs(pipeline=Pipeline.tag(TAG))
        assert {job(n) for n in NAMES} <= set(listed)

        run = gcl.run(
            pipeline=Pipeline.tag(TAG),
            variables=TEST_KNOB_NO_ISOLATION,
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
    tmp_path: Path, runner: Runner
) -> None:
    ci = {
        "include": [
            include_component(
                "full-pipeline",
                {**runner.test_knob_install_inputs, "fleet": True, "targets": ["eu", "us"]},
            )
        ]
    }
    consumer = make_example_consumer(tmp_path / "tsff", ci, files={"wheelship.yml": ws.CONFIG})
    gcl = GitlabCiLocal(consumer.path, env=runner.env)
    tag = gcl.jobs(pipeline=Pipeline.tag(TAG))
    assert {job("eu"), job("us")} <= set(tag)
    assert tag[job("eu")].when == "manual"
    assert "wheelship-deploy" not in tag
    plain = GitlabCiLocal(
        make_example_consumer(
            tmp_path / "plain",
            {"include": [include_component("full-pipeline", runner.test_knob_install_inputs)]},
            files={"wheelship.yml": ws.CONFIG},
        ).path,
        env=runner.env,
    ).jobs(pipeline=Pipeline.tag(TAG))
    assert "wheelship-deploy" in plain and not any(n.startswith("wheelship-fleet") for n in plain)

"""The doctor component in a merge-request pipeline: after the build it checks the production
target's workspace and keeps doctor.md/json. By default it writes nothing (no write probe: a
merge request must not write to a workspace). With the read-only token merge requests get, the
permission checks fail by design: the job fails as a warning and the pipeline goes on; with the
deploy identity (and the probe asked for) every check passes or warns."""

from __future__ import annotations

import json
from pathlib import Path

from support import example_workspace as ws
from support.consumer import include_component, make_example_consumer
from support.gitlab_ci_local import TEST_KNOB_NO_ISOLATION, GitlabCiLocal, Pipeline, Runner
from wheelship.emulator import Emulator

READER = "dapi-mr-pipelines-read-only"
DEPLOYER = "dapi-deployer"


def test_doctor_runs_in_merge_requests_and_warns_instead_of_blocking(
    tmp_path: Path, runner: Runner
) -> None:
    previous = ws.build_previous_release(tmp_path)
    seed = {
        **ws.seed(previous, "https://gitlab.example.com/api/v4/projects/42/packages/pypi/simple"),
        "tokens": [
            {"name": "reader", "value": READER, "permission": "read-only"},
            {"name": "deployer", "value": DEPLOYER, "permission": "admin"},
        ],
    }
    inputs = runner.test_knob_install_inputs
    ci = {
        "include": [
            include_component("workflow"),
            include_component("build", inputs),
            include_component("doctor", inputs),
        ]
    }
    consumer = make_example_consumer(tmp_path / "tsff", ci, files={"wheelship.yml": ws.CONFIG})
    consumer.repo.git("checkout", "-q", "-b", "feature/x")
    consumer.commit("Holt-Winters: damped trend")
    consumer.push("feature/x")
    with Emulator(seed=seed, clock_speed=100) as emu:
        gcl = GitlabCiLocal(consumer.path, env=runner.env)
        mr = Pipeline.merge_request("feature/x", iid=314)
        variables = {**TEST_KNOB_NO_ISOLATION, "DATABRICKS_HOST": emu.url}
        before = emu.files(ws.ARTIFACTS)

        read_only = gcl.run(pipeline=mr, variables={**variables, "DATABRICKS_TOKEN": READER}).keep(
            tmp_path / "runs" / "reader"
        )
        assert read_only.returncode == 0, read_only.explain()  # a warning, not a failure
        assert not read_only.passed("wheelship-doctor"), read_only.explain()
        report = json.loads((read_only.artifacts("wheelship-doctor") / "doctor.json").read_text())
        rows = {(r["check"], r["verdict"]) for r in report["checks"]}
        assert ("artifacts writable", "warn") in rows and report["exit_code"] == 1
        assert emu.files(ws.ARTIFACTS) == before  # the merge request wrote nothing
        assert any(
            r["check"] == "plan" and "1.0.1.dev314" in r["subject"] for r in report["checks"]
        )
        log = read_only.log("wheelship-doctor")
        assert "error: " in log and "not probed (--read-only: this run writes nothing)" in log

        # the probe, as a team asks for it where the deploy identity runs (the input read-only:
        # false; a pipeline variable here)
        probing = {**variables, "DATABRICKS_TOKEN": DEPLOYER, "WHEELSHIP_READ_ONLY": "false"}
        deployer = gcl.run(pipeline=mr, variables=probing).keep(tmp_path / "runs" / "deployer")
        assert deployer.passed("wheelship-doctor"), deployer.explain()
        report = json.loads((deployer.artifacts("wheelship-doctor") / "doctor.json").read_text())
        assert report["exit_code"] == 0 and report["counts"]["fail"] == 0
        assert {(r["check"], r["verdict"]) for r in report["checks"]} >= {
            ("artifacts writable", "pass")
        }
        assert (deployer.artifacts("wheelship-doctor") / "doctor.md").is_file()
        # nothing visible changed: the probe came and went
        after = emu.files(ws.ARTIFACTS)
        assert {k: v for k, v in after.items() if "/.wheelship/" not in k} == before
        assert not [k for k in after if k.endswith(".probe")]
        assert DEPLOYER not in deployer.log("wheelship-doctor")

"""A release-tag pipeline builds the release and publishes it to a real package index
(scenario 3; the deploy to the workspace emulator joins once 'wheelship deploy' lands)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Runner
from support.consumer import include_component, make_consumer
from support.gitlab_ci_local import GitlabCiLocal, Pipeline
from support.projects import FIXTURES
from support.pypiserver import run_pypiserver


def test_tag_pipeline_builds_the_release_and_publishes_it(tmp_path: Path, runner: Runner) -> None:
    with run_pypiserver(tmp_path / "index") as index:
        inputs = runner.install_inputs
        ci = {
            "include": [
                include_component("workflow"),
                include_component("build", inputs),
                include_component(
                    "publish",
                    {
                        **inputs,
                        "needs": ["wheelship-build"],
                        "repository-url": index.url,
                        "password-variable": "INDEX_PASSWORD",
                    },
                ),
            ]
        }
        consumer = make_consumer(FIXTURES / "setuptools_scm", tmp_path / "scm-pkg", ci)
        consumer.repo.tag("v1.4.2")
        consumer.push("--tags")

        gcl = GitlabCiLocal(consumer.path, env=runner.env)
        run = gcl.run(
            pipeline=Pipeline.tag("v1.4.2"),
            variables={
                "WHEELSHIP_ISOLATION": "none",
                "TWINE_USERNAME": index.username,
                "INDEX_PASSWORD": index.password,
            },
        )

        assert run.returncode == 0, run.explain()
        assert run.passed("wheelship-publish"), run.explain()
        built = json.loads(
            (run.artifacts("wheelship-build") / "dist" / "wheelship-manifest.json").read_text()
        )
        assert built["version"] == "1.4.2" and built["tag"] == "v1.4.2"
        stored = index.stored()
        assert set(stored) == {f["name"] for f in built["files"]}
        wheel = run.artifacts("wheelship-build") / "dist" / "scm_pkg-1.4.2-py3-none-any.whl"
        assert stored[wheel.name] == wheel.read_bytes()
        assert index.password not in run.output + run.log("wheelship-publish")

        # The same tag pipeline again: the release is already there with the same bytes.
        again = gcl.run(
            "wheelship-publish",
            pipeline=Pipeline.tag("v1.4.2"),
            variables={
                "WHEELSHIP_ISOLATION": "none",
                "TWINE_USERNAME": index.username,
                "INDEX_PASSWORD": index.password,
            },
            needs=True,
        )
        assert again.returncode == 0, again.explain()
        assert "already" in again.log("wheelship-publish"), again.explain()
        assert index.stored() == stored

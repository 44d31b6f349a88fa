"""A merge-request pipeline builds a unique dev version and tests the built wheel (scenario 1)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import Runner
from support.consumer import include_component, make_consumer
from support.gitlab_ci_local import GitlabCiLocal, Pipeline
from support.projects import FIXTURES

TESTS = """\
import scmpkg


def test_the_package_imports():
    assert scmpkg.__name__ == "scmpkg"
"""


def test_merge_request_pipeline_builds_a_dev_version_and_tests_the_wheel(
    tmp_path: Path, runner: Runner
) -> None:
    inputs = runner.install_inputs
    ci = {
        "include": [
            include_component("workflow"),
            include_component("build", inputs),
            include_component("test", {**inputs, "extras": ""}),
        ]
    }
    consumer = make_consumer(FIXTURES / "setuptools_scm", tmp_path / "scm-pkg", ci)
    consumer.repo.tag("v1.4.0")
    consumer.repo.git("checkout", "-q", "-b", "feature/faster")
    consumer.repo.commit("feat: faster", files={"tests/test_basic.py": TESTS})

    gcl = GitlabCiLocal(consumer.path, env=runner.env)
    run = gcl.run(
        pipeline=Pipeline.merge_request("feature/faster", "main", iid=314),
        # Like an image with the build requirements installed: no index needed.
        variables={"WHEELSHIP_ISOLATION": "none"},
    )

    assert run.returncode == 0, run.explain()
    assert run.passed("wheelship-build") and run.passed("wheelship-test"), run.explain()
    dist = run.artifacts("wheelship-build") / "dist"
    manifest = json.loads((dist / "wheelship-manifest.json").read_text())
    assert manifest["version"] == "1.4.1.dev314"
    wheel = dist / "scm_pkg-1.4.1.dev314-py3-none-any.whl"
    assert {f["name"] for f in manifest["files"]} >= {wheel.name}
    assert wheel.is_file()
    assert run.dotenv("wheelship-build")["WHEELSHIP_VERSION"] == "1.4.1.dev314"
    assert "testing scm-pkg 1.4.1.dev314" in run.log("wheelship-test")
    junit = ET.parse(run.artifacts("wheelship-test") / "junit.xml").getroot()
    assert junit.find("testsuite").get("tests") == "1"  # type: ignore[union-attr]
    coverage = ET.parse(run.artifacts("wheelship-test") / "coverage.xml").getroot()
    assert float(coverage.get("line-rate", "0")) > 0
    assert "TOTAL" in run.log("wheelship-test")
    assert not (consumer.path / "dist").exists(), "artifacts stay out of the work tree"

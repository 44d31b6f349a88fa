"""The ``compat`` template in a merge request into a release branch: the job fails on a breaking
patch and leaves its JSON and code-quality reports; a compatible change passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.apiproject import BASE, apply_v2
from support.consumer import include_component, make_consumer
from support.gitlab_ci_local import GitlabCiLocal, Pipeline, Runner


@pytest.mark.parametrize(
    ("scenario", "issues"),
    [
        (
            "removed_parameter",
            [
                {
                    "check_name": "wheelship-compat/parameter-removed",
                    "severity": "critical",
                    "location": {"path": "src/forecastkit/model.py", "lines": {"begin": 22}},
                }
            ],
        ),
        ("compatible_additions", []),
    ],
)
def test_merge_request_into_a_release_branch(
    scenario: str, issues: list[dict[str, object]], tmp_path: Path, runner: Runner
) -> None:
    consumer = make_consumer(
        BASE,
        tmp_path / "forecastkit",
        {"include": [include_component("compat", runner.test_knob_install_inputs)]},
    )
    repo = consumer.repo
    repo.tag("v1.0.0")
    repo.git("checkout", "-q", "-b", "release/1.0")
    consumer.push("release/1.0", "--tags")
    repo.git("checkout", "-q", "-b", "fix/forecasts")
    apply_v2(repo, scenario)
    repo.commit(f"change: {scenario}")
    consumer.push("fix/forecasts")

    run = GitlabCiLocal(consumer.path, env=runner.env).run(
        pipeline=Pipeline.merge_request("fix/forecasts", "release/1.0")
    )
    log = run.log("wheelship-compat")
    artifacts = run.artifacts("wheelship-compat")
    report = json.loads((artifacts / "compat.json").read_text())
    quality = json.loads((artifacts / "gl-code-quality-report.json").read_text())
    assert [{k: i[k] for k in ("check_name", "severity", "location")} for i in quality] == issues
    assert report["release"]["level"] == "patch", run.explain()
    if issues:
        assert run.returncode != 0, run.explain()
        assert report["verdict"] == "breaking"
        assert "forecastkit.model.train: parameter 'seed' was removed" in log
        assert "error: 1 breaking change to the public API since v1.0.0" in log
    else:
        assert run.returncode == 0, run.explain()
        assert run.passed("wheelship-compat")
        assert report["verdict"] == "compatible"

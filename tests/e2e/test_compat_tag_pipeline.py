"""A release-branch pipeline refuses to tag a patch that breaks the public API, and tags it when
the run allows the break (``WHEELSHIP_ALLOW_BREAKING``), listing it in the tag's notes."""

from __future__ import annotations

from pathlib import Path

from support.apiproject import BASE, apply_v2
from support.consumer import include_component, make_consumer
from support.gitlab_ci_local import GitlabCiLocal, Pipeline, Runner


def test_release_branch_pipeline_refuses_a_breaking_patch(tmp_path: Path, runner: Runner) -> None:
    ci = {
        "include": [
            include_component(
                "tag",
                {
                    **runner.test_knob_install_inputs,
                    "method": "git-push",
                    "needs": [],
                    "token-variable": "RELEASE_TOKEN",
                },
            )
        ]
    }
    consumer = make_consumer(BASE, tmp_path / "forecastkit", ci)
    repo = consumer.repo
    repo.tag("v1.0.0")
    repo.git("checkout", "-q", "-b", "release/1.0")
    apply_v2(repo, "lost_default")
    repo.commit("train: epochs is required now")
    consumer.push("release/1.0", "--tags")
    gcl = GitlabCiLocal(consumer.path, env=runner.env)

    refused = gcl.run(pipeline=Pipeline.branch("release/1.0"), variables={"RELEASE_TOKEN": "t0k"})
    assert refused.returncode != 0, refused.explain()
    log = refused.log("wheelship-tag")
    assert (
        "src/forecastkit/model.py:22: forecastkit.model.train: parameter 'epochs' lost its "
        "default (now required)"
    ) in log, refused.explain()
    assert (
        "error: 1 breaking change to the public API since v1.0.0 is not allowed in patch "
        "release 1.0.1"
    ) in log
    assert "v1.0.1" not in repo.git("ls-remote", "--tags", str(consumer.origin))

    allowed = gcl.run(
        pipeline=Pipeline.branch("release/1.0"),
        variables={"RELEASE_TOKEN": "t0k", "WHEELSHIP_ALLOW_BREAKING": "true"},
    )
    assert allowed.returncode == 0, allowed.explain()
    assert allowed.passed("wheelship-tag"), allowed.explain()
    repo.git("fetch", "-q", "origin", "--tags")
    notes = repo.git("tag", "-l", "--format=%(contents)", "v1.0.1")
    assert "### Breaking API changes since v1.0.0 (released with --allow-breaking)" in notes

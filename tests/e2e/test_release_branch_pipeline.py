"""A release-branch pipeline of the example project ``tsff`` creates the next patch tag (e2e
scenario 2)."""

from __future__ import annotations

from pathlib import Path

from support.consumer import include_component, make_example_consumer
from support.gitlab_ci_local import GitlabCiLocal, Pipeline, Runner


def test_release_branch_pipeline_pushes_the_next_patch_tag(tmp_path: Path, runner: Runner) -> None:
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
    consumer = make_example_consumer(tmp_path / "tsff", ci)  # released as v1.0.0
    repo = consumer.repo
    repo.git("checkout", "-q", "-b", "release/1.0")
    repo.commit("fix: first patch", files={"CHANGES.md": "fix one\n"})
    repo.tag("v1.0.1")
    repo.commit("fix: second patch", files={"CHANGES.md": "fix one\nfix two\n"})
    consumer.push("release/1.0", "--tags")
    head = repo.head()

    gcl = GitlabCiLocal(consumer.path, env=runner.env)
    run = gcl.run(
        pipeline=Pipeline.branch("release/1.0"), variables={"RELEASE_TOKEN": "t0ken-for-push"}
    )

    assert run.returncode == 0, run.explain()
    assert run.passed("wheelship-tag"), run.explain()
    remote_tags = consumer.repo.git("ls-remote", "--tags", str(consumer.origin))
    assert f"{head}\trefs/tags/v1.0.2^{{}}" in remote_tags, remote_tags
    assert "t0ken-for-push" not in run.output + run.log("wheelship-tag")

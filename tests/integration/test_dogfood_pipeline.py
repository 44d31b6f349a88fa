"""wheelship's own .gitlab-ci.yml: the templates from this working tree, as GitLab creates it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from support.gitlab_ci_local import GitlabCiLocal, Pipeline, available

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ci"))
import templates as tpl  # noqa: E402

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))


@pytest.fixture(scope="module")
def gcl(tmp_path_factory: pytest.TempPathFactory) -> GitlabCiLocal:
    return GitlabCiLocal(ROOT, home=tmp_path_factory.mktemp("home"))


def test_merge_request_builds_tests_the_wheel_and_runs_the_suite(gcl: GitlabCiLocal) -> None:
    jobs = gcl.jobs(Pipeline.merge_request("feature/x", "main"))
    assert set(jobs) == {"wheelship-build", "wheelship-test", "test-suite", "templates"}


def test_release_branch_tags_only_after_every_check(gcl: GitlabCiLocal) -> None:
    jobs = gcl.jobs(Pipeline.branch("release/0.1"))
    assert "wheelship-compat" in jobs
    assert set(jobs["wheelship-tag"].needs) == {"wheelship-test", "test-suite", "templates"}


def test_release_tag_checks_the_pin_publishes_and_releases_the_catalog(gcl: GitlabCiLocal) -> None:
    jobs = gcl.jobs(Pipeline.tag("v0.1.0"))
    assert {"templates-pin", "wheelship-publish", "catalog-release"} <= set(jobs)
    assert "templates-pin" in jobs["wheelship-publish"].needs
    assert set(jobs["catalog-release"].needs) == {"templates-pin", "wheelship-publish"}


@pytest.mark.parametrize(
    "pipeline",
    [Pipeline.merge_request("f", "release/0.1"), Pipeline.tag("v0.1.0")],
    ids=["mr-into-release", "tag"],
)
def test_rendered_pipeline_is_valid_against_gitlab_ci_schema(
    gcl: GitlabCiLocal, pipeline: Pipeline
) -> None:
    rendered = yaml.safe_load(gcl.preview(pipeline))
    assert tpl.schema_errors(rendered) == []
    build = rendered["wheelship-build"]
    assert build["variables"]["WHEELSHIP_INSTALL"] == "."
    assert build["variables"]["GIT_DEPTH"] == "0"

"""Three teams' libraries, each built with another backend, on the templates' defaults.

The projects in ``tests/fixtures/consumers`` are written as their teams write them — an ordinary
``.gitignore`` (no ``.cache/``), a ``.gitlab-ci.yml`` that includes the components with only
the inputs a team on its own package index sets — and the jobs install wheelship with all its
dependencies from that index (``PIP_INDEX_URL``, a CI/CD variable), on a bare Python per job
(support/job_image.py). No test knob: no isolation or cache override, no pre-installed package.

* geo-utils — setuptools + setuptools-scm, publishes to its GitLab project's registry (the
  default: user ``gitlab-ci-token``, the job token; GitLab's API is the fake in
  support/fake_gitlab.py): a merge request, then the release tag;
* units — flit with a static version and no README (a warning, not a failed build), publishes
  to the team's index with the ``username`` input;
* ledger — poetry-core with a static version, publishes to the team's index with the user in
  ``TWINE_USERNAME`` (a CI/CD variable, as the README's variables table says).
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest

from support.consumer import make_team_project
from support.fake_gitlab import FakeGitLab, run_fake_gitlab
from support.gitlab_ci_local import GitlabCiLocal, Pipeline, PipelineRun
from support.job_image import JobImage
from support.mirror import TEAM_USERS
from support.pypiserver import PypiServer

RELEASE_JOBS = ("wheelship-build", "wheelship-test", "wheelship-publish")


def sdist_names(run: PipelineRun) -> list[str]:
    (sdist,) = (run.artifacts("wheelship-build") / "dist").glob("*.tar.gz")
    with tarfile.open(sdist) as tf:
        return sorted(m.name.split("/", 1)[1] for m in tf.getmembers() if m.isfile())


def manifest(run: PipelineRun) -> dict[str, object]:
    path = run.artifacts("wheelship-build") / "dist" / "wheelship-manifest.json"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def assert_published(run: PipelineRun, stored: dict[str, bytes]) -> None:
    """Every built file is in the index, byte for byte (sha256 as the manifest records it)."""
    files = manifest(run)["files"]
    assert isinstance(files, list) and len(files) == 2
    for f in files:
        assert hashlib.sha256(stored[f["name"]]).hexdigest() == f["sha256"], f["name"]


def assert_no_secret(run: PipelineRun, project: Path, *secrets: str) -> None:
    kept = [p for p in (project / ".gitlab-ci-local").rglob("*") if p.is_file()]
    for secret in secrets:
        assert secret not in run.output
        assert not [p for p in kept if secret.encode() in p.read_bytes()], secret


@pytest.fixture
def gcl_env(job_image: JobImage, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = CI\n\temail = ci@example.com\n")
    return job_image.env(home)


def test_setuptools_scm_library_publishes_to_its_gitlab_registry(
    tmp_path: Path, mirror: PypiServer, gcl_env: dict[str, str]
) -> None:
    project = make_team_project(
        "geo-utils", tmp_path / "geo-utils", project_path="platform/geo-utils", index_url=""
    )
    repo = project.repo
    repo.tag("v0.4.0")
    repo.checkout("-b", "feature/bounding-box")
    repo.commit("distance: document the radius", files={"CHANGES.md": "- radius\n"})
    fake = FakeGitLab(project_id="31", project_path="platform/geo-utils")
    with run_fake_gitlab(fake):
        gitlab = {  # what GitLab gives every job
            "CI_API_V4_URL": fake.api_url,
            "CI_PROJECT_ID": "31",
            "CI_JOB_TOKEN": fake.tokens["JOB-TOKEN"],
            "PIP_INDEX_URL": mirror.simple_url,  # the team's CI/CD variable
        }
        gcl = GitlabCiLocal(project.path, env=gcl_env)
        mr = gcl.run(
            pipeline=Pipeline.merge_request("feature/bounding-box", iid=21), variables=gitlab
        ).keep(tmp_path / "runs" / "mr")
        assert mr.returncode == 0, mr.explain()
        assert manifest(mr)["version"] == "0.4.1.dev21"
        assert "2 passed" in mr.log("wheelship-test")

        repo.checkout("main")
        repo.git("merge", "-q", "--no-ff", "feature/bounding-box", "-m", "Merge bounding boxes")
        repo.tag("v0.5.0")
        release = gcl.run(pipeline=Pipeline.tag("v0.5.0", iid=22), variables=gitlab)
        assert release.returncode == 0, release.explain()
        assert all(release.passed(job) for job in RELEASE_JOBS), release.explain()
        assert manifest(release)["version"] == "0.5.0"
        assert sdist_names(release) == [
            ".gitignore",
            ".gitlab-ci.yml",
            "CHANGES.md",
            "PKG-INFO",
            "README.md",
            "pyproject.toml",
            "setup.cfg",
            "src/geo_utils.egg-info/PKG-INFO",
            "src/geo_utils.egg-info/SOURCES.txt",
            "src/geo_utils.egg-info/dependency_links.txt",
            "src/geo_utils.egg-info/requires.txt",
            "src/geo_utils.egg-info/scm_file_list.json",
            "src/geo_utils.egg-info/top_level.txt",
            "src/geo_utils/__init__.py",
            "src/geo_utils/_version.py",  # written by setuptools-scm, ignored by git
            "src/geo_utils/distance.py",
            "tests/test_distance.py",
        ]
        stored = fake.packages["geo-utils"]
        assert sorted(stored) == ["geo_utils-0.5.0-py3-none-any.whl", "geo_utils-0.5.0.tar.gz"]
        assert_published(release, stored)
        uploads = [r for r in fake.requests if r.method == "POST"]
        assert uploads and all(r.path == "/api/v4/projects/31/packages/pypi" for r in uploads)
    assert_no_secret(release, project.path, fake.tokens["JOB-TOKEN"])


@pytest.mark.parametrize(
    ("name", "tag", "variables", "expected_sdist"),
    [
        (
            "units",
            "v0.3.0",
            {"PLANT_INDEX_TOKEN": TEAM_USERS["plant-ci"]},
            ["PKG-INFO", "pyproject.toml", "units/__init__.py"],
        ),
        (
            "ledger",
            "v2.1.0",
            {"TWINE_USERNAME": "finance-ci", "FINANCE_INDEX_TOKEN": TEAM_USERS["finance-ci"]},
            ["PKG-INFO", "README.md", "ledger/__init__.py", "pyproject.toml"],
        ),
    ],
    ids=["flit", "poetry-core"],
)
def test_static_version_library_publishes_its_tag_to_the_teams_index(
    tmp_path: Path,
    mirror: PypiServer,
    gcl_env: dict[str, str],
    name: str,
    tag: str,
    variables: dict[str, str],
    expected_sdist: list[str],
) -> None:
    project = make_team_project(
        name, tmp_path / name, project_path=f"teams/{name}", index_url=mirror.url
    )
    project.repo.tag(tag)
    gcl = GitlabCiLocal(project.path, env=gcl_env)
    run = gcl.run(
        pipeline=Pipeline.tag(tag, iid=40),
        variables={"PIP_INDEX_URL": mirror.simple_url, **variables},
    )
    assert run.returncode == 0, run.explain()
    assert all(run.passed(job) for job in RELEASE_JOBS), run.explain()
    version = tag.removeprefix("v")
    assert manifest(run)["version"] == version
    assert sdist_names(run) == expected_sdist
    assert_published(run, mirror.stored())
    if name == "units":  # no README: built, with the fix named
        assert (
            "warning: units-0.3.0.tar.gz has no long description (twine check --strict would "
            'fail; the index shows an empty project page) — set readme = "README.md" in '
            "[project] of pyproject.toml"
        ) in run.log("wheelship-build")
    assert_no_secret(run, project.path, *(v for k, v in variables.items() if "TOKEN" in k))

"""A consumer project for pipeline tests: a real git repository with a bare ``origin`` whose
``.gitlab-ci.yml`` includes wheelship's templates from this working tree.

gitlab-ci-local resolves ``include: component:`` / ``include: project:`` of another project from
its include cache (``.gitlab-ci-local/includes/<host>/<project>/<ref>/...``), which
:func:`seed_templates` fills with ``templates/`` of the working tree, so the pipeline is exactly
what a consumer of that release would get — offline. The project's GitLab identity comes from a
``gcl-origin`` remote (gitlab-ci-local reads it before ``origin``); git itself fetches from and
pushes to the bare repository ``origin``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from support.gitrepo import GitRepo
from wheelship.demo.project import COMMIT_DATE, EXAMPLE_TAG, example_project

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"

HOST = "gitlab.example.com"
COMPONENT_PROJECT = "wheelship/wheelship"
COMPONENT_REF = "0.1.0"
CONSUMER_PATH = "data-science/tsff"
EXAMPLE_EPOCH = int(COMMIT_DATE.split()[0])


def component(name: str, ref: str = COMPONENT_REF) -> str:
    return f"{HOST}/{COMPONENT_PROJECT}/{name}@{ref}"


def include_component(name: str, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"component": component(name)}
    if inputs:
        entry["inputs"] = inputs
    return entry


def include_project(name: str, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """The classic form: ``include: project: / file: / ref:`` plus ``inputs:``."""
    entry: dict[str, Any] = {
        "project": COMPONENT_PROJECT,
        "ref": COMPONENT_REF,
        "file": f"/templates/{name}.yml",
    }
    if inputs:
        entry["inputs"] = inputs
    return entry


def seed_templates(project: Path, ref: str = COMPONENT_REF) -> None:
    """Put this working tree's templates where gitlab-ci-local looks for ``ref`` of the
    component project (nested ``include: local:`` are fetched via the consumer's host)."""
    dest = project / ".gitlab-ci-local" / "includes" / HOST / COMPONENT_PROJECT / ref / "templates"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(TEMPLATES, dest)


@dataclass
class Consumer:
    repo: GitRepo
    origin: Path

    @property
    def path(self) -> Path:
        return self.repo.path

    def write_ci(self, config: dict[str, Any]) -> None:
        text = yaml.safe_dump(config, sort_keys=False, width=1000)
        self.repo.write(".gitlab-ci.yml", text)

    def commit(self, message: str) -> str:
        return self.repo.commit(message)

    def push(self, *refs: str) -> None:
        self.repo.git("push", "-q", "origin", *refs)


def make_consumer(source: Path | None, dest: Path, ci: dict[str, Any]) -> Consumer:
    """Copy ``source`` (a Python project; None for an empty one) into ``dest``, add the
    pipeline, commit, and push ``main`` to a bare ``origin`` next to it."""
    if source is not None:
        shutil.copytree(
            source,
            dest,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "dist", "build", "*.egg-info"),
        )
    dest.mkdir(parents=True, exist_ok=True)
    return _finish(GitRepo.init(dest), ci, {}, "initial commit")


def make_example_consumer(
    dest: Path, ci: dict[str, Any], files: dict[str, str] | None = None
) -> Consumer:
    """The bundled example project ``tsff`` — the one ``wheelship demo`` ships — as a consumer:
    its release ``v1.0.0``, then a commit that adds the pipeline and ``files`` (such as
    ``wheelship.yml``), pushed to a bare ``origin``."""
    example_project(dest, tag=EXAMPLE_TAG)
    repo = GitRepo(dest, _clock=EXAMPLE_EPOCH)  # later commits come after the example's
    repo.git("config", "commit.gpgsign", "false")
    repo.git("config", "tag.gpgsign", "false")
    return _finish(repo, ci, files or {}, "ci: ship with wheelship")


def _finish(repo: GitRepo, ci: dict[str, Any], files: dict[str, str], message: str) -> Consumer:
    dest = repo.path
    # An ordinary .gitignore: nothing about the templates' caches (builds never see them).
    repo.write(".gitignore", ".gitlab-ci-local/\ndist/\nbuild/\n*.egg-info/\n")
    consumer = Consumer(repo, dest.parent / f"{dest.name}-origin.git")
    consumer.write_ci(ci)
    repo.commit(message, add_all=True, files=files)
    repo.add_bare_origin(consumer.origin)
    repo.git("remote", "add", "gcl-origin", f"https://{HOST}/{CONSUMER_PATH}.git")
    repo.git("fetch", "-q", "origin")
    repo.git("remote", "set-head", "origin", "main")
    seed_templates(dest)
    return consumer


TEAM_PROJECTS = ROOT / "tests" / "fixtures" / "consumers"


def make_team_project(name: str, dest: Path, *, project_path: str, index_url: str) -> Consumer:
    """A project of ``tests/fixtures/consumers`` as its team keeps it — its own ``.gitignore``
    and ``.gitlab-ci.yml`` (with the team's index URL filled in), nothing added for the tests —
    committed on ``main`` and pushed to a bare ``origin``; GitLab knows it as ``project_path``."""
    shutil.copytree(TEAM_PROJECTS / name, dest)
    ci = dest / ".gitlab-ci.yml"
    ci.write_text(ci.read_text().replace("@INDEX_URL@", index_url))
    repo = GitRepo.init(dest)
    repo.commit(f"{name}: first version", add_all=True)
    consumer = Consumer(repo, dest.parent / f"{dest.name}-origin.git")
    repo.add_bare_origin(consumer.origin)
    repo.git("remote", "add", "gcl-origin", f"https://{HOST}/{project_path}.git")
    repo.git("fetch", "-q", "origin")
    repo.git("remote", "set-head", "origin", "main")
    seed_templates(dest)
    # gitlab-ci-local's state directory ignores itself (as gitlab-ci-local makes it do).
    (dest / ".gitlab-ci-local" / ".gitignore").write_text("*\n")
    return consumer

"""The demo's Databricks workspace for pipeline tests: the example project ``tsff`` on 1.0.0.

The same workspace ``wheelship demo`` deploys to (:mod:`wheelship.demo.workspace`): jobs on a job
cluster, a serverless job, a ``for_each_task`` that pins ``tsff==1.0.0`` from the team's package
index, a smoke job; two all-purpose clusters in automated mode (one running, one terminated) and
a restricted one only an admin may change. Here the pin points at the test's real pypiserver, so
the index the jobs install from is the one the pipeline publishes to.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from wheelship.building.builder import BuildSettings, build_project
from wheelship.building.version import VersionSettings
from wheelship.demo import workspace
from wheelship.demo.project import EXAMPLE_TAG, example_project

PREVIOUS = "1.0.0"
ARTIFACTS = workspace.ARTIFACTS
RUNNING = workspace.RUNNING
TERMINATED = workspace.TERMINATED
RESTRICTED = workspace.RESTRICTED
TSFF_JOBS = {1001: "tsff-train", 1002: "tsff-score", 1003: "tsff-backtest", 1004: "tsff-smoke"}
OTHER_JOB = 1005

#: The consumer's wheelship.yml: production (the demo's target: automated clusters and a manual
#: one) and ``restricted``, a target whose only cluster is in manual mode.
CONFIG = f"""{workspace.CONFIG}\
  restricted:
    artifacts: {ARTIFACTS}
    clusters:
      mode: manual
      names: ["restricted-*"]
"""


def wheel_path(version: str) -> str:
    return f"{ARTIFACTS}/tsff-{version}-py3-none-any.whl"


def build_previous_release(workdir: Path) -> Path:
    """The wheel of tsff 1.0.0, built from the example's release tag like its pipeline did."""
    project = example_project(workdir / "tsff-1.0.0", tag=EXAMPLE_TAG)
    result = build_project(
        BuildSettings(
            version=VersionSettings(project=project),
            outdir=workdir / "dist-1.0.0",
            isolation="none",
        )
    )
    return result.wheel


def seed(previous_wheel: Path, registry: str) -> dict[str, Any]:
    """Every tsff job and automated cluster on 1.0.0; the pinned index is ``registry``."""
    data = copy.deepcopy(workspace.seed(previous_wheel, PREVIOUS))
    for job in data["jobs"]:
        for task in job["settings"].get("tasks", []):
            inner = task.get("for_each_task", {}).get("task", task)
            for lib in inner.get("libraries", []):
                if "pypi" in lib:
                    lib["pypi"]["repo"] = registry
    return data


def tsff_references(job_settings: dict[str, Any]) -> list[str]:
    """Every place a job refers to tsff: wheel paths, pins and environment dependencies."""
    found: list[str] = []
    for env in job_settings.get("environments", []):
        found += [d for d in env.get("spec", {}).get("dependencies", []) if "tsff" in d]
    for task in job_settings.get("tasks", []):
        inner = task.get("for_each_task", {}).get("task", task)
        for lib in inner.get("libraries", []):
            if "tsff" in lib.get("whl", ""):
                found.append(lib["whl"])
            if "tsff" in lib.get("pypi", {}).get("package", ""):
                found.append(lib["pypi"]["package"])
    return found

"""Deploy invariants, checkable at any moment.

1. Every library reference of a job (task ``libraries``, ``for_each_task`` inner tasks, serverless
   ``environments[].spec.dependencies`` paths) and of a cluster points at a file that exists.
   Cluster libraries marked ``UNINSTALL_ON_RESTART`` are going away and are not counted.
2. No cluster has two versions of one Python package among its libraries (again not counting
   those marked for removal): after the next restart both would be installed, and the second
   fails with ERROR_DUPLICATE_INSTALLATION.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from wheelship.emulator import libspec
from wheelship.emulator.state import Workspace


def _job_refs(settings: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, path) for every file a job references."""

    def task_refs(task: dict[str, Any], where: str) -> Iterator[tuple[str, str]]:
        for i, lib in enumerate(task.get("libraries") or []):
            path = libspec.library_path(lib) if isinstance(lib, dict) else None
            if path:
                yield f"{where}.libraries[{i}]", path
        inner = (task.get("for_each_task") or {}).get("task")
        if isinstance(inner, dict):
            yield from task_refs(inner, f"{where}.for_each_task.task")

    for task in settings.get("tasks") or []:
        if isinstance(task, dict):
            yield from task_refs(task, f"task {task.get('task_key')}")
    for env in settings.get("environments") or []:
        if not isinstance(env, dict):
            continue
        deps = (env.get("spec") or {}).get("dependencies") or []
        for i, dep in enumerate(deps):
            if isinstance(dep, str) and libspec.dependency_file(dep) is not None:
                yield f"environment {env.get('environment_key')}.dependencies[{i}]", dep


def check(ws: Workspace) -> list[str]:
    """Violations as human-readable lines (empty when all hold)."""
    problems: list[str] = []
    for job_id in sorted(ws.jobs):
        job = ws.jobs[job_id]
        for where, path in _job_refs(job.settings):
            ref = libspec.dependency_file(path) or libspec.file_ref(path)
            if ref is not None and not ws.file_exists(ref):
                problems.append(
                    f"job {job_id} ({job.settings.get('name')}): {where} references missing "
                    f"file {path}"
                )
    for cluster_id in sorted(ws.clusters):
        cluster = ws.clusters[cluster_id]
        versions: dict[str, set[str]] = {}
        for lib in cluster.libraries:
            if lib.status == "UNINSTALL_ON_RESTART":
                continue
            lib_path = libspec.library_path(lib.spec)
            ref = libspec.file_ref(lib_path) if lib_path else None
            if ref is not None and not ws.file_exists(ref):
                problems.append(
                    f"cluster {cluster_id} ({cluster.name}): library references missing file {lib_path}"
                )
            package = libspec.package_of(lib.spec)
            if package is not None:
                versions.setdefault(package[0], set()).add(package[1] or "unpinned")
        for name, found in sorted(versions.items()):
            if len(found) > 1:
                problems.append(
                    f"cluster {cluster_id} ({cluster.name}): package {name} has "
                    f"{len(found)} versions installed: {', '.join(sorted(found))}"
                )
    return problems

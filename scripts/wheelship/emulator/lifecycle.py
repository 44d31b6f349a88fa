"""The time-driven state machines: clusters, libraries on clusters, job runs.

Every object with a pending transition carries ``due`` (simulated epoch seconds). :func:`advance`
applies due transitions in time order — a run waiting for its cluster sees the cluster come up
first — so reading state at any moment gives what the real service would show by then.

Clusters: ``PENDING -> RUNNING``, ``RUNNING -> RESTARTING -> RUNNING``, ``* -> TERMINATING ->
TERMINATED``. Libraries: on a running cluster ``PENDING -> INSTALLING -> INSTALLED | FAILED``;
queued (``PENDING``) on a stopped one; ``uninstall`` marks ``UNINSTALL_ON_RESTART`` and the entry
disappears the next time the cluster comes up, when every other library is installed again.
Runs: ``QUEUED -> PENDING -> RUNNING -> TERMINATING -> TERMINATED`` with a result.
"""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

from wheelship.emulator import libcompat, libspec
from wheelship.emulator.auth import Principal
from wheelship.emulator.state import Cluster, LibraryEntry, Run, RunTask, Workspace

_ACTIVE_RUN = {"QUEUED", "PENDING", "RUNNING", "TERMINATING"}


def _ms(t: float) -> int:
    return int(t * 1000)


def new_cluster_id(now: float) -> str:
    stamp = time.strftime("%m%d-%H%M%S", time.gmtime(now))
    tail = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    return f"{stamp}-{tail}"


# -- the event loop ---------------------------------------------------------------------------
def advance(ws: Workspace, now: float) -> None:
    while True:
        best: tuple[float, Any] | None = None
        for cluster in ws.clusters.values():
            if cluster.due is not None and (best is None or cluster.due < best[0]):
                best = (cluster.due, cluster)
            for lib in cluster.libraries:
                if lib.due is not None and (best is None or lib.due < best[0]):
                    best = (lib.due, (cluster, lib))
        for run in ws.runs.values():
            if run.due is not None and (best is None or run.due < best[0]):
                best = (run.due, run)
        if best is None or best[0] > now:
            return
        t, obj = best
        if isinstance(obj, Cluster):
            obj.due = None
            _cluster_event(ws, obj, t)
        elif isinstance(obj, Run):
            obj.due = None
            _run_event(ws, obj, t)
        else:
            cluster, lib = obj
            lib.due = None
            _library_event(ws, cluster, lib, t)
        ws.changed()


# -- clusters ---------------------------------------------------------------------------------
def title(state: str) -> str:
    return state.capitalize()


def start_cluster(ws: Workspace, cluster: Cluster, t: float) -> None:
    cluster.state = "PENDING"
    cluster.state_message = "Finding instances for new nodes, acquiring more instances if necessary"
    cluster.start_time = _ms(t)
    cluster.terminated_time = None
    cluster.termination_reason = None
    cluster.due = t + ws.durations.cluster_start
    ws.changed()


def restart_cluster(ws: Workspace, cluster: Cluster, t: float) -> None:
    cluster.state = "RESTARTING"
    cluster.state_message = "Restarting Spark"
    cluster.due = t + ws.durations.cluster_restart
    _unload(cluster)
    ws.changed()


def terminate_cluster(ws: Workspace, cluster: Cluster, t: float, user: str) -> None:
    cluster.state = "TERMINATING"
    cluster.state_message = "Terminating the Spark cluster"
    cluster.due = t + ws.durations.cluster_terminate
    cluster.termination_reason = {
        "code": "USER_REQUEST",
        "type": "SUCCESS",
        "parameters": {"username": user},
    }
    _unload(cluster)
    ws.changed()


def _unload(cluster: Cluster) -> None:
    """The cluster's Python environment is gone: every library waits for the next start."""
    for lib in cluster.libraries:
        lib.loaded = False
        lib.due = None
        if lib.status != "UNINSTALL_ON_RESTART":
            lib.status = "PENDING"
            lib.messages = []


def _cluster_event(ws: Workspace, cluster: Cluster, t: float) -> None:
    if cluster.state in {"PENDING", "RESTARTING"}:
        if cluster.state == "RESTARTING":
            cluster.last_restarted_time = _ms(t)
        cluster.state = "RUNNING"
        cluster.state_message = ""
        # the library manager reinstalls everything except what was marked for removal
        cluster.libraries = [x for x in cluster.libraries if x.status != "UNINSTALL_ON_RESTART"]
        for lib in cluster.libraries:
            lib.status, lib.messages, lib.loaded = "PENDING", [], False
            lib.due = t + ws.durations.library_resolve
    elif cluster.state == "TERMINATING":
        cluster.state = "TERMINATED"
        cluster.state_message = ""
        cluster.terminated_time = _ms(t)
        for run in ws.runs.values():
            if run.active and any(task.cluster_id == cluster.cluster_id for task in run.tasks):
                _fail_run(
                    ws,
                    run,
                    t,
                    "CLUSTER_ERROR",
                    f"Cluster {cluster.cluster_id} was terminated during the run.",
                )


# -- libraries --------------------------------------------------------------------------------
def install_libraries(
    ws: Workspace,
    cluster: Cluster,
    specs: list[dict[str, Any]],
    t: float,
    installer: str | None = None,
) -> None:
    for spec in specs:
        existing = next((x for x in cluster.libraries if x.spec == spec), None)
        if existing is not None:
            if existing.status == "UNINSTALL_ON_RESTART":
                # installing again cancels the pending removal
                existing.status = "INSTALLED" if existing.loaded else "PENDING"
                if existing.status == "PENDING" and cluster.state == "RUNNING":
                    existing.due = t + ws.durations.library_resolve
            continue
        lib = LibraryEntry(spec=dict(spec), installer=installer)
        if cluster.state == "RUNNING":
            lib.due = t + ws.durations.library_resolve
        cluster.libraries.append(lib)
    ws.changed()


def uninstall_libraries(ws: Workspace, cluster: Cluster, specs: list[dict[str, Any]]) -> None:
    for lib in cluster.libraries:
        if lib.spec in specs:
            lib.status = "UNINSTALL_ON_RESTART"
            lib.messages = []
            lib.due = None
    ws.changed()


def ordered_statuses(cluster: Cluster) -> list[dict[str, Any]]:
    keep = [x for x in cluster.libraries if x.status != "UNINSTALL_ON_RESTART"]
    going = [x for x in cluster.libraries if x.status == "UNINSTALL_ON_RESTART"]
    return [x.to_status() for x in keep + going]


def identity(ws: Workspace, name: str | None) -> Principal | None:
    """The principal a name stands for (a declared user or service principal; otherwise an
    ordinary user with no grants)."""
    if not name:
        return None
    return (
        ws.auth.principal_of("service_principal", name)
        or ws.auth.principal_of("user", name)
        or Principal(name, "user")
    )


def library_problem(
    ws: Workspace, cluster: Cluster, spec: dict[str, Any], installer: str | None = None
) -> str | None:
    """Why installing ``spec`` on ``cluster`` fails now, or None. On dedicated compute the
    assigned principal reads the file, elsewhere the installer (compute compatibility docs:
    "libraries use the identity of the library installer")."""
    compute = libcompat.Compute.of(cluster.cluster_id, cluster.spec)
    who = cluster.spec.get("single_user_name") if compute.mode == "dedicated" else installer
    return spec_problem(ws, compute, spec, identity(ws, who if isinstance(who, str) else None)) or (
        _conflict(cluster, spec)
    )


def spec_problem(
    ws: Workspace, compute: libcompat.Compute, spec: dict[str, Any], who: Principal | None
) -> str | None:
    """Source rules (runtime, access mode, privileges), then the file itself."""
    problem = libcompat.source_problem(
        compute,
        spec,
        identity=who,
        volume_problem=ws.volume_problem,
        allowlist=ws.artifact_allowlist,
    )
    if problem:
        return problem
    path = libspec.library_path(spec)
    if path is not None:
        ref = libspec.file_ref(path)
        if ref is not None and not ws.file_exists(ref):
            return libcompat.driver_error(
                compute.label,
                "ERROR_NO_SUCH_FILE_OR_DIRECTORY",
                f"java.io.FileNotFoundException: {path} (No such file or directory)",
            )
        if "whl" in spec and libspec.wheel_package(path) is None:
            return libcompat.driver_error(
                compute.label,
                "ERROR_INVALID_WHEEL",
                f"{path} is not a valid wheel filename.",
            )
    return None


def _conflict(cluster: Cluster, spec: dict[str, Any]) -> str | None:
    package = libspec.package_of(spec)
    if package is not None:
        name, version = package
        for other in cluster.libraries:
            if other.spec == spec or not other.loaded:
                continue
            other_pkg = libspec.package_of(other.spec)
            if other_pkg and other_pkg[0] == name and other_pkg[1] != version:
                kind = "PyPI package" if "pypi" in spec else "Python wheel package"
                return libcompat.driver_error(
                    cluster.cluster_id,
                    "ERROR_DUPLICATE_INSTALLATION",
                    "Duplicate package installation detected, please uninstall the existing "
                    f"package before installing a new one. {kind} {name} has been installed "
                    f"already (version {other_pkg[1]}).",
                )
    return None


def _library_event(ws: Workspace, cluster: Cluster, lib: LibraryEntry, t: float) -> None:
    if cluster.state != "RUNNING":
        return
    if lib.status == "PENDING":
        lib.status = "INSTALLING"
        lib.due = t + ws.durations.library_install
    elif lib.status == "INSTALLING":
        problem = library_problem(ws, cluster, lib.spec, lib.installer)
        if problem:
            lib.status, lib.messages = "FAILED", [problem]
        else:
            lib.status, lib.messages, lib.loaded = "INSTALLED", [], True


# -- runs -------------------------------------------------------------------------------------
def new_run(
    ws: Workspace,
    job_id: int,
    settings: dict[str, Any],
    user: str,
    *,
    only: list[str] | None,
    job_parameters: list[dict[str, Any]],
    overriding: dict[str, Any],
    idempotency_token: str | None,
    run_as: str = "",
) -> Run:
    t = ws.now()
    run_id = ws.next_run_id
    ws.next_run_id += 1
    tasks: list[RunTask] = []
    for task in settings.get("tasks", []) or []:
        if only and task.get("task_key") not in only:
            continue
        task_run_id = ws.next_run_id
        ws.next_run_id += 1
        tasks.append(
            RunTask(
                task_key=str(task.get("task_key", "")),
                run_id=task_run_id,
                settings=task,
                cluster_id=task.get("existing_cluster_id"),
            )
        )
        ws.task_runs[task_run_id] = (run_id, tasks[-1].task_key)
    number = 1 + sum(1 for r in ws.runs.values() if r.job_id == job_id)
    run = Run(
        run_id=run_id,
        job_id=job_id,
        number_in_job=number,
        run_name=str(settings.get("name", "Untitled")),
        creator_user_name=user,
        settings=settings,
        tasks=tasks,
        job_parameters=job_parameters,
        overriding=overriding,
        created_at=t,
        start_time=_ms(t),
        idempotency_token=idempotency_token,
        run_as=run_as,
    )
    ws.runs[run_id] = run
    limit = concurrency_limit(settings)
    active = sum(1 for r in ws.runs.values() if r.job_id == job_id and r.active and r is not run)
    if active >= limit:
        # Jobs API: over max_concurrent_runs a run is queued when the job's queue is enabled,
        # else skipped; "setting this value to 0 causes all new runs to be skipped"
        if limit > 0 and (settings.get("queue") or {}).get("enabled"):
            run.life_cycle_state = "QUEUED"
            run.queue_reason = f"Queued due to reaching maximum concurrent runs of {limit}."
        else:
            run.life_cycle_state = "SKIPPED"
            run.state_message = (
                f"Skipping this run because the limit of {limit} maximum concurrent runs has "
                "been reached."
            )
            run.code, run.code_type = "MAX_CONCURRENT_RUNS_EXCEEDED", "CLIENT_ERROR"
            run.end_time = _ms(t)
            for task in run.tasks:
                task.life_cycle_state = "SKIPPED"
    else:
        _begin(ws, run, t)
    ws.changed()
    return run


def concurrency_limit(settings: dict[str, Any]) -> int:
    value = settings.get("max_concurrent_runs", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def _begin(ws: Workspace, run: Run, t: float) -> None:
    run.life_cycle_state = "PENDING"
    run.queue_reason = ""
    run.state_message = "Waiting for cluster"
    run.setup_start = _ms(t)
    for task in run.tasks:
        task.life_cycle_state = "PENDING"
        task.start_time = _ms(t)
        cluster = ws.clusters.get(task.cluster_id or "")
        if cluster is not None and cluster.state == "TERMINATED":
            # a run on a stopped all-purpose cluster starts it, as the real service does
            start_cluster(ws, cluster, t)
            run.started_clusters.append(cluster.cluster_id)
    run.due = t + ws.durations.run_setup


def cancel_run(ws: Workspace, run: Run, t: float) -> None:
    if not run.active:
        return
    run.user_cancelled_or_timedout = True
    run.result_state = "CANCELED"
    run.code, run.code_type = "USER_CANCELED", "SUCCESS"
    run.message = "Run cancelled."
    run.state_message = "Run cancelled."
    for task in run.tasks:
        if task.life_cycle_state not in {"TERMINATED", "SKIPPED", "INTERNAL_ERROR"}:
            task.result_state = "CANCELED"
            task.code = "USER_CANCELED"
    if run.life_cycle_state == "QUEUED":
        _finish(ws, run, t)
        return
    run.life_cycle_state = "TERMINATING"
    run.cleanup_start = _ms(t)
    for task in run.tasks:
        if task.life_cycle_state in _ACTIVE_RUN:
            task.life_cycle_state = "TERMINATING"
    run.due = t + ws.durations.run_cleanup
    ws.changed()


def _fail_run(ws: Workspace, run: Run, t: float, code: str, message: str) -> None:
    run.life_cycle_state = "INTERNAL_ERROR"
    run.result_state = "FAILED"
    run.code, run.code_type, run.message = code, "CLOUD_FAILURE", message
    run.state_message = message
    for task in run.tasks:
        if task.life_cycle_state in _ACTIVE_RUN:
            task.life_cycle_state, task.result_state = "INTERNAL_ERROR", "FAILED"
            task.code, task.message = code, message
            task.end_time = _ms(t)
    run.due = None
    run.end_time = _ms(t)
    _dequeue(ws, run.job_id, t)


def _run_event(ws: Workspace, run: Run, t: float) -> None:
    if run.life_cycle_state == "PENDING":
        for task in run.tasks:
            if task.cluster_id is None:
                continue
            cluster = ws.clusters.get(task.cluster_id)
            if cluster is None:
                _fail_run(ws, run, t, "CLUSTER_ERROR", f"Cluster {task.cluster_id} does not exist")
                return
            if cluster.state in {"PENDING", "RESTARTING"}:
                run.due = (cluster.due or t) + ws.durations.run_setup
                return
            if cluster.state != "RUNNING":
                _fail_run(
                    ws,
                    run,
                    t,
                    "CLUSTER_ERROR",
                    f"Cluster {cluster.cluster_id} is in unexpected state {title(cluster.state)}.",
                )
                return
        _setup(ws, run, t)
    elif run.life_cycle_state == "RUNNING":
        run.life_cycle_state = "TERMINATING"
        run.cleanup_start = _ms(t)
        run.state_message = ""
        for task in run.tasks:
            if task.life_cycle_state == "RUNNING":
                task.life_cycle_state = "TERMINATING"
        run.due = t + ws.durations.run_cleanup
    elif run.life_cycle_state == "TERMINATING":
        _finish(ws, run, t)


def _setup(ws: Workspace, run: Run, t: float) -> None:
    """Install each task's libraries and look for its entry point: decide the outcome."""
    environments = {
        env.get("environment_key"): env for env in run.settings.get("environments", []) or []
    }
    failed: set[str] = set()
    for task in run.tasks:
        problem = task_problem(ws, run, task, environments)
        if problem is not None:
            task.code, task.message = problem
            task.result_state = "FAILED"
            failed.add(task.task_key)
    # tasks downstream of a failure do not run
    changed = True
    while changed:
        changed = False
        for task in run.tasks:
            if task.task_key in failed:
                continue
            deps = [d.get("task_key") for d in task.settings.get("depends_on", []) or []]
            if any(d in failed for d in deps) and task.settings.get("run_if", "ALL_SUCCESS") in {
                "ALL_SUCCESS",
                "NONE_FAILED",
            }:
                task.result_state, task.code = "UPSTREAM_FAILED", "UPSTREAM_FAILED"
                task.message = "Upstream task failed."
                failed.add(task.task_key)
                changed = True
    run.exec_start = _ms(t)
    lib_failures = [x for x in run.tasks if x.code == "LIBRARY_INSTALLATION_ERROR"]
    for task in run.tasks:
        task.life_cycle_state = "RUNNING" if task.code is None else "TERMINATING"
    if lib_failures and len(lib_failures) + sum(
        1 for x in run.tasks if x.code == "UPSTREAM_FAILED"
    ) == len(run.tasks):
        # nothing can start: the run goes straight to cleanup
        run.life_cycle_state = "TERMINATING"
        run.cleanup_start = _ms(t)
        run.due = t + ws.durations.run_cleanup
    else:
        run.life_cycle_state = "RUNNING"
        run.state_message = "In run"
        run.due = t + ws.durations.run_execute


def _task_compute(ws: Workspace, run: Run, task: RunTask) -> libcompat.Compute:
    """The compute a task's libraries go to: its all-purpose cluster, its new cluster or job
    cluster (spec from the run's settings), or serverless (no runtime or access-mode rule)."""
    settings = task.settings
    cluster = ws.clusters.get(task.cluster_id or "")
    if cluster is not None:
        return libcompat.Compute.of(cluster.cluster_id, cluster.spec)
    spec = settings.get("new_cluster")
    key = settings.get("job_cluster_key")
    if key is not None:
        for item in run.settings.get("job_clusters", []) or []:
            if isinstance(item, dict) and item.get("job_cluster_key") == key:
                spec = item.get("new_cluster")
    if isinstance(spec, dict):
        return libcompat.Compute.of(f"job-{run.run_id}-{task.task_key}", spec)
    return libcompat.Compute("serverless", None, "unknown")


def task_problem(
    ws: Workspace, run: Run, task: RunTask, environments: dict[Any, dict[str, Any]]
) -> tuple[str, str] | None:
    """(termination code, message) when the task cannot succeed, else None. Its libraries are
    installed as the run's run-as identity (Jobs docs: "the job runs as" that identity)."""
    settings = task.settings
    libraries = [lib for lib in settings.get("libraries", []) or [] if isinstance(lib, dict)]
    deps: list[str] = []
    env = environments.get(settings.get("environment_key"))
    if env is not None:
        deps = [
            d for d in (env.get("spec") or {}).get("dependencies", []) or [] if isinstance(d, str)
        ]
    compute = _task_compute(ws, run, task)
    who = identity(ws, run.run_as or run.creator_user_name)
    cluster = ws.clusters.get(task.cluster_id or "")
    available: set[str] = set()
    for lib in libraries:
        problem = spec_problem(ws, compute, lib, who)
        if problem is None and cluster is not None:
            problem = _conflict(cluster, lib)
        if problem is not None:
            # the run's message as the service words it (quoted in databrickslabs/ucx#1096)
            return (
                "LIBRARY_INSTALLATION_ERROR",
                "Library installation failed for library due to user error for "
                f"{_lib_text(lib)}\n Error messages:\n{problem}",
            )
        package = libspec.package_of(lib)
        if package is not None:
            available.add(package[0])
        available |= _requirements_packages(ws, lib)
    for dep in deps:
        ref = libspec.dependency_file(dep)
        if ref is not None and not ws.file_exists(ref):
            return (
                "LIBRARY_INSTALLATION_ERROR",
                f"Library installation failed for library due to user error for {dep}. Error "
                f"messages: ERROR: {dep} does not exist.",
            )
        package_dep = libspec.dependency_package(dep)
        if package_dep is not None:
            available.add(package_dep[0])
    if cluster is not None:
        for entry in cluster.libraries:
            package = libspec.package_of(entry.spec)
            if package is not None and entry.loaded:
                available.add(package[0])
    wheel_task = settings.get("python_wheel_task")
    if isinstance(wheel_task, dict):
        name = wheel_task.get("package_name")
        if isinstance(name, str) and libspec.canonical(name) not in available:
            module = name.replace("-", "_")
            return (
                "RUN_EXECUTION_ERROR",
                f"ModuleNotFoundError: No module named '{module}' — package {name} is not "
                "installed on the task's compute",
            )
    return None


def _requirements_packages(ws: Workspace, lib: dict[str, Any]) -> set[str]:
    """The packages a ``requirements`` library installs (its lines: requirement specifiers or
    wheel paths; options, comments and nested ``-r`` files are skipped)."""
    path = lib.get("requirements")
    ref = libspec.file_ref(path) if isinstance(path, str) else None
    node = ws.tree(ref.store).get(ref.path) if ref is not None else None
    if node is None or node.is_dir or node.blob_id is None or node.size > 1024 * 1024:
        return set()
    text = ws.blobs.read(node.blob_id).decode("utf-8", errors="replace")
    found: set[str] = set()
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        package = libspec.dependency_package(line)
        if package is not None:
            found.add(package[0])
    return found


def _lib_text(lib: dict[str, Any]) -> str:
    for key, value in lib.items():
        return f'{key}: "{value}"' if isinstance(value, str) else f"{key}: {value!r}"
    return "library"


def _finish(ws: Workspace, run: Run, t: float) -> None:
    run.end_time = _ms(t)
    run.due = None
    run.life_cycle_state = "TERMINATED"
    run.state_message = "" if run.result_state != "CANCELED" else run.state_message
    for task in run.tasks:
        task.end_time = _ms(t)
        if task.life_cycle_state != "SKIPPED":
            task.life_cycle_state = "TERMINATED"
        if task.result_state is None:
            task.result_state = "SUCCESS"
    if run.result_state is None:
        failures = [x for x in run.tasks if x.result_state not in {"SUCCESS", None}]
        first = next((x for x in failures if x.code != "UPSTREAM_FAILED"), None)
        if first is None:
            run.result_state = "SUCCESS"
            run.code, run.code_type, run.message = "SUCCESS", "SUCCESS", ""
        else:
            run.result_state = "FAILED"
            run.code, run.code_type = first.code, "CLIENT_ERROR"
            run.message = first.message
            run.state_message = first.message
    _dequeue(ws, run.job_id, t)


def _dequeue(ws: Workspace, job_id: int, t: float) -> None:
    queued = sorted(
        (r for r in ws.runs.values() if r.job_id == job_id and r.life_cycle_state == "QUEUED"),
        key=lambda r: r.run_id,
    )
    if not queued:
        return
    limit = concurrency_limit(queued[0].settings)
    active = sum(
        1
        for r in ws.runs.values()
        if r.job_id == job_id and r.active and r.life_cycle_state != "QUEUED"
    )
    for run in queued[: max(0, limit - active)]:
        _begin(ws, run, t)

"""Jobs API 2.1 and 2.2 (2.0 answers like 2.1): create, reset, update, delete, get, list,
run-now, runs/get, runs/list, runs/cancel, runs/get-output.

2.2 pages the arrays of ``jobs/get`` and ``runs/get`` in slices of 100 and omits
``next_page_token`` on the last page (an empty token makes the SDK loop forever); ``jobs/list``
with ``expand_tasks`` caps each job's arrays at 100 and flags ``has_more``.
"""

from __future__ import annotations

import copy
import zlib
from typing import Any

from wheelship.emulator import acl, jobfields, lifecycle
from wheelship.emulator.auth import Principal
from wheelship.emulator.router import Router
from wheelship.emulator.services.libraries import validate_library
from wheelship.emulator.state import Job, Run, RunTask, Workspace
from wheelship.emulator.wire import (
    ApiError,
    Request,
    bad_request,
    field_bool,
    field_int,
    field_list,
    field_obj,
    field_str,
    malformed,
    page_token,
    read_page_token,
)

VERSIONS = ("2.0", "2.1", "2.2")
PAGE = 100  # array slice per jobs/get (2.2)
KEYED_ARRAYS = {
    "tasks": "task_key",
    "job_clusters": "job_cluster_key",
    "environments": "environment_key",
}
PAGED_JOB_ARRAYS = ("tasks", "job_clusters", "environments", "parameters")
MAX_TASKS = 1000
MAX_JOBS = 10_000
MAX_CONCURRENT_RUNS = 1000
COMPUTE_KEYS = ("existing_cluster_id", "new_cluster", "job_cluster_key", "environment_key")


def register(router: Router) -> None:
    add = router.add
    add("POST", "/api/{v}/jobs/create", create, versions=VERSIONS)
    add("POST", "/api/{v}/jobs/reset", reset, versions=VERSIONS)
    add("POST", "/api/{v}/jobs/update", update, versions=VERSIONS)
    add("POST", "/api/{v}/jobs/delete", delete, versions=VERSIONS)
    add("GET", "/api/{v}/jobs/get", get, versions=VERSIONS, body="none")
    add("GET", "/api/{v}/jobs/list", list_, versions=VERSIONS, body="none")
    add("POST", "/api/{v}/jobs/run-now", run_now, versions=VERSIONS)
    add("GET", "/api/{v}/jobs/runs/get", runs_get, versions=VERSIONS, body="none")
    add("GET", "/api/{v}/jobs/runs/list", runs_list, versions=VERSIONS, body="none")
    add("POST", "/api/{v}/jobs/runs/cancel", runs_cancel, versions=VERSIONS)
    add("GET", "/api/{v}/jobs/runs/get-output", runs_get_output, versions=VERSIONS, body="none")


# -- settings ---------------------------------------------------------------------------------
def validate_settings(raw: Any, where: str = "new_settings") -> dict[str, Any]:
    """Check a complete JobSettings object the way the service does; returns a deep copy."""
    if not isinstance(raw, dict):
        raise malformed(f"expected an object for '{where}'")
    settings: dict[str, Any] = copy.deepcopy(raw)
    if "name" in settings and not isinstance(settings["name"], str):
        raise malformed("expected a string for field 'name'")
    if "tags" in settings and not isinstance(settings["tags"], dict):
        raise malformed("expected an object for field 'tags'")
    if "max_concurrent_runs" in settings:
        value = settings["max_concurrent_runs"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad_request("max_concurrent_runs must be a non-negative integer")
        if value > MAX_CONCURRENT_RUNS:  # JobSettings docs: "cannot exceed 1000"
            raise bad_request(
                f"max_concurrent_runs must be at most {MAX_CONCURRENT_RUNS}, got {value}"
            )
    jobfields.validate(settings)
    for name, key in KEYED_ARRAYS.items():
        items = field_list(settings, name) or []
        seen: set[str] = set()
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise malformed(f"expected an object in '{name}[{i}]'")
            value = item.get(key)
            if not isinstance(value, str) or not value:
                raise bad_request(f"Missing required field: {name}[{i}].{key}")
            if value in seen:
                raise bad_request(f"The {key} '{value}' is not unique in {name}.")
            seen.add(value)
    tasks = settings.get("tasks") or []
    if len(tasks) > MAX_TASKS:
        raise bad_request(f"A job can have at most {MAX_TASKS} tasks; got {len(tasks)}.")
    task_keys = {t["task_key"] for t in tasks}
    cluster_keys = {c["job_cluster_key"] for c in settings.get("job_clusters") or []}
    env_keys = {e["environment_key"] for e in settings.get("environments") or []}
    for task in tasks:
        _validate_task(task, task_keys, cluster_keys, env_keys)
    return settings


def _validate_task(
    task: dict[str, Any], task_keys: set[str], cluster_keys: set[str], env_keys: set[str]
) -> None:
    key = task["task_key"]
    for dep in field_list(task, "depends_on") or []:
        if not isinstance(dep, dict) or dep.get("task_key") not in task_keys:
            raise bad_request(f"Task {key} depends on a task that is not in the job: {dep!r}")
        if dep.get("task_key") == key:
            raise bad_request(f"Task {key} cannot depend on itself.")
    cluster_key = task.get("job_cluster_key")
    if cluster_key is not None and cluster_key not in cluster_keys:
        raise bad_request(
            f"Task {key} refers to a job cluster {cluster_key!r} that is not in job_clusters."
        )
    env_key = task.get("environment_key")
    if env_key is not None and env_key not in env_keys:
        raise bad_request(
            f"Task {key} refers to an environment {env_key!r} that is not in environments."
        )
    if "existing_cluster_id" in task and not isinstance(task["existing_cluster_id"], str):
        raise malformed(f"expected a string for field 'tasks.{key}.existing_cluster_id'")
    if sum(1 for k in COMPUTE_KEYS if k in task) > 1:
        raise bad_request(f"Task {key} must specify at most one of {', '.join(COMPUTE_KEYS)}.")
    for i, lib in enumerate(field_list(task, "libraries") or []):
        validate_library(lib, f"tasks.{key}.libraries[{i}]")
    wheel = task.get("python_wheel_task")
    if wheel is not None:
        if not isinstance(wheel, dict):
            raise malformed(f"expected an object for field 'tasks.{key}.python_wheel_task'")
        for name in ("package_name", "entry_point"):
            if not isinstance(wheel.get(name), str) or not wheel[name]:
                raise bad_request(f"Missing required field: tasks.{key}.python_wheel_task.{name}")
        if wheel.get("parameters") and wheel.get("named_parameters"):
            raise bad_request(
                f"Task {key}: python_wheel_task takes parameters or named_parameters, not both."
            )
    for_each = task.get("for_each_task")
    if isinstance(for_each, dict) and isinstance(for_each.get("task"), dict):
        inner = for_each["task"]
        for i, lib in enumerate(field_list(inner, "libraries") or []):
            validate_library(lib, f"tasks.{key}.for_each_task.task.libraries[{i}]")


def with_defaults(settings: dict[str, Any], *, queue: bool) -> dict[str, Any]:
    """The fields the service fills in when a job is created (``queue``: created with 2.2,
    which turns queueing on — Jobs API 2.2 docs: "queueing is enabled by default for jobs
    created with the 2.2 API") or reset (whole settings replaced; the queue default is a
    create-time default and is not applied again)."""
    settings.setdefault("name", "Untitled")
    settings.setdefault("email_notifications", {})
    settings.setdefault("webhook_notifications", {})
    settings.setdefault("timeout_seconds", 0)
    settings.setdefault("max_concurrent_runs", 1)
    settings.setdefault("format", "MULTI_TASK")
    if queue:
        settings.setdefault("queue", {"enabled": True})
    return task_defaults(settings)


def task_defaults(settings: dict[str, Any]) -> dict[str, Any]:
    """Per-task defaults: ``update`` applies only these (to the tasks it adds or replaces);
    a partial update changes only the fields it sends."""
    for task in settings.get("tasks") or []:
        task.setdefault("timeout_seconds", 0)
        task.setdefault("email_notifications", {})
        if task.get("depends_on"):
            task.setdefault("run_if", "ALL_SUCCESS")
    return settings


def find_job(ws: Workspace, job_id: int) -> Job:
    job = ws.jobs.get(job_id)
    if job is None:
        raise bad_request(f"Job {job_id} does not exist.")
    return job


def job_for(ws: Workspace, req: Request, job_id: int, needed: str = "CAN_VIEW") -> Job:
    """The job, when the caller holds ``needed`` on it (403 PERMISSION_DENIED otherwise)."""
    job = find_job(ws, job_id)
    acl.require(req.principal, job.acl, "job", job_id, needed)
    return job


def _user(ws: Workspace, req: Request) -> str:
    return req.principal.name if req.principal else ws.admin_user


def new_job(
    ws: Workspace,
    job_id: int,
    settings: dict[str, Any],
    created_time: int,
    creator: Principal | None,
    access_control_list: Any = None,
) -> Job:
    """Store a job owned by its creator unless the access list names another IS_OWNER."""
    grants = acl.parse_entries(access_control_list, "job", ws.auth)
    creator_key = creator.key if creator else f"user:{ws.admin_user}"
    if acl.owner_of(grants) is None:
        grants[creator_key] = "IS_OWNER"
    name = acl.name_of(creator_key)
    job = Job(job_id, settings, created_time, name, name, grants)
    refresh_run_as(job)
    ws.jobs[job_id] = job
    return job


def refresh_run_as(job: Job) -> None:
    """``run_as_user_name``: the settings' ``run_as`` identity, else the owner (Jobs API:
    "If not specified, the job runs as the user who owns the job")."""
    run_as = job.settings.get("run_as")
    named = None
    if isinstance(run_as, dict):
        named = run_as.get("user_name") or run_as.get("service_principal_name")
    owner = acl.owner_of(job.acl)
    job.run_as_user_name = str(named or (acl.name_of(owner) if owner else job.creator_user_name))


# -- job endpoints ----------------------------------------------------------------------------
def create(ws: Workspace, req: Request) -> dict[str, Any]:
    body = dict(req.json())
    grants = body.pop("access_control_list", None)
    settings = with_defaults(validate_settings(body, "settings"), queue=req.version == "2.2")
    jobfields.check_run_as(req.principal, settings)
    if len(ws.jobs) >= MAX_JOBS:
        raise ApiError(400, "QUOTA_EXCEEDED", f"The workspace already has {MAX_JOBS} jobs.")
    job_id = ws.next_job_id
    new_job(ws, job_id, settings, ws.now_ms(), req.principal, grants)
    ws.next_job_id += 1
    ws.changed()
    return {"job_id": job_id}


def reset(ws: Workspace, req: Request) -> dict[str, Any]:
    body = req.json()
    job = job_for(ws, req, field_int(body, "job_id"), "CAN_MANAGE")
    new = field_obj(body, "new_settings", required=True)
    settings = with_defaults(validate_settings(new), queue=False)
    jobfields.check_run_as(req.principal, settings)
    job.settings = settings
    refresh_run_as(job)
    ws.changed()
    return {}


def merged(current: dict[str, Any], new: dict[str, Any], remove: list[str]) -> dict[str, Any]:
    """``jobs/update``: top-level fields replace, keyed arrays merge entry by entry.

    The inputs stay untouched but the result shares their nested values: update stores it
    through :func:`validate_settings`, which copies it whole."""
    out = dict(current)
    for name, value in new.items():
        key = KEYED_ARRAYS.get(name)
        if key is None or not isinstance(value, list):
            out[name] = value
            continue
        items = list(out.get(name) or [])
        index = {item.get(key): i for i, item in enumerate(items)}
        for entry in value:
            if not isinstance(entry, dict):
                raise malformed(f"expected an object in '{name}'")
            found = index.get(entry.get(key))
            if found is None:
                index[entry.get(key)] = len(items)
                items.append(entry)
            else:
                items[found] = entry
        out[name] = items
    for field in remove:
        if not isinstance(field, str):
            raise malformed("expected strings in 'fields_to_remove'")
        array, slash, key_value = field.partition("/")
        if slash:
            key = KEYED_ARRAYS.get(array)
            if key is None:
                raise bad_request(f"Cannot remove {field!r}: {array} is not a keyed array.")
            out[array] = [x for x in out.get(array) or [] if x.get(key) != key_value]
        else:
            out.pop(field, None)
    return out


def update(ws: Workspace, req: Request) -> dict[str, Any]:
    body = req.json()
    job = job_for(ws, req, field_int(body, "job_id"), "CAN_MANAGE")
    new = field_obj(body, "new_settings") or {}
    remove = field_list(body, "fields_to_remove") or []
    settings = merged(job.settings, new, remove)
    stored = task_defaults(validate_settings(settings))
    if "run_as" in new:
        jobfields.check_run_as(req.principal, stored)
    job.settings = stored
    refresh_run_as(job)
    ws.changed()
    return {}


def delete(ws: Workspace, req: Request) -> dict[str, Any]:
    job = job_for(ws, req, field_int(req.json(), "job_id"), "CAN_MANAGE")
    del ws.jobs[job.job_id]
    ws.changed()
    return {}


def job_json(job: Job, settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "creator_user_name": job.creator_user_name,
        "run_as_user_name": job.run_as_user_name,
        "created_time": job.created_time,
        "settings": settings,
    }


def _page_arrays(
    source: dict[str, Any], names: tuple[str, ...], page: int
) -> tuple[dict[str, Any], bool]:
    """A copy of ``source`` with each array cut to its ``page``-th slice; whether more follow."""
    out = {k: v for k, v in source.items() if k not in names}
    more = False
    for name in names:
        items = source.get(name) or []
        chunk = items[page * PAGE : (page + 1) * PAGE]
        if chunk:
            out[name] = chunk
        if len(items) > (page + 1) * PAGE:
            more = True
    return out, more


def get(ws: Workspace, req: Request) -> dict[str, Any]:
    job_id = req.arg_int("job_id")
    if job_id is None:
        raise bad_request("Missing required field: job_id")
    job = job_for(ws, req, job_id)
    if req.version != "2.2":
        return job_json(job, job.settings)
    page = read_page_token(req.arg("page_token"), f"job{job_id}")
    settings, more = _page_arrays(job.settings, PAGED_JOB_ARRAYS, page)
    out = job_json(job, settings)
    if more:
        out["next_page_token"] = page_token(page + 1, f"job{job_id}")
    return out


def _offset(req: Request, kind: str) -> int:
    """Where a page of ``jobs/list`` or ``runs/list`` starts: ``page_token`` wins over the
    legacy ``offset``."""
    offset = req.arg_int("offset", 0) or 0
    if offset < 0:
        raise bad_request("offset must not be negative")
    token = req.arg("page_token")
    return read_page_token(token, kind) if token else offset


def _page(
    kind: str, items: list[dict[str, Any]], offset: int, limit: int, total: int
) -> dict[str, Any]:
    """The paging envelope both list endpoints answer with (``kind`` names the array)."""
    has_more = offset + limit < total
    out: dict[str, Any] = {"has_more": has_more}
    if items:
        out[kind] = items
    if has_more:
        out["next_page_token"] = page_token(offset + limit, kind)
    if offset > 0:
        out["prev_page_token"] = page_token(max(0, offset - limit), kind)
    return out


def list_(ws: Workspace, req: Request) -> dict[str, Any]:
    limit = req.arg_int("limit", 20)
    if limit is None or limit < 1 or limit > 100:
        raise bad_request(f"limit must be between 1 and 100, got {limit}")
    offset = _offset(req, "jobs")
    expand = req.arg_bool("expand_tasks")
    name = req.arg("name")
    principal = req.principal
    # list shows only the jobs the caller may view (job visibility control, on by default)
    visible = (
        ws.jobs.values()
        if principal is None or principal.is_admin or principal.permission == "read-only"
        else (j for j in ws.jobs.values() if acl.can(principal, j.acl, "job", "CAN_VIEW"))
    )
    jobs = sorted(visible, key=lambda j: (-j.created_time, -j.job_id))
    if name:
        jobs = [j for j in jobs if str(j.settings.get("name", "")).lower() == name.lower()]
    page = jobs[offset : offset + limit]
    items = []
    for job in page:
        if expand:
            if req.version == "2.2":
                settings, more = _page_arrays(job.settings, ("tasks", "job_clusters"), 0)
            else:
                settings, more = job.settings, False
        else:
            settings = {k: v for k, v in job.settings.items() if k not in ("tasks", "job_clusters")}
            more = False
        if ws.jobs_list_omits:
            settings = {k: v for k, v in settings.items() if k not in ws.jobs_list_omits}
        item = job_json(job, settings)
        if req.version == "2.2" and expand:
            item["has_more"] = more
        items.append(item)
    return _page("jobs", items, offset, limit, len(jobs))


# -- runs -------------------------------------------------------------------------------------
def run_now(ws: Workspace, req: Request) -> dict[str, Any]:
    body = req.json()
    job = job_for(ws, req, field_int(body, "job_id"), "CAN_MANAGE_RUN")
    token = field_str(body, "idempotency_token", required=False) or None
    if token:
        for run in ws.runs.values():
            if run.job_id == job.job_id and run.idempotency_token == token:
                return {"run_id": run.run_id, "number_in_job": run.number_in_job}
    only = field_list(body, "only")
    task_keys = {t.get("task_key") for t in job.settings.get("tasks") or []}
    for key in only or []:
        if key not in task_keys:
            raise bad_request(f"Task {key!r} in 'only' is not a task of job {job.job_id}.")
    settings = copy.deepcopy(job.settings)
    queue = field_obj(body, "queue")
    if queue is not None:
        settings["queue"] = {"enabled": field_bool(queue, "enabled")}
    params = field_obj(body, "job_parameters") or {}
    defaults = {p.get("name"): p.get("default") for p in settings.get("parameters") or []}
    unknown = sorted(set(params) - set(defaults))
    if unknown and defaults:
        raise bad_request(f"Job parameter(s) {', '.join(unknown)} are not defined by the job.")
    job_parameters = [
        {"name": name, "default": default, "value": str(params.get(name, default))}
        for name, default in defaults.items()
    ]
    overriding: dict[str, Any] = {
        k: body[k]
        for k in ("python_params", "python_named_params", "jar_params", "notebook_params")
        if k in body
    }
    run = lifecycle.new_run(
        ws,
        job.job_id,
        settings,
        _user(ws, req),
        only=only,
        job_parameters=job_parameters,
        overriding=overriding,
        idempotency_token=token,
        run_as=job.run_as_user_name,
    )
    return {"run_id": run.run_id, "number_in_job": run.number_in_job}


def find_run(ws: Workspace, run_id: int) -> tuple[Run, RunTask | None]:
    run = ws.runs.get(run_id)
    if run is not None:
        return run, None
    parent = ws.task_runs.get(run_id)
    if parent is not None and parent[0] in ws.runs:
        run = ws.runs[parent[0]]
        task = next((t for t in run.tasks if t.task_key == parent[1]), None)
        return run, task
    raise bad_request(f"Run {run_id} does not exist.")


def run_for(
    ws: Workspace, req: Request, run_id: int, needed: str = "CAN_VIEW"
) -> tuple[Run, RunTask | None]:
    """A run the caller may see (view) or act on (manage run) through its job's access list;
    a run whose job is gone stays visible to its creator and to admins."""
    run, task = find_run(ws, run_id)
    job = ws.jobs.get(run.job_id)
    if job is not None:
        acl.require(req.principal, job.acl, "job", run.job_id, needed)
    elif (
        req.principal is not None
        and not req.principal.is_admin
        and req.principal.name != run.creator_user_name
    ):
        raise acl.Denied("View").error(req.principal, "job", run.job_id)
    return run, task


def _state(life: str, result: str | None, message: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"life_cycle_state": life, "state_message": message}
    if result is not None:
        out["result_state"] = result
    out.update({k: v for k, v in extra.items() if v})
    return out


def _status(life: str, code: str | None, code_type: str | None, message: str) -> dict[str, Any]:
    state = {"SKIPPED": "TERMINATED", "INTERNAL_ERROR": "TERMINATED"}.get(life, life)
    out: dict[str, Any] = {"state": state}
    if state == "TERMINATED" and code:
        out["termination_details"] = {
            "code": code,
            "type": code_type or "SUCCESS",
            "message": message,
        }
    if life == "QUEUED":
        out["queue_details"] = {"code": "ACTIVE_RUNS_LIMIT_REACHED", "message": message}
    return out


def task_json(ws: Workspace, run: Run, task: RunTask) -> dict[str, Any]:
    out = dict(task.settings)
    out.update(
        {
            "run_id": task.run_id,
            "task_key": task.task_key,
            "attempt_number": 0,
            "start_time": task.start_time,
            "state": _state(task.life_cycle_state, task.result_state, task.message),
            "status": _status(
                task.life_cycle_state,
                task.code or ("SUCCESS" if task.result_state == "SUCCESS" else None),
                "CLIENT_ERROR" if task.code and task.code != "SUCCESS" else "SUCCESS",
                task.message,
            ),
            "run_page_url": f"{ws.base_url}/?o={ws.workspace_id}#job/{run.job_id}/run/{task.run_id}",
        }
    )
    if task.end_time:
        out["end_time"] = task.end_time
    if task.cluster_id:
        out["cluster_instance"] = {"cluster_id": task.cluster_id}
        cluster = ws.clusters.get(task.cluster_id)
        if cluster is not None and cluster.state == "RUNNING":
            out["cluster_instance"]["spark_context_id"] = str(
                zlib.crc32(cluster.cluster_id.encode())
            )
    return out


def run_json(ws: Workspace, run: Run, *, expand: bool = True) -> dict[str, Any]:
    now_ms = ws.now_ms()
    end = run.end_time or 0
    out: dict[str, Any] = {
        "run_id": run.run_id,
        "job_id": run.job_id,
        "number_in_job": run.number_in_job,
        "original_attempt_run_id": run.run_id,
        "run_name": run.run_name,
        "creator_user_name": run.creator_user_name,
        "run_type": run.run_type,
        "trigger": run.trigger,
        "format": "MULTI_TASK",
        "start_time": run.start_time,
        "end_time": end,
        "setup_duration": max(0, (run.exec_start or end or now_ms) - run.setup_start)
        if run.setup_start
        else 0,
        "execution_duration": max(0, (run.cleanup_start or end or now_ms) - run.exec_start)
        if run.exec_start
        else 0,
        "cleanup_duration": max(0, (end or now_ms) - run.cleanup_start) if run.cleanup_start else 0,
        "run_duration": max(0, (end or now_ms) - run.start_time),
        "queue_duration": max(0, run.setup_start - run.start_time) if run.setup_start else 0,
        "state": _state(
            run.life_cycle_state,
            run.result_state,
            run.state_message or run.queue_reason,
            queue_reason=run.queue_reason,
            user_cancelled_or_timedout=run.user_cancelled_or_timedout,
        ),
        "status": _status(run.life_cycle_state, run.code, run.code_type, run.message),
        "run_page_url": f"{ws.base_url}/?o={ws.workspace_id}#job/{run.job_id}/run/{run.run_id}",
    }
    if run.job_parameters:
        out["job_parameters"] = run.job_parameters
    if run.overriding:
        out["overriding_parameters"] = run.overriding
    clusters = {t.cluster_id for t in run.tasks if t.cluster_id}
    if len(clusters) == 1:
        # lets a deployer ask "is this all-purpose cluster busy?" without expanding tasks
        out["cluster_instance"] = {"cluster_id": next(iter(clusters))}
    if expand:
        out["tasks"] = [task_json(ws, run, t) for t in run.tasks]
        if run.settings.get("job_clusters"):
            out["job_clusters"] = run.settings["job_clusters"]
    return out


def runs_get(ws: Workspace, req: Request) -> dict[str, Any]:
    run_id = req.arg_int("run_id")
    if run_id is None:
        raise bad_request("Missing required field: run_id")
    run, task = run_for(ws, req, run_id)
    if task is not None:
        out = task_json(ws, run, task)
        out["job_id"] = run.job_id
        return out
    full = run_json(ws, run)
    if req.version != "2.2":
        return full
    page = read_page_token(req.arg("page_token"), f"run{run_id}")
    out, more = _page_arrays(full, ("tasks", "job_clusters", "job_parameters"), page)
    if more:
        out["next_page_token"] = page_token(page + 1, f"run{run_id}")
    return out


def runs_list(ws: Workspace, req: Request) -> dict[str, Any]:
    active_only = req.arg_bool("active_only")
    completed_only = req.arg_bool("completed_only")
    if active_only and completed_only:
        raise bad_request("active_only and completed_only cannot both be true")
    limit = req.arg_int("limit", 20)
    if limit is None or limit < 0 or limit > 25:
        raise bad_request(f"limit must be between 0 and 25, got {limit}")
    limit = limit or 25
    offset = _offset(req, "runs")
    job_id = req.arg_int("job_id")
    if (
        job_id is not None
        and job_id not in ws.jobs
        and not any(r.job_id == job_id for r in ws.runs.values())
    ):
        raise bad_request(f"Job {job_id} does not exist.")
    if job_id is not None and job_id in ws.jobs:
        job_for(ws, req, job_id)
    run_type = req.arg("run_type")
    start_from = req.arg_int("start_time_from")
    start_to = req.arg_int("start_time_to")
    runs = sorted(_visible_runs(ws, req), key=lambda r: (-r.start_time, -r.run_id))
    selected = [
        r
        for r in runs
        if (job_id is None or r.job_id == job_id)
        and (not active_only or r.active)
        and (not completed_only or not r.active)
        and (not run_type or r.run_type == run_type)
        and (start_from is None or r.start_time >= start_from)
        and (start_to is None or r.start_time <= start_to)
    ]
    expand = req.arg_bool("expand_tasks")
    page = selected[offset : offset + limit]
    items = []
    for run in page:
        item = run_json(ws, run, expand=expand)
        if expand and req.version == "2.2":
            item, more = _page_arrays(item, ("tasks", "job_clusters", "job_parameters"), 0)
            item["has_more"] = more
        items.append(item)
    return _page("runs", items, offset, limit, len(selected))


def _visible_runs(ws: Workspace, req: Request) -> Any:
    principal = req.principal
    if principal is None or principal.is_admin or principal.permission == "read-only":
        return ws.runs.values()
    allowed: dict[int, bool] = {}  # one check per job, not per run

    def visible(run: Run) -> bool:
        seen = allowed.get(run.job_id)
        if seen is None:
            job = ws.jobs.get(run.job_id)
            seen = allowed[run.job_id] = (
                acl.can(principal, job.acl, "job", "CAN_VIEW")
                if job is not None
                else run.creator_user_name == principal.name
            )
        return seen

    return (r for r in ws.runs.values() if visible(r))


def runs_cancel(ws: Workspace, req: Request) -> dict[str, Any]:
    run, _ = run_for(ws, req, field_int(req.json(), "run_id"), "CAN_MANAGE_RUN")
    lifecycle.cancel_run(ws, run, ws.now())
    return {}


def runs_get_output(ws: Workspace, req: Request) -> dict[str, Any]:
    run_id = req.arg_int("run_id")
    if run_id is None:
        raise bad_request("Missing required field: run_id")
    run, task = run_for(ws, req, run_id)
    if task is None:
        if len(run.tasks) != 1:
            raise bad_request(
                "Retrieving the output of runs with multiple tasks is not supported. Please "
                "retrieve the output of each individual task run instead."
            )
        task = run.tasks[0]
    out: dict[str, Any] = {"metadata": task_json(ws, run, task)}
    if task.result_state not in (None, "SUCCESS"):
        out["error"] = task.message
    else:
        out["logs"] = ""
    return out

"""Nothing but the wheel references changes in a job: the complete settings before and after a
deploy are compared, with the expected result written out by hand (not computed by the code
under test). The jobs are the hard cases: more than 100 tasks (Jobs 2.2 pages them), tasks
nested in ``for_each_task``, serverless environments, pypi pins with extras, markers and direct
references, and references to OTHER packages whose names look alike (``tsff-extras``,
``tsff_utils``) or to the same wheel path in a task *parameter* — all of which must stay.

Both readings of ``jobs/list`` are covered: the emulator's default (settings complete, as the
SDK documents only ``tasks`` and ``job_clusters`` as truncated) and one where the list leaves
``environments`` out.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.deployws import ART, FAST, JOB_CLUSTER, Workspace, seed, whl
from support.wheels import make_wheel
from wheelship.deploy import workflow
from wheelship.emulator import Emulator

OLD, NEW = whl("1.2.0"), whl("1.3.0")
EXTRAS = f"{ART}/tsff_extras-1.2.0-py3-none-any.whl"
UTILS = f"{ART}/tsff_utils-1.2.0-py3-none-any.whl"
REPO = "https://gitlab.example.com/api/v4/projects/7/packages/pypi/simple"
SERVERLESS = {"environment_key": "ml"}


def wheel_task(key: str, libraries: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "task_key": key,
        "job_cluster_key": "main",
        "python_wheel_task": {
            "package_name": "tsff",
            "entry_point": "train",
            "named_parameters": {"model": OLD, "horizon": "7"},  # a path, not a reference
        },
        "libraries": libraries,
        "max_retries": 2,
        "min_retry_interval_millis": 60000,
        "retry_on_timeout": True,
        "timeout_seconds": 3600,
        "email_notifications": {"on_failure": ["oncall@example.com"]},
        "health": {
            "rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 7200}]
        },
        **extra,
    }


def big_job() -> dict[str, Any]:
    """130 tasks: the references to change are spread over both Jobs 2.2 pages."""
    tasks: list[dict[str, Any]] = []
    for i in range(130):
        key = f"t{i:03d}"
        if i % 5 == 0:
            libs = [{"whl": OLD}, {"pypi": {"package": "pandas==2.2.2"}}]
        elif i % 5 == 1:
            libs = [{"whl": EXTRAS}, {"pypi": {"package": "tsff-extras==1.2.0"}}]
        elif i % 5 == 2:
            libs = [{"pypi": {"package": "tsff==1.2.0", "repo": REPO}}, {"whl": UTILS}]
        elif i % 5 == 3:
            libs = [{"jar": "/Volumes/ml/tsff/jars/udf.jar"}, {"maven": {"coordinates": "a:b:1"}}]
        else:
            libs = [{"pypi": {"package": "tsff_utils==1.2.0"}}, {"pypi": {"package": "tsff>=1"}}]
        depends = [{"task_key": f"t{i - 1:03d}"}] if i else []
        tasks.append(wheel_task(key, libs, depends_on=depends))
    tasks.append(
        {
            "task_key": "fan-out",
            "depends_on": [{"task_key": "t129"}],
            "for_each_task": {
                "inputs": '["de", "fr", "it"]',
                "concurrency": 3,
                "task": wheel_task("per-country", [{"whl": OLD}, {"whl": EXTRAS}]),
            },
        }
    )
    tasks.append(
        {
            "task_key": "script",
            "job_cluster_key": "main",
            "spark_python_task": {
                "python_file": "/Workspace/Shared/run.py",
                "parameters": ["--wheel", OLD, "tsff==1.2.0"],
            },
            "libraries": [{"requirements": "/Workspace/Shared/requirements.txt"}],
        }
    )
    return {
        "job_id": 201,
        "settings": {
            "name": "tsff-big",
            "description": f"trains with {OLD}",
            "tags": {"team": "forecasting", "wheel": "tsff-1.2.0"},
            "schedule": {
                "quartz_cron_expression": "0 0 3 * * ?",
                "timezone_id": "Europe/Berlin",
                "pause_status": "UNPAUSED",
            },
            "email_notifications": {
                "on_failure": ["ml@example.com"],
                "no_alert_for_skipped_runs": True,
            },
            "webhook_notifications": {"on_failure": [{"id": "hook-1"}]},
            "notification_settings": {"no_alert_for_canceled_runs": True},
            "timeout_seconds": 86400,
            "max_concurrent_runs": 3,
            "queue": {"enabled": False},
            "parameters": [{"name": "env", "default": "prod"}, {"name": "wheel", "default": OLD}],
            "run_as": {"service_principal_name": "5f1c6a2e-0000-4000-8000-000000000001"},
            "job_clusters": [
                *JOB_CLUSTER,
                {
                    "job_cluster_key": "big",
                    "new_cluster": {
                        "spark_version": "15.4.x-scala2.12",
                        "node_type_id": "i3.2xlarge",
                        "autoscale": {"min_workers": 2, "max_workers": 8},
                        "spark_env_vars": {"TSFF_WHEEL": OLD},
                        "custom_tags": {"cost": "ml"},
                    },
                },
            ],
            "tasks": tasks,
        },
    }


def serverless_job() -> dict[str, Any]:
    deps = [
        OLD,  # a wheel path
        'tsff[plot]==1.2.0 ; python_version >= "3.10"',  # extras and a marker kept
        f"tsff @ {OLD}",  # a direct reference keeps its form
        "tsff-extras==1.2.0",
        f"tsff_utils @ {UTILS}",
        "tsff>=1.0",  # unpinned: floats, left
        "--extra-index-url https://pypi.example.com/simple",
        "scikit-learn==1.5.0",
    ]
    return {
        "job_id": 202,
        "settings": {
            "name": "tsff-serverless",
            "tags": {"team": "forecasting"},
            "performance_target": "PERFORMANCE_OPTIMIZED",
            "environments": [
                {
                    "environment_key": "ml",
                    "spec": {"environment_version": "2", "dependencies": deps},
                },
                {
                    "environment_key": "other",
                    "spec": {"client": "1", "dependencies": ["tsff-extras==1.2.0", EXTRAS]},
                },
            ],
            "tasks": [
                {
                    "task_key": "forecast",
                    **SERVERLESS,
                    "python_wheel_task": {"package_name": "tsff", "entry_point": "forecast"},
                },
                {
                    "task_key": "extras",
                    "environment_key": "other",
                    "python_wheel_task": {"package_name": "tsff_extras", "entry_point": "run"},
                    "depends_on": [{"task_key": "forecast"}],
                    "run_if": "ALL_DONE",
                },
                {
                    "task_key": "fan",
                    "for_each_task": {
                        "inputs": "[1, 2]",
                        "task": {
                            "task_key": "fan-inner",
                            **SERVERLESS,
                            "python_wheel_task": {"package_name": "tsff", "entry_point": "x"},
                        },
                    },
                },
            ],
        },
    }


def lookalikes_job() -> dict[str, Any]:
    """References only packages whose names start like ours: never touched."""
    return {
        "job_id": 203,
        "settings": {
            "name": "tsff-extras-nightly",
            "job_clusters": JOB_CLUSTER,
            "tasks": [
                wheel_task(
                    "x",
                    [
                        {"whl": EXTRAS},
                        {"whl": UTILS},
                        {"pypi": {"package": "tsff-extras==1.2.0"}},
                        {"pypi": {"package": "tsff_utils[all]==1.2.0"}},
                        {"whl": "/Volumes/ml/tsff/wheels/tsfff-1.2.0-py3-none-any.whl"},
                    ],
                )
            ],
        },
    }


def expected_after(before: dict[str, Any], job_id: int) -> dict[str, Any]:
    """The settings after the deploy, spelled out: exactly these values change."""
    out = copy.deepcopy(before)
    if job_id == 201:
        for task in out["tasks"]:
            for t in (task, (task.get("for_each_task") or {}).get("task") or {}):
                for lib in t.get("libraries") or []:
                    if lib.get("whl") == OLD:
                        lib["whl"] = NEW
                    pypi = lib.get("pypi") or {}
                    if pypi.get("package") == "tsff==1.2.0":
                        pypi["package"] = "tsff==1.3.0"
    elif job_id == 202:
        deps = out["environments"][0]["spec"]["dependencies"]
        deps[0] = NEW
        deps[1] = 'tsff[plot]==1.3.0 ; python_version >= "3.10"'
        deps[2] = f"tsff @ {NEW}"
    return out


def start(tmp_path: Path, factory: Callable[..., Emulator], **options: Any) -> Workspace:
    data = seed(tmp_path, jobs=[big_job(), serverless_job(), lookalikes_job()], clusters=[])
    for name in ("tsff_extras", "tsff_utils", "tsfff"):
        wheel = make_wheel(tmp_path / "other-wheels", name, "1.2.0")
        data["files"].append({"path": f"{ART}/{wheel.name}", "source": str(wheel)})
    data["files"] += [
        {"path": "/Volumes/ml/tsff/jars/udf.jar", "content": "jar"},
        {"path": "/Workspace/Shared/requirements.txt", "content": "tsff==1.2.0\n"},
        {"path": "/Workspace/Shared/run.py", "content": "print(1)\n"},
    ]
    ws = Workspace(factory(data, watch_invariants=True, **options), tmp_path)
    ws.config(keep=0, clusters={"mode": "off"})
    return ws


@pytest.mark.parametrize("omits", [(), ("environments",)], ids=["list-complete", "list-no-envs"])
def test_only_the_references_change(
    tmp_path: Path, emulator_factory: Callable[..., Emulator], omits: tuple[str, ...]
) -> None:
    ws = start(tmp_path, emulator_factory, jobs_list_omits=omits)
    before = ws.emu.jobs()
    assert len(before[201]["tasks"]) == 132
    plan, _result = workflow.run_deploy(ws.settings("1.3.0"), ws.knobs(timing=FAST))
    after = ws.emu.jobs()

    assert sorted(j.job_id for j in plan.jobs) == [201, 202]
    # jobs/list truncated 201 (132 tasks: two pages) and, in the stricter reading, left 202's
    # environments out: the plan's read and the check after the changes read them again in
    # full with jobs/get; right before its update each changed job is read once more (no
    # lost update): through its list page, read again right before the updates of its jobs,
    # or with jobs/get where the list is incomplete; no other job was read
    gets = [int(r.query["job_id"][0]) for r in ws.emu.requests if r.path.endswith("/jobs/get")]
    assert {j: gets.count(j) for j in set(gets)} == (
        {201: 3 * 2, 202: 3} if omits else {201: 3 * 2}
    )
    lists = [r for r in ws.emu.requests if r.path.endswith("/jobs/list")]
    assert len(lists) == 3  # the plan's read, the read before the updates, the read back
    for job_id in (201, 202, 203):
        assert after[job_id] == expected_after(before[job_id], job_id), job_id
    # the look-alike job was not even written to
    updates = [r.json() for r in ws.emu.requests if r.path.endswith("/jobs/update")]
    assert sorted(u["job_id"] for u in updates) == [201, 202]
    # retention (keep: 0) deletes old tsff wheels only, never other packages' or in-use files,
    # and never the version the deploy replaced (OLD)
    files = set(ws.emu.files(ART))
    assert {EXTRAS, UTILS, NEW, OLD, f"{ART}/tsfff-1.2.0-py3-none-any.whl"} <= files
    assert whl("1.0.0") not in files
    assert ws.emu.invariants() == [] and ws.emu.violations == []

    # a second deploy changes nothing and says so
    again, result = workflow.run_deploy(ws.settings("1.3.0"), ws.knobs(timing=FAST))
    assert not again.changes_anything and result.changed == 0
    assert ws.emu.jobs() == after


def test_the_update_carries_only_the_changed_task_entries(
    tmp_path: Path, emulator_factory: Callable[..., Emulator]
) -> None:
    """``jobs/update`` merges tasks by key: only the tasks that reference the package are sent,
    complete, and nothing but ``tasks``/``environments`` is in ``new_settings``."""
    ws = start(tmp_path, emulator_factory)
    before = ws.emu.jobs()
    workflow.run_deploy(ws.settings("1.3.0"), ws.knobs(timing=FAST))
    updates = {
        body["job_id"]: body
        for r in ws.emu.requests
        if r.path.endswith("/jobs/update") and (body := r.json())
    }
    big = updates[201]
    assert set(big) == {"job_id", "new_settings"} and set(big["new_settings"]) == {"tasks"}
    sent = {t["task_key"] for t in big["new_settings"]["tasks"]}
    want = {f"t{i:03d}" for i in range(130) if i % 5 in (0, 2)} | {"fan-out"}
    assert sent == want
    by_key = {t["task_key"]: t for t in before[201]["tasks"]}
    for task in big["new_settings"]["tasks"]:
        assert set(task) == set(by_key[task["task_key"]])  # complete entries
    assert set(updates[202]["new_settings"]) == {"environments"}

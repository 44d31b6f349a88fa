"""The demo's Databricks workspace and the consumer's ``wheelship.yml``.

The forecasting team's workspace runs ``tsff`` 1.0.0 everywhere: a training job on a job
cluster, a serverless scoring job, a backtest fanned out with ``for_each_task`` that pins the
package from the team's PyPI registry, a smoke job; a running and a terminated all-purpose
cluster the team may change, and a restricted cluster only an admin may change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ARTIFACTS = "/Volumes/ml/forecasting/wheels"
REGISTRY = "https://gitlab.example.com/api/v4/projects/42/packages/pypi/simple"
RUNNING = "0101-120000-forecast"
TERMINATED = "0101-120000-nightly0"
RESTRICTED = "0101-120000-restrict"
#: The seed the demo serves, left in its work dir for ``wheelship emulator --seed-file``.
SEED_FILE = "workspace.yml"

CONFIG = f"""\
# The forecasting team's deploy target (wheelship.yml in the tsff repository).
package: tsff
targets:
  prod:
    artifacts: {ARTIFACTS}
    keep: 2
    jobs:
      select: referencing          # every job that references tsff
    clusters:
      - mode: automated            # the team's own clusters: install, uninstall, restart
        tags: {{team: forecasting}}
        restart: if-idle
        wait: 900
      - mode: manual               # a restricted cluster: the admin gets a runbook
        names: ["restricted-*"]
    smoke:
      job: tsff-smoke
      timeout: 1800
"""

_JOB_CLUSTER = [
    {
        "job_cluster_key": "main",
        "new_cluster": {
            "spark_version": "15.4.x-scala2.12",
            "node_type_id": "i3.xlarge",
            "num_workers": 2,
        },
    }
]


def _wheel(version: str) -> str:
    return f"{ARTIFACTS}/tsff-{version}-py3-none-any.whl"


def _wheel_task(key: str, command: str, version: str) -> dict[str, Any]:
    return {
        "task_key": key,
        "job_cluster_key": "main",
        "python_wheel_task": {
            "package_name": "tsff",
            "entry_point": "tsff",
            "parameters": [command],
        },
        "libraries": [{"whl": _wheel(version)}],
    }


def seed(previous_wheel: Path, version: str) -> dict[str, Any]:
    """The workspace before the deploy: everything on ``version`` (whose wheel is given)."""
    return {
        "volumes": [ARTIFACTS],
        "files": [{"path": _wheel(version), "source": str(previous_wheel)}],
        "clusters": [
            {
                "cluster_id": RUNNING,
                "cluster_name": "forecasting-interactive",
                "state": "RUNNING",
                "custom_tags": {"team": "forecasting"},
                "data_security_mode": "SINGLE_USER",
                "libraries": [{"whl": _wheel(version)}],
            },
            {
                "cluster_id": TERMINATED,
                "cluster_name": "forecasting-nightly",
                "state": "TERMINATED",
                "custom_tags": {"team": "forecasting"},
                "data_security_mode": "SINGLE_USER",
                "libraries": [{"whl": _wheel(version)}],
            },
            {
                "cluster_id": RESTRICTED,
                "cluster_name": "restricted-shared",
                "state": "RUNNING",
                "custom_tags": {"team": "platform"},
                "data_security_mode": "USER_ISOLATION",
                "libraries": [{"whl": _wheel(version)}],
            },
        ],
        "jobs": [
            {
                "job_id": 1001,
                "settings": {
                    "name": "tsff-train",
                    "tags": {"team": "forecasting"},
                    "schedule": {"quartz_cron_expression": "0 0 2 * * ?", "timezone_id": "UTC"},
                    "job_clusters": _JOB_CLUSTER,
                    "tasks": [_wheel_task("train", "train", version)],
                },
            },
            {
                "job_id": 1002,
                "settings": {
                    "name": "tsff-score",
                    "tags": {"team": "forecasting"},
                    "environments": [
                        {
                            "environment_key": "default",
                            "spec": {"environment_version": "2", "dependencies": [_wheel(version)]},
                        }
                    ],
                    "tasks": [
                        {
                            "task_key": "score",
                            "environment_key": "default",
                            "python_wheel_task": {
                                "package_name": "tsff",
                                "entry_point": "tsff",
                                "parameters": ["score"],
                            },
                        }
                    ],
                },
            },
            {
                "job_id": 1003,
                "settings": {
                    "name": "tsff-backtest",
                    "tags": {"team": "forecasting"},
                    "job_clusters": _JOB_CLUSTER,
                    "tasks": [
                        {
                            "task_key": "per-model",
                            "for_each_task": {
                                "inputs": '["naive", "holt-winters"]',
                                "task": {
                                    "task_key": "backtest-model",
                                    "job_cluster_key": "main",
                                    "python_wheel_task": {
                                        "package_name": "tsff",
                                        "entry_point": "tsff",
                                        "parameters": ["backtest"],
                                    },
                                    "libraries": [
                                        {"pypi": {"package": f"tsff=={version}", "repo": REGISTRY}}
                                    ],
                                },
                            },
                        }
                    ],
                },
            },
            {
                "job_id": 1004,
                "settings": {
                    "name": "tsff-smoke",
                    "tags": {"team": "forecasting"},
                    "job_clusters": _JOB_CLUSTER,
                    "tasks": [_wheel_task("smoke", "backtest", version)],
                },
            },
            {
                "job_id": 1005,
                "settings": {
                    "name": "finance-etl",
                    "job_clusters": _JOB_CLUSTER,
                    "tasks": [
                        {
                            "task_key": "etl",
                            "job_cluster_key": "main",
                            "notebook_task": {"notebook_path": "/Shared/etl"},
                        }
                    ],
                },
            },
        ],
    }


def write_seed(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as a seed file ``wheelship emulator --seed-file`` reads; return its path."""
    head = (
        "# The demo's Databricks workspace before the deploy: tsff 1.0.0 everywhere.\n"
        "# Serve it again: wheelship emulator --seed-file workspace.yml\n"
    )
    path.write_text(head + yaml.safe_dump(data, sort_keys=False, width=100), encoding="utf-8")
    return path

"""A seeded workspace for deploy tests: the tsff package on 1.2.0 everywhere, over HTTP.

Everything goes through the emulator on loopback; nothing patches ``requests``. The fixtures
are in ``tests/integration/deploy/conftest.py``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from support.wheels import make_dist, make_wheel
from wheelship.cli import main
from wheelship.deploy.apply import Timing
from wheelship.deploy.workflow import Knobs, Settings
from wheelship.emulator import Emulator

ART = "/Volumes/ml/tsff/wheels"
READER = "dapi-reader-token"
NOBODY = "dapi-nobody-token"
FAST = Timing(first=0.05, longest=0.2, progress_every=0.5)
#: The request methods that change a workspace.
MUTATING = ("POST", "PUT", "DELETE", "PATCH")
#: The lock file of target prod in the artifacts folder.
LOCK_NAME = ".wheelship-prod.lock"


def whl(version: str, folder: str = ART) -> str:
    return f"{folder}/tsff-{version}-py3-none-any.whl"


def wheel_task(key: str, version: str, folder: str = ART, **extra: Any) -> dict[str, Any]:
    return {
        "task_key": key,
        "job_cluster_key": "main",
        "python_wheel_task": {
            "package_name": "tsff",
            "entry_point": "tsff",
            "parameters": ["--horizon", "7"],
        },
        "libraries": [{"whl": whl(version, folder)}, {"pypi": {"package": "pandas==2.2.2"}}],
        "timeout_seconds": 3600,
        **extra,
    }


JOB_CLUSTER = [
    {
        "job_cluster_key": "main",
        "new_cluster": {
            "spark_version": "15.4.x-scala2.12",
            "node_type_id": "i3.xlarge",
            "num_workers": 2,
        },
    }
]


def seed_jobs(version: str = "1.2.0", folder: str = ART) -> list[dict[str, Any]]:
    return [
        {
            "job_id": 101,
            "settings": {
                "name": "tsff-train",
                "tags": {"team": "forecasting"},
                "schedule": {"quartz_cron_expression": "0 0 3 * * ?", "timezone_id": "UTC"},
                "email_notifications": {"on_failure": ["ml@example.com"]},
                "job_clusters": JOB_CLUSTER,
                "tasks": [
                    wheel_task("prepare", version, folder),
                    wheel_task("train", version, folder, depends_on=[{"task_key": "prepare"}]),
                    {
                        "task_key": "report",
                        "notebook_task": {"notebook_path": "/Shared/report"},
                        "job_cluster_key": "main",
                        "depends_on": [{"task_key": "train"}],
                    },
                ],
            },
        },
        {
            "job_id": 102,
            "settings": {
                "name": "tsff-score",
                "tags": {"team": "forecasting"},
                "job_clusters": JOB_CLUSTER,
                "tasks": [
                    {
                        "task_key": "fan-out",
                        "for_each_task": {
                            "inputs": '["de", "fr"]',
                            "concurrency": 2,
                            "task": {
                                "task_key": "score-country",
                                "job_cluster_key": "main",
                                "python_wheel_task": {
                                    "package_name": "tsff",
                                    "entry_point": "tsff",
                                },
                                "libraries": [{"whl": whl(version, folder)}],
                            },
                        },
                    },
                    {
                        "task_key": "publish",
                        "job_cluster_key": "main",
                        "python_wheel_task": {"package_name": "tsff", "entry_point": "tsff"},
                        "libraries": [
                            {
                                "pypi": {
                                    "package": f"tsff=={version}",
                                    "repo": "https://gitlab.example.com/api/v4/projects/7/packages/pypi/simple",
                                }
                            }
                        ],
                    },
                ],
            },
        },
        {
            "job_id": 103,
            "settings": {
                "name": "tsff-serverless",
                "tags": {"team": "forecasting"},
                "environments": [
                    {
                        "environment_key": "default",
                        "spec": {
                            "environment_version": "2",
                            "dependencies": [whl(version, folder), "scikit-learn==1.5.0"],
                        },
                    }
                ],
                "tasks": [
                    {
                        "task_key": "forecast",
                        "environment_key": "default",
                        "python_wheel_task": {"package_name": "tsff", "entry_point": "tsff"},
                    }
                ],
            },
        },
        {
            "job_id": 104,
            "settings": {
                "name": "unrelated-etl",
                "job_clusters": JOB_CLUSTER,
                "tasks": [
                    {
                        "task_key": "etl",
                        "job_cluster_key": "main",
                        "notebook_task": {"notebook_path": "/Shared/etl"},
                    }
                ],
            },
        },
        {
            "job_id": 105,
            "settings": {
                "name": "tsff-smoke",
                "tags": {"team": "forecasting"},
                "job_clusters": JOB_CLUSTER,
                "tasks": [wheel_task("smoke", version, folder)],
            },
        },
        {
            "job_id": 106,
            "settings": {
                "name": "nightly-on-shared",
                "tasks": [
                    {
                        "task_key": "n",
                        "existing_cluster_id": "0101-000000-busy0001",
                        "notebook_task": {"notebook_path": "/Shared/n"},
                    }
                ],
            },
        },
    ]


def other_teams_jobs(n: int, first: int = 5000) -> list[dict[str, Any]]:
    """Jobs that do not use the package (a shared workspace's other teams), ids from ``first``."""
    return [
        {
            "job_id": first + i,
            "settings": {
                "name": f"etl-{i}",
                "tasks": [
                    {
                        "task_key": "x",
                        "notebook_task": {"notebook_path": "/x"},
                        "job_cluster_key": "main",
                    }
                ],
                "job_clusters": JOB_CLUSTER,
            },
        }
        for i in range(n)
    ]


def seed_clusters(version: str = "1.2.0", folder: str = ART) -> list[dict[str, Any]]:
    lib = [{"whl": whl(version, folder)}]
    return [
        {
            "cluster_id": "0101-000000-idle0001",
            "cluster_name": "ml-idle",
            "state": "RUNNING",
            "custom_tags": {"tsff": "prod"},
            "libraries": lib,
        },
        {
            "cluster_id": "0101-000000-busy0001",
            "cluster_name": "ml-busy",
            "state": "RUNNING",
            "custom_tags": {"tsff": "prod"},
            "libraries": lib,
        },
        {
            "cluster_id": "0101-000000-term0001",
            "cluster_name": "ml-terminated",
            "state": "TERMINATED",
            "custom_tags": {"tsff": "prod"},
            "libraries": lib,
        },
        {
            "cluster_id": "0101-000000-admn0001",
            "cluster_name": "ml-admin-only",
            "state": "RUNNING",
            "custom_tags": {"tsff": "manual"},
            "data_security_mode": "USER_ISOLATION",
            "libraries": lib,
        },
        {
            "cluster_id": "0101-000000-othr0001",
            "cluster_name": "other-team",
            "state": "RUNNING",
            "libraries": [{"whl": whl("1.0.0", folder)}],
        },
    ]


@dataclass
class Workspace:
    """An emulator seeded with tsff, plus the files a consumer repository has."""

    emu: Emulator
    root: Path
    wheels: dict[str, Path] = field(default_factory=dict)
    #: the test breaks an invariant on purpose (the emulator watches them after every change)
    allow_violations: bool = False

    @property
    def env(self) -> dict[str, str]:
        return {
            "DATABRICKS_HOST": self.emu.url,
            "DATABRICKS_TOKEN": self.emu.token,
            "DATABRICKS_CONFIG_FILE": str(self.root / "no-databrickscfg"),
        }

    def cli_options(self) -> list[str]:
        """The options every command takes here: this wheelship.yml, target prod, out folder."""
        return [
            "--config",
            str(self.root / "wheelship.yml"),
            "--target",
            "prod",
            "--out",
            str(self.root / "out"),
        ]

    def config(self, **target: Any) -> Path:
        base: dict[str, Any] = {
            "artifacts": ART,
            "keep": 1,
            # the seeded wheels are minutes old; retention by age has its own tests
            # (test_retention.py) with the default of a week
            "min_age_days": 0,
            "jobs": {"select": "referencing"},
            "clusters": {
                "mode": "automated",
                "tags": {"tsff": "prod"},
                "restart": "if-idle",
                "wait": 600,
            },
        }
        base.update(target)
        path = self.root / "wheelship.yml"
        path.write_text(
            yaml.safe_dump({"package": "tsff", "targets": {"prod": base}}, sort_keys=False)
        )
        return path

    def dist(self, version: str, payload: bytes = b"", size: int = 0) -> Path:
        return make_dist(
            self.root / f"dist-{version}-{len(payload)}-{size}",
            "tsff",
            version,
            payload=payload,
            size=size,
        )

    def settings(self, version: str = "1.3.0", **kw: Any) -> Settings:
        values: dict[str, Any] = {
            "config": self.root / "wheelship.yml",
            "target": "prod",
            "dist": self.dist(version) if "dist" not in kw else kw.pop("dist"),
            "out": self.root / "out",
            "project": self.root,
        }
        values.update(kw)
        return Settings(**values)

    def knobs(self, **kw: Any) -> Knobs:
        """The test knobs for this workspace: fast polling, its environment."""
        values: dict[str, Any] = {"timing": FAST, "environ": self.env}
        values.update(kw)
        return Knobs(**values)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A call to the workspace as its admin — another user or the UI, not wheelship."""
        resp = requests.post(
            f"{self.emu.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.emu.token}"},
            timeout=10,
        )
        resp.raise_for_status()
        return dict(resp.json())

    def start_busy_run(self) -> int:
        """Start job 106 on the busy cluster and keep it RUNNING (for days of simulated time)."""
        import requests

        durations = self.emu.durations
        normal = durations.run_execute
        durations.run_execute = 1e7
        resp = requests.post(
            f"{self.emu.url}/api/2.2/jobs/run-now",
            json={"job_id": 106},
            headers={"Authorization": f"Bearer {self.emu.token}"},
            timeout=10,
        )
        resp.raise_for_status()
        run_id = int(resp.json()["run_id"])
        self.emu.advance(durations.run_setup + 1)
        assert self.emu.runs(106)[-1]["state"]["life_cycle_state"] == "RUNNING"
        durations.run_execute = normal
        return run_id

    def snapshot(self) -> dict[str, Any]:
        """Jobs, cluster libraries and files: to compare workspaces."""
        return {
            "jobs": copy.deepcopy(self.emu.jobs()),
            "clusters": {c: self.emu.cluster_libraries(c) for c in sorted(CLUSTERS)},
            "files": self.emu.files("/Volumes/ml"),
        }


CLUSTERS = [c["cluster_id"] for c in seed_clusters()]


def cli(ws: Workspace, *argv: str) -> int:
    """``wheelship <argv>`` against ``ws`` (its config, target prod, its out folder)."""
    return main([*argv, *ws.cli_options()])


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The ``error:`` line the command wrote to stderr ('' if none); fails if it wrote several."""
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) <= 1, err
    return errors[0] if errors else ""


def mutations(ws: Workspace) -> list[str]:
    """``METHOD path`` of every state-changing request the emulator logged, except those on
    the target's lock file (taken and released by every deploy and rollback)."""
    return [
        f"{r.method} {r.path}"
        for r in ws.emu.requests
        if r.method in MUTATING and not r.path.endswith(LOCK_NAME)
    ]


def unchanged(ws: Workspace) -> None:
    """Nothing changed: no state-changing request but the lock's, the lock released, the
    invariants hold."""
    assert mutations(ws) == []
    assert not ws.emu.file_exists(f"{ART}/{LOCK_NAME}")
    assert ws.emu.invariants() == []


def seed(
    root: Path,
    *,
    versions: tuple[str, ...] = ("1.0.0", "1.1.0", "1.2.0"),
    folder: str = ART,
    **extra: Any,
) -> dict[str, Any]:
    files = []
    for v in versions:
        wheel = make_wheel(root / "seed-wheels", "tsff", v)
        files.append({"path": f"{folder}/{wheel.name}", "source": str(wheel)})
    data: dict[str, Any] = {
        "volumes": ["/Volumes/ml/tsff/wheels"],
        "tokens": [
            {"name": "reader", "value": READER, "permission": "read-only"},
            {"name": "nobody", "value": NOBODY, "permission": "none"},
        ],
        "files": files,
        "directories": ["/Workspace/Shared/wheels"],
        "clusters": seed_clusters(folder=folder),
        "jobs": seed_jobs(folder=folder),
        "durations": {
            "cluster_restart": 20,
            "library_resolve": 1,
            "library_install": 4,
            "run_setup": 2,
            "run_execute": 5,
            "run_cleanup": 1,
        },
    }
    data.update(extra)
    return data


#: The token of the deployer in :func:`shared_workspace` (a user, not an admin).
DEPLOYER = "dapi-deployer-token"


def grant(level: str) -> list[dict[str, str]]:
    return [{"group_name": "deployers", "permission_level": level}]


def shared_workspace() -> dict[str, Any]:
    """Seed keys for a shared workspace: the deployer (group ``deployers``) manages jobs 101,
    102, 105 and clusters idle and terminated, may only view job 103 and restart cluster busy,
    cannot see job 107 (another team's, on tsff too); job 108 is deployed by a bundle."""
    jobs = seed_jobs()
    levels = {101: "CAN_MANAGE", 102: "CAN_MANAGE", 103: "CAN_VIEW", 105: "CAN_MANAGE"}
    for job in jobs:
        if job["job_id"] in levels:
            job["access_control_list"] = grant(levels[job["job_id"]])
    hidden = copy.deepcopy(jobs[0])  # the deployer cannot see it at all
    hidden["job_id"] = 107
    hidden["settings"]["name"] = "tsff-other-team"
    hidden.pop("access_control_list")
    bundle = copy.deepcopy(jobs[0])
    bundle["job_id"] = 108
    bundle["settings"]["name"] = "tsff-bundled"
    bundle["settings"]["deployment"] = {"kind": "BUNDLE", "metadata_file_path": "/b/m.json"}
    bundle["settings"]["edit_mode"] = "UI_LOCKED"
    clusters = seed_clusters()
    cluster_levels = {
        CLUSTERS[0]: "CAN_MANAGE",
        CLUSTERS[1]: "CAN_RESTART",
        CLUSTERS[2]: "CAN_MANAGE",
    }
    for c in clusters:
        if c["cluster_id"] in cluster_levels:
            c["access_control_list"] = grant(cluster_levels[c["cluster_id"]])
    return {
        "jobs": [*jobs, hidden, bundle],
        "clusters": clusters,
        "users": [
            {"user_name": "deployer@example.com", "groups": ["deployers"], "token": DEPLOYER}
        ],
    }

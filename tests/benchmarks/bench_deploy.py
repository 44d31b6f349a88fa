"""Deploy at scale: wheelship deploy vs a sequential databricks-sdk script, and a 100 MB upload.

The workspace (the emulator, in this process) has 2,000 jobs — 300 of them reference the
package, in every form deploy rewrites — and 40 all-purpose clusters with the package installed
(30 running, 10 terminated); every request takes 50 ms; the published per-workspace rate limits
apply (the emulator's ``databricks`` preset). Both clients run in their own process and make
the same changes: upload the wheel, repoint the 300 jobs, uninstall the old and install the new
version on the 40 clusters (no restarts: the script does not restart either), delete the wheels
retention drops.

*Minimal requests* is what any client must send: the job list pages, one cluster list, one
library-status read, one folder listing, the upload, one update per job, an uninstall and an
install per cluster, one delete per dropped wheel. *Bound* is the shortest wall time those
requests allow, phase by phase in deploy order (read, upload, jobs, clusters, retention): each
phase takes at least its longest chain of dependent requests (the job list's pages follow each
other) and at least its requests x latency / concurrency (16, wheelship's default), and no
endpoint goes faster than its rate limit.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from benchlib import Table

from support.wheels import make_dist, make_wheel
from wheelship.emulator import Emulator
from wheelship.emulator.faults import PUBLISHED_LIMITS

TITLE = "Deploy to Databricks (wheelship deploy vs a sequential databricks-sdk script)"

JOBS, REFERENCING, CLUSTERS, RUNNING = 2000, 300, 40, 30
LATENCY = 0.05
CONCURRENCY = 16
ART = "/Volumes/ml/tsff/wheels"
OLD, NEW = "1.2.0", "1.3.0"
HERE = Path(__file__).resolve().parent
CLIENT = HERE / "deploy_client.py"
UPLOAD_MB = 100


def _whl(version: str) -> str:
    return f"{ART}/tsff-{version}-py3-none-any.whl"


_CLUSTER = [
    {
        "job_cluster_key": "main",
        "new_cluster": {
            "spark_version": "15.4.x-scala2.12",
            "node_type_id": "i3.xlarge",
            "num_workers": 2,
        },
    }
]


def _job(i: int) -> dict[str, Any]:
    name = f"job-{i:04d}"
    if i >= REFERENCING:
        return {
            "settings": {
                "name": name,
                "job_clusters": _CLUSTER,
                "tasks": [
                    {
                        "task_key": "etl",
                        "job_cluster_key": "main",
                        "notebook_task": {"notebook_path": f"/Shared/{name}"},
                    }
                ],
            }
        }
    kind = i % 4
    wheel_task = {"package_name": "tsff", "entry_point": "tsff", "parameters": ["train", str(i)]}
    if kind == 0:  # wheel libraries on two tasks
        tasks = [
            {
                "task_key": key,
                "job_cluster_key": "main",
                "python_wheel_task": wheel_task,
                "libraries": [{"whl": _whl(OLD)}, {"pypi": {"package": "pandas==2.2.2"}}],
            }
            for key in ("prepare", "train")
        ]
        return {"settings": {"name": name, "job_clusters": _CLUSTER, "tasks": tasks}}
    if kind == 1:  # a PyPI pin
        lib = [
            {
                "pypi": {
                    "package": f"tsff=={OLD}",
                    "repo": "https://gitlab.example.com/api/v4/projects/1/packages/pypi/simple",
                }
            }
        ]
        return {
            "settings": {
                "name": name,
                "job_clusters": _CLUSTER,
                "tasks": [
                    {
                        "task_key": "t",
                        "job_cluster_key": "main",
                        "python_wheel_task": wheel_task,
                        "libraries": lib,
                    }
                ],
            }
        }
    if kind == 2:  # serverless
        env = [
            {
                "environment_key": "default",
                "spec": {"environment_version": "2", "dependencies": [_whl(OLD), "numpy==2.1.0"]},
            }
        ]
        return {
            "settings": {
                "name": name,
                "environments": env,
                "tasks": [
                    {"task_key": "t", "environment_key": "default", "python_wheel_task": wheel_task}
                ],
            }
        }
    inner = {
        "task_key": "inner",
        "job_cluster_key": "main",
        "python_wheel_task": wheel_task,
        "libraries": [{"whl": _whl(OLD)}],
    }
    return {
        "settings": {
            "name": name,
            "job_clusters": _CLUSTER,
            "tasks": [{"task_key": "loop", "for_each_task": {"inputs": "[1,2,3]", "task": inner}}],
        }
    }


def _seed(root: Path) -> dict[str, Any]:
    files = []
    for v in ("1.0.0", "1.1.0", OLD):
        wheel = make_wheel(root / "seed", "tsff", v)
        files.append({"path": f"{ART}/{wheel.name}", "source": str(wheel)})
    clusters = [
        {
            "cluster_id": f"0101-000000-bench{i:03d}",
            "cluster_name": f"ml-{i:02d}",
            "state": "RUNNING" if i < RUNNING else "TERMINATED",
            "custom_tags": {"tsff": "prod"},
            "libraries": [{"whl": _whl(OLD)}],
        }
        for i in range(CLUSTERS)
    ]
    return {
        "volumes": [ART],
        "files": files,
        "clusters": clusters,
        "jobs": [_job(i) for i in range(JOBS)],
    }


def _config(root: Path) -> Path:
    path = root / "wheelship.yml"
    data = {
        "package": "tsff",
        "targets": {
            "prod": {
                "artifacts": ART,
                "keep": 1,
                "jobs": {"select": "referencing"},
                "clusters": {
                    "mode": "automated",
                    "tags": {"tsff": "prod"},
                    "restart": "never",
                    "wait": 0,
                },
            }
        },
    }
    path.write_text(yaml.safe_dump(data))
    return path


def _client(mode: str, args: dict[str, Any]) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, str(CLIENT), mode, json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} client failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _one(
    root: Path, mode: str, seed: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, int], list[str]]:
    """One client against a fresh workspace: its result, the server's request counters, and
    the workspace invariants afterwards."""
    dist = make_dist(root / "dist", "tsff", NEW) if not (root / "dist").exists() else root / "dist"
    with Emulator(seed=seed, latency=LATENCY, rate_limits=PUBLISHED_LIMITS, clock_speed=100) as emu:
        env = {
            "DATABRICKS_HOST": emu.url,
            "DATABRICKS_TOKEN": emu.token,
            "DATABRICKS_CONFIG_FILE": str(root / "none"),
        }
        args = {
            "env": env,
            "config": str(_config(root)),
            "dist": str(dist),
            "out": str(root / f"out-{mode}"),
            "concurrency": CONCURRENCY,
            "version": NEW,
            "artifacts": ART,
            "wheel": str(dist / f"tsff-{NEW}-py3-none-any.whl"),
            "keep": 1,
        }
        emu.clear_log()
        result = _client(mode, args)
        counts = dict(emu.counters)
        throttled = sum(1 for r in emu.requests if r.status == 429)
        result["throttled"] = throttled
        problems = emu.invariants()
        # Both clients must leave the same workspace: 300 jobs and 40 clusters on NEW.
        with emu.state() as ws:
            on_new = sum(
                1
                for j in ws.jobs.values()
                if _whl(NEW) in json.dumps(j.settings) or f"tsff=={NEW}" in json.dumps(j.settings)
            )
        result["jobs_on_new"] = on_new
    return result, counts, problems


def _minimal() -> dict[str, int]:
    deleted = 2  # 1.0.0 and 1.1.0 (keep 1: 1.2.0)
    return {
        "read": math.ceil(JOBS / 100)
        + 1
        + 1
        + 1,  # job pages, cluster list, library statuses, folder
        "upload": 1,
        "jobs": REFERENCING,
        "clusters": 2 * CLUSTERS,
        "retention": deleted,
    }


def _rate(endpoint: str) -> float:
    from wheelship.emulator.faults import matches

    rates = [r for p, r in PUBLISHED_LIMITS.items() if matches(p, endpoint)]
    return min(rates) if rates else math.inf


def _bound() -> float:
    """Seconds (see the module docstring)."""
    pages = math.ceil(JOBS / 100)
    read = pages * LATENCY  # sequential pages; the other reads fit beside them
    upload = max(LATENCY, 1 / _rate("PUT /api/2.0/fs/files"))
    jobs = max(
        LATENCY,
        REFERENCING * LATENCY / CONCURRENCY,
        REFERENCING / _rate("POST /api/2.2/jobs/update"),
    )
    clusters = max(
        2 * LATENCY,
        2 * CLUSTERS * LATENCY / CONCURRENCY,
        CLUSTERS / _rate("POST /api/2.0/libraries/install"),
    )
    retention = LATENCY
    return read + upload + jobs + clusters + retention


def _deploy_table(runs: int) -> Table:
    minimal = sum(_minimal().values())
    bound = _bound()
    ours: list[dict[str, Any]] = []
    sdk: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        root = Path(tmp)
        seed = _seed(root)
        sdk_runs = max(1, min(runs, 2))
        for i in range(max(runs, sdk_runs)):
            if i < runs:
                result, counts, problems = _one(root / f"w{i}", "wheelship", seed)
                assert not problems, problems
                result["server_requests"] = sum(counts.values())
                ours.append(result)
            if i < sdk_runs:
                result, counts, problems = _one(root / f"s{i}", "sdk", seed)
                assert not problems, problems
                result["server_requests"] = sum(counts.values())
                sdk.append(result)
    assert all(r["jobs_on_new"] == REFERENCING for r in ours + sdk), "a client missed a job"
    ours_min = min(r["seconds"] for r in ours)
    ours_med = statistics.median(r["seconds"] for r in ours)
    sdk_min = min(r["seconds"] for r in sdk)
    sdk_med = statistics.median(r["seconds"] for r in sdk)
    ours_req = max(r["server_requests"] for r in ours)
    sdk_req = max(r["server_requests"] for r in sdk)
    table = Table(
        f"{JOBS:,} jobs ({REFERENCING} on the package), {CLUSTERS} clusters, {int(LATENCY * 1000)} ms per request, published rate limits",
        [
            "client",
            "wall time min / median",
            "requests",
            "429s",
            "vs minimal requests",
            "vs bound",
            "speed-up vs script (min / median)",
        ],
    )
    table.add(
        f"wheelship deploy (concurrency {CONCURRENCY})",
        f"{ours_min:.2f} s / {ours_med:.2f} s",
        ours_req,
        max(r["throttled"] for r in ours),
        f"{ours_req / minimal:.3f}x (+{ours_req - minimal})",
        f"**{ours_min / bound:.2f}x** / {ours_med / bound:.2f}x",
        f"**{sdk_min / ours_min:.1f}x** / {sdk_med / ours_med:.1f}x",
    )
    table.add(
        "sequential databricks-sdk script",
        f"{sdk_min:.2f} s / {sdk_med:.2f} s",
        sdk_req,
        max(r["throttled"] for r in sdk),
        f"{sdk_req / minimal:.3f}x (+{sdk_req - minimal})",
        f"{sdk_min / bound:.2f}x / {sdk_med / bound:.2f}x",
        "1.0x",
    )
    table.add("bound", f"{bound:.2f} s", minimal, "", "1.000x", "1.00x", "")
    table.notes.append(
        f"{len(ours)} wheelship run(s), {len(sdk)} script run(s), each on a fresh workspace; requests counted by the "
        f"workspace (retries included). Minimal requests: {minimal} ({', '.join(f'{k} {v}' for k, v in _minimal().items())}). "
        f"Both left the same workspace: {ours[0]['jobs_on_new']} jobs on {NEW}, invariants hold."
    )
    return table


def _upload_table() -> Table:
    table = Table(
        f"Upload of a {UPLOAD_MB} MB wheel to a volume (and wheelship's read-back verification)",
        ["client", "seconds", "peak RSS growth", "target"],
    )
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp:
        root = Path(tmp)
        wheel = make_wheel(root, "tsff", "9.9.9", size=UPLOAD_MB * 1_000_000)
        with Emulator(seed={"volumes": [ART]}) as emu:
            env = {"DATABRICKS_HOST": emu.url, "DATABRICKS_TOKEN": emu.token}
            args = {"env": env, "artifacts": ART, "wheel": str(wheel)}
            ours = _client("upload", args)
            assert ours["size"] == wheel.stat().st_size
            sdk = _client("sdk-upload", args)
    mb = 1 / (1 << 20)
    table.add(
        "wheelship (upload + verify by reading back)",
        f"{ours['seconds']:.2f}",
        f"**{ours['rss_growth'] * mb:.1f} MiB**",
        "< 32 MB",
    )
    table.add(
        "databricks-sdk w.files.upload (upload only)",
        f"{sdk['seconds']:.2f}",
        f"{sdk['rss_growth'] * mb:.1f} MiB",
        "",
    )
    return table


def run(runs: int) -> list[Table]:
    return [_deploy_table(runs), _upload_table()]

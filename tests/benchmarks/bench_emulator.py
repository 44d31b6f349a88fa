"""The workspace emulator: start-up time, requests per second from one client on loopback, the
cost of an unbuffered response writer (the ~40 ms Nagle/delayed-ACK stall), and large uploads
(throughput and memory growth).

Targets from issue 3: >= 500 simple requests/s from one client; start-up under one second.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
import yaml
from benchlib import Table, summary

from wheelship.emulator import Emulator
from wheelship.emulator.server import Handler

TITLE = "Workspace emulator (wheelship emulator)"
CLUSTER = "0101-000000-bench001"


def _seed(clusters: int, jobs: int, tasks: int) -> dict[str, Any]:
    wheel = "/Volumes/main/ops/a/pkg-1.0.0-py3-none-any.whl"
    return {
        "files": [{"path": wheel, "content": "wheel"}],
        "clusters": [
            {
                "cluster_id": CLUSTER if i == 0 else f"0101-000000-other{i:03d}",
                "cluster_name": f"c{i}",
                "libraries": [{"whl": wheel}],
            }
            for i in range(clusters)
        ],
        "jobs": [
            {
                "settings": {
                    "name": f"job-{j}",
                    "tasks": [
                        {
                            "task_key": f"t{k}",
                            "existing_cluster_id": CLUSTER,
                            "libraries": [{"whl": wheel}],
                            "python_wheel_task": {"package_name": "pkg", "entry_point": "main"},
                        }
                        for k in range(tasks)
                    ],
                }
            }
            for j in range(jobs)
        ],
    }


def _startup(runs: int, seed: dict[str, Any] | None) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        emu = Emulator(seed=seed).start()
        requests.get(emu.url + "/.well-known/databricks-config", timeout=5).raise_for_status()
        samples.append(time.perf_counter() - started)
        emu.stop()
    return samples


def _cli_startup(runs: int, seed_file: Path | None) -> list[float]:
    samples = []
    args = [sys.executable, "-m", "wheelship", "emulator", "--port", "0"]
    if seed_file:
        args += ["--seed-file", str(seed_file)]
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().removeprefix("url: ")
        requests.get(url + "/.well-known/databricks-config", timeout=5).raise_for_status()
        samples.append(time.perf_counter() - started)
        proc.terminate()
        proc.wait(timeout=20)
    return samples


def _rate(emu: Emulator, method: str, path: str, n: int, **kwargs: Any) -> float:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {emu.token}"
    first = session.request(method, emu.url + path, timeout=10, **kwargs)
    assert first.status_code < 500, first.text
    started = time.perf_counter()
    for _ in range(n):
        session.request(method, emu.url + path, timeout=10, **kwargs)
    elapsed = time.perf_counter() - started
    session.close()
    return n / elapsed


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def run(runs: int) -> list[Table]:
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        big_seed = _seed(clusters=50, jobs=200, tasks=5)
        seed_file = Path(tmp) / "workspace.yml"
        seed_file.write_text(yaml.safe_dump(big_seed))
        start = Table(
            "Start-up until the first request is answered (target < 1 s)",
            ["how", "workspace", "min", "median"],
        )
        for how, seed, samples in [
            ("in-process Emulator()", "empty", _startup(runs, None)),
            ("in-process Emulator()", "50 clusters, 200 jobs", _startup(runs, big_seed)),
            ("wheelship emulator (new process)", "empty", _cli_startup(runs, None)),
            (
                "wheelship emulator (new process)",
                "50 clusters, 200 jobs",
                _cli_startup(runs, seed_file),
            ),
        ]:
            best, median = summary(samples)
            start.add(how, seed, _ms(best), _ms(median))
        start.notes.append("The new-process rows include Python start-up and imports.")
        tables.append(start)

    rps = Table(
        "Requests per second, one client (requests.Session, keep-alive), loopback (target >= 500)",
        ["request", "requests", "min of runs", "median of runs"],
    )
    n = 1000
    with Emulator(seed=_seed(clusters=5, jobs=20, tasks=3), clock_speed=0) as emu:
        job_id = next(iter(emu.jobs()))
        cases = [
            ("GET clusters/get", "GET", f"/api/2.1/clusters/get?cluster_id={CLUSTER}", {}),
            (
                "GET libraries/cluster-status",
                "GET",
                f"/api/2.0/libraries/cluster-status?cluster_id={CLUSTER}",
                {},
            ),
            ("GET jobs/get (3 tasks)", "GET", f"/api/2.2/jobs/get?job_id={job_id}", {}),
            (
                "GET jobs/list (20 jobs, expanded)",
                "GET",
                "/api/2.2/jobs/list?expand_tasks=true&limit=20",
                {},
            ),
            (
                "POST jobs/update",
                "POST",
                "/api/2.2/jobs/update",
                {"json": {"job_id": job_id, "new_settings": {"tags": {"a": "b"}}}},
            ),
            (
                "PUT fs/files (1 KiB)",
                "PUT",
                "/api/2.0/fs/files/Volumes/main/ops/a/small.bin",
                {"data": b"x" * 1024},
            ),
            ("unknown endpoint (404)", "GET", "/api/2.0/nope", {}),
        ]
        for label, method, path, kwargs in cases:
            samples = [_rate(emu, method, path, n, **kwargs) for _ in range(max(1, runs))]
            rps.add(label, n, f"{min(samples):.0f}/s", f"{statistics.median(samples):.0f}/s")
        assert emu.internal_errors == []
    with (
        tempfile.TemporaryDirectory() as state,
        Emulator(seed=_seed(5, 200, 3), state_dir=state, clock_speed=0) as emu,
    ):
        job_id = next(iter(emu.jobs()))
        body = {"json": {"job_id": job_id, "new_settings": {"tags": {"a": "b"}}}}
        samples = [
            _rate(emu, "POST", "/api/2.2/jobs/update", 300, **body) for _ in range(max(1, runs))
        ]
        rps.add(
            "POST jobs/update, --state-dir (200 jobs saved after each change)",
            300,
            f"{min(samples):.0f}/s",
            f"{statistics.median(samples):.0f}/s",
        )
    tables.append(rps)

    stall = Table(
        "The ~40 ms stall: response writer buffering and TCP_NODELAY (keep-alive, one client)",
        [
            "response writer",
            "TCP_NODELAY",
            "small answer (clusters/get)",
            "large answer (jobs/list, 21 KB)",
        ],
    )
    original = (Handler.wbufsize, Handler.tcp_nodelay)
    try:
        for wbufsize, nodelay in [(-1, True), (-1, False), (0, True), (0, False)]:
            Handler.wbufsize, Handler.tcp_nodelay = wbufsize, nodelay
            with Emulator(seed=_seed(1, 20, 3), clock_speed=0) as emu:
                small = _rate(emu, "GET", f"/api/2.1/clusters/get?cluster_id={CLUSTER}", 40)
                large = _rate(emu, "GET", "/api/2.2/jobs/list?expand_tasks=true&limit=20", 40)
            stall.add(
                "buffered (wbufsize = -1)" if wbufsize else "unbuffered (http.server default)",
                "on" if nodelay else "off",
                f"{1000 / small:.1f} ms/request",
                f"{1000 / large:.1f} ms/request",
            )
    finally:
        Handler.wbufsize, Handler.tcp_nodelay = original
    stall.notes.append(
        "Shipped: buffered + TCP_NODELAY. Buffering alone removes the stall only for answers that "
        "fit the 8 KiB write buffer."
    )
    tables.append(stall)

    upload = Table(
        "100 MiB Files API upload and download, client and emulator in one process",
        ["step", "min", "median", "MB/s (median)", "peak RSS growth"],
    )
    payload = Path(tempfile.mkstemp(prefix="wheelship-bench-")[1])
    try:
        with payload.open("wb") as fh:
            for i in range(100):
                fh.write(os.urandom(1024) * 1024 if i == 0 else bytes([i]) * (1 << 20))
        script = _UPLOAD_SCRIPT
        samples: dict[str, list[float]] = {"PUT": [], "GET": []}
        growth = []
        for _ in range(max(1, runs)):
            out = subprocess.run(
                [sys.executable, "-c", script, str(payload)],
                capture_output=True,
                text=True,
                check=True,
            )
            put, get, grown = (float(x) for x in out.stdout.split())
            samples["PUT"].append(put)
            samples["GET"].append(get)
            growth.append(grown)
        for step in ("PUT", "GET"):
            best, median = summary(samples[step])
            upload.add(
                step,
                _ms(best),
                _ms(median),
                f"{100 * 1.048576 / median:.0f}",
                f"{max(growth) / 1024:.1f} MB (both steps)",
            )
    finally:
        payload.unlink()
    tables.append(upload)
    return tables


_UPLOAD_SCRIPT = """
import sys, time, requests
from wheelship.emulator import Emulator
def peak():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
with Emulator() as emu:
    s = requests.Session(); s.headers["Authorization"] = "Bearer " + emu.token
    url = emu.url + "/api/2.0/fs/files/Volumes/m/s/v/big.whl"
    s.get(emu.url + "/api/2.1/clusters/list").raise_for_status()
    before = peak()
    t = time.perf_counter()
    with open(sys.argv[1], "rb") as fh:
        s.put(url, data=fh).raise_for_status()
    put = time.perf_counter() - t
    t = time.perf_counter()
    with s.get(url, stream=True) as r:
        for chunk in r.iter_content(1 << 20):
            pass
    get = time.perf_counter() - t
    print(put, get, peak() - before)
"""

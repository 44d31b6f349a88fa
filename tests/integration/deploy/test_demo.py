"""``wheelship demo`` — the README's first command — in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def test_demo_builds_deploys_and_ends_with_one_live_version(tmp_path: Path) -> None:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "wheelship", "demo", "--workdir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"},
    )
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert seconds < 30
    out = proc.stdout
    for line in (
        "built tsff-1.0.0-py3-none-any.whl from tag v1.0.0",
        "# wheelship deploy plan: tsff 1.1.0 → prod",
        "| 1003 (tsff-backtest) | tasks[per-model].for_each_task.task.libraries[0].pypi.package | tsff==1.0.0 | tsff==1.1.0 |",
        "deployed tsff 1.1.0: ",
        "  cluster forecasting-interactive: INSTALLED (restarted)",
        "  cluster forecasting-nightly: QUEUED",
        "and again: tsff 1.1.0 on prod: nothing to change",
        "live: 1.1.0, 1.0.0  — DRIFT: more than one version is live",
        "# Runbook: tsff 1.1.0 on the manually managed clusters of prod",
        'POST /api/2.1/clusters/restart {"cluster_id": "0101-120000-restrict"}',
        "live: 1.1.0\n",
        "emulator stopped; demo took",
        f"the workspace before the deploy: {tmp_path / 'demo' / 'workspace.yml'}",
        f"next: 'wheelship emulator --seed-file {tmp_path / 'demo' / 'workspace.yml'}' serves",
    ):
        assert line in out, line
    project = tmp_path / "demo" / "tsff"
    report = json.loads((project / "out" / "deploy-report.json").read_text())
    assert report["outcome"] == "deployed"
    rerun = json.loads((project / "out" / "rerun" / "deploy-report.json").read_text())
    assert rerun["outcome"] == "unchanged"
    assert (project / "out" / "runbook.md").is_file() and (project / "out" / "plan.md").is_file()
    assert (project / "dist" / "tsff-1.1.0-py3-none-any.whl").is_file()
    # The seed it served stays, with the wheel it names, and a new emulator serves it again.
    seed = tmp_path / "demo" / "workspace.yml"
    assert "source: tsff/dist-1.0.0/tsff-1.0.0-py3-none-any.whl" in seed.read_text()
    check = subprocess.run(
        [sys.executable, "-m", "wheelship", "emulator", "--check-invariants", "--seed-file", seed],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stderr

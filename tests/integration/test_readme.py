"""The README's walkthrough ("Try it on your own project") works as written: its shell blocks run
verbatim, in order, in one shell, in a fresh copy of the repository.

The copy holds the files git would commit (tracked and new, not ignored) and no build output; its
``.venv`` is the virtual environment this test runs in, which is what the README's first command
makes (it saves the minutes of a fresh install, and the blocks still run as written). Nothing
from the developer's shell leaks in: ``DATABRICKS_*`` and ``WHEELSHIP_*`` variables are dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Try it on your own project"
#: The loopback port the walkthrough's emulator listens on (it is in the README's text).
PORT = 8765


def walkthrough_blocks(readme: str) -> list[str]:
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"(?ms)^```sh\n(.*?)^```", section)


def fresh_copy(dest: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def _wait_for_free_port(seconds: float = 60.0) -> None:
    """Another run of this test on the machine may hold the port for a few seconds."""
    deadline = time.monotonic() + seconds
    while True:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", PORT))
                return
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"port {PORT} on 127.0.0.1 stays in use: the walkthrough needs it")
        time.sleep(0.5)


def test_the_walkthrough_blocks_are_found() -> None:
    blocks = walkthrough_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) == 4
    assert "wheelship build" in blocks[0]
    assert "cat > wheelship.yml" in blocks[1]
    assert f"--port {PORT}" in blocks[2]
    assert [line.split()[1] for line in blocks[3].splitlines()[:3]] == ["plan", "deploy", "status"]


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    activate = Path(sys.prefix) / "bin" / "activate"
    if not activate.is_file():
        pytest.fail(f"run the tests from a virtual environment (as ci/test.sh does): no {activate}")
    checkout = fresh_copy(tmp_path / "wheelship")
    (checkout / ".venv").symlink_to(Path(sys.prefix))
    readme = (checkout / "README.md").read_text(encoding="utf-8")
    script = "set -euo pipefail\n" + "\n".join(walkthrough_blocks(readme))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABRICKS_", "WHEELSHIP_", "VIRTUAL_ENV"))
    }
    _wait_for_free_port()
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the emulator goes with it
    )
    try:
        out, _ = proc.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # a failed step leaves the emulator running
        proc.wait()
    assert proc.returncode == 0, out[-6000:]

    project = checkout / "try" / "tsff"
    assert (checkout / "try" / "workspace.yml").is_file()
    assert "# wheelship deploy plan: tsff 1.1.0 → prod" in out
    report = json.loads((project / "deploy-report.json").read_text())
    assert report["outcome"] == "deployed"
    repointed = sorted(s["obj"] for s in report["steps"] if s["step"] == "repoint job")
    assert repointed == [
        "1001 (tsff-train)",
        "1002 (tsff-score)",
        "1003 (tsff-backtest)",
        "1004 (tsff-smoke)",
    ]
    restarted = [s["obj"] for s in report["steps"] if s["step"] == "restart cluster"]
    assert restarted == ["0101-120000-forecast (forecasting-interactive)"]
    assert re.search(r"(?m)^live: 1\.1\.0$", out)
    assert "emulator stopped" in out  # `kill $emulator` stopped it cleanly

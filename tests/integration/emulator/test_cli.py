"""``wheelship emulator`` as a process: prints URL and token, serves, stops on a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests
import yaml

from wheelship.emulator import Emulator

WHEEL = "/Volumes/main/ops/artifacts/pkg-1.0.0-py3-none-any.whl"


def _start(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wheelship", "emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    token = proc.stdout.readline().strip()
    assert url.startswith("url: http://127.0.0.1:"), url
    return proc, url.removeprefix("url: "), token.removeprefix("token: ")


def test_serves_until_sigterm_and_prints_url_and_token(tmp_path: Path) -> None:
    seed = tmp_path / "workspace.yml"
    seed.write_text(
        yaml.safe_dump(
            {"tokens": [{"name": "ro", "value": "dapi-ro-000", "permission": "read-only"}]}
        )
    )
    proc, url, token = _start("--seed-file", str(seed), "--port", "0")
    try:
        assert token.startswith("dapi")
        ok = requests.get(
            f"{url}/api/2.1/clusters/list", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert ok.status_code == 200
        ro = requests.post(
            f"{url}/api/2.1/clusters/start",
            json={},
            headers={"Authorization": "Bearer dapi-ro-000"},
            timeout=5,
        )
        assert ro.status_code == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "emulator stopped" in err


def test_given_token_is_never_printed() -> None:
    proc, url, token = _start(env={"WHEELSHIP_EMULATOR_TOKEN": "dapi-given-secret"})
    try:
        assert token == "(the one given)"
        got = requests.get(
            f"{url}/api/2.1/clusters/list",
            headers={"Authorization": "Bearer dapi-given-secret"},
            timeout=5,
        )
        assert got.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "dapi-given-secret" not in out + err


def test_state_dir_resumes_the_same_workspace(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc, url, token = _start("--state-dir", str(state))
    try:
        headers = {"Authorization": f"Bearer {token}"}
        put = requests.put(
            f"{url}/api/2.0/fs/files{WHEEL}", data=b"wheel", headers=headers, timeout=5
        )
        assert put.status_code == 204
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    proc, url, token2 = _start("--state-dir", str(state))
    try:
        assert token2 == token  # the admin token is part of the workspace
        got = requests.get(
            f"{url}/api/2.0/fs/files{WHEEL}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert got.content == b"wheel"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert "(resumed)" in err


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wheelship", "emulator", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_invariants_reports_and_fails(tmp_path: Path) -> None:
    seed = tmp_path / "ws.yml"
    seed.write_text(
        yaml.safe_dump(
            {
                "clusters": [
                    {"cluster_id": "c1", "cluster_name": "c", "libraries": [{"whl": WHEEL}]}
                ],
            }
        )
    )
    result = _run("--seed-file", str(seed), "--check-invariants")
    assert result.returncode == 1
    assert result.stdout == f"cluster c1 (c): library references missing file {WHEEL}\n"
    assert result.stderr.strip().splitlines()[-1] == (
        "error: 1 invariant violation(s) in the workspace — fix the references listed above"
    )
    seed.write_text(
        yaml.safe_dump(
            {
                "files": [{"path": WHEEL, "content": "x"}],
                "clusters": [{"cluster_id": "c1", "libraries": [{"whl": WHEEL}]}],
            }
        )
    )
    assert _run("--seed-file", str(seed), "--check-invariants").returncode == 0


def test_check_invariants_on_a_state_dir(tmp_path: Path) -> None:
    with Emulator(state_dir=tmp_path / "s") as emu:
        emu.put_file(WHEEL, b"x")
    result = _run("--state-dir", str(tmp_path / "s"), "--check-invariants")
    assert result.returncode == 0, result.stderr


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    missing = _run("--seed-file", str(tmp_path / "nope.yml"))
    assert missing.returncode == 2
    assert missing.stderr == (
        f"error: seed file {tmp_path / 'nope.yml'} not found — pass an existing YAML file with --seed-file\n"
    )
    bad_port = _run("--port", "70000")
    assert bad_port.returncode == 2
    assert bad_port.stderr.startswith("error: option --port: port must be between 0 and 65535")
    bad_fault = _run("--fault", "boom:0.5")
    assert bad_fault.returncode == 2
    assert bad_fault.stderr.startswith("error: fault 'boom:0.5': fault kind must be one of")
    bad_seed = tmp_path / "bad.yml"
    bad_seed.write_text("clusters: [{state: EXPLODED}]\n")
    result = _run("--seed-file", str(bad_seed))
    assert result.returncode == 2
    assert result.stderr == (
        "error: seed clusters[0].state: expected RUNNING, TERMINATED or PENDING, got 'EXPLODED'"
        " — fix the seed file (see docs/emulator.md#seed-file)\n"
    )


def test_check_invariants_next_to_a_running_server_changes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Emulator(state_dir=state) as emu:
        emu.put_file(WHEEL, b"x")
        with emu.state() as ws:
            ws.auth.add_token("later", "dapi-later", ws.auth.tokens[emu.token][1])
        (state / "blobs" / "tmp-upload-in-flight").write_bytes(b"partial")
        before = (state / "state.json").read_bytes()
        result = _run("--state-dir", str(state), "--check-invariants")
        assert result.returncode == 0, result.stderr
        assert (state / "state.json").read_bytes() == before
        assert (state / "blobs" / "tmp-upload-in-flight").exists()
        emu.delete_file(WHEEL)
        with emu.state() as ws:
            from wheelship.emulator.state import Cluster, LibraryEntry

            ws.clusters["c9"] = Cluster(
                "c9", {"cluster_name": "n"}, libraries=[LibraryEntry({"whl": WHEEL})]
            )
            ws.changed()
        emu.put_file("/Volumes/x/y/z/touch", b"")  # any change persists the state
        result = _run("--state-dir", str(state), "--check-invariants")
        assert result.returncode == 1
        assert result.stdout == f"cluster c9 (n): library references missing file {WHEEL}\n"


def test_rate_limit_preset_flag() -> None:
    proc, url, token = _start(
        "--rate-limit", "databricks", "--rate-limit", "GET /api/2.1/clusters/list=1"
    )
    try:
        headers = {"Authorization": f"Bearer {token}"}
        codes = [
            requests.get(f"{url}/api/2.1/clusters/list", headers=headers, timeout=5).status_code
            for _ in range(3)
        ]
        assert codes[0] == 200 and 429 in codes
        creates = [
            requests.post(
                f"{url}/api/2.2/jobs/create", json={"name": "x"}, headers=headers, timeout=5
            ).status_code
            for _ in range(25)
        ]
        assert 429 in creates
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    bad = _run("--rate-limit", "fastest")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: rate limit 'fastest' is not PATTERN=PER_SECOND")

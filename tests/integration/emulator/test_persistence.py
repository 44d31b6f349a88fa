"""--state-dir: an interrupted deploy resumes against the same workspace."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from support.emulator_api import Api
from wheelship.emulator import Emulator

WHEEL = "/Volumes/main/ops/artifacts/pkg-1.0.0-py3-none-any.whl"
CLUSTER = "0101-000000-shared01"
SEED = {
    "clusters": [{"cluster_id": CLUSTER, "cluster_name": "shared", "state": "RUNNING"}],
    "tokens": [{"name": "reader", "value": "dapi-reader-p", "permission": "read-only"}],
}


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Emulator(seed=SEED, state_dir=state, clock_speed=0) as emu:
        api = Api(emu, emu.token)
        assert api.put(f"/api/2.0/fs/files{WHEEL}", b"wheel-bytes").status_code == 204
        api.post(
            "/api/2.0/libraries/install", {"cluster_id": CLUSTER, "libraries": [{"whl": WHEEL}]}
        )
        job_id = api.post("/api/2.2/jobs/create", {"name": "etl"}).json()["job_id"]
        api.post("/api/2.1/clusters/restart", {"cluster_id": CLUSTER})
        api.post("/api/2.0/workspace/mkdirs", {"path": "/Shared/libs"})
        token = emu.token
        api.close()
    saved = state / "state.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert "wheel-bytes" not in saved.read_text()  # bodies live in blobs/, not the state file
    with Emulator(seed={"clusters": []}, state_dir=state, clock_speed=0) as emu:
        assert emu.resumed
        assert emu.token == token
        assert emu.tokens["reader"] == "dapi-reader-p"
        assert emu.read_file(WHEEL) == b"wheel-bytes"
        assert emu.jobs()[job_id]["name"] == "etl"
        assert emu.cluster_state(CLUSTER) == "RESTARTING"  # the seed is ignored on resume
        emu.settle()
        assert [x["status"] for x in emu.cluster_libraries(CLUSTER)] == ["INSTALLED"]
        api = Api(emu, token)
        new_job = api.post("/api/2.2/jobs/create", {"name": "second"}).json()["job_id"]
        assert new_job == job_id + 1  # id counters continue
        assert api.get("/api/2.0/workspace/get-status", path="/Shared/libs").status_code == 200
        api.close()


def test_orphan_blobs_are_collected_on_resume(tmp_path: Path) -> None:
    state = tmp_path / "s"
    with Emulator(state_dir=state) as emu:
        emu.put_file(WHEEL, b"keep")
    (state / "blobs" / "orphan").write_bytes(b"lost upload")
    (state / "blobs" / "tmp-partial").write_bytes(b"cut off")
    with Emulator(state_dir=state) as emu:
        assert emu.read_file(WHEEL) == b"keep"
    assert sorted(p.name for p in (state / "blobs").iterdir()) == [
        json.loads((state / "state.json").read_text())["trees"]["volumes"][-1]["blob_id"]
    ]


def test_a_corrupt_state_dir_is_a_clear_error(tmp_path: Path) -> None:
    import pytest

    from wheelship.errors import ConfigurationError

    state = tmp_path / "bad"
    state.mkdir()
    (state / "state.json").write_text('{"format": 99}')
    with pytest.raises(
        ConfigurationError, match=r"cannot resume from .*unsupported state format 99"
    ):
        Emulator(state_dir=state).start()

"""DBFS API on the wire: put (JSON, multipart), streaming create/add-block/close, read."""

from __future__ import annotations

import base64

import requests

from support.emulator_api import Api, error_of
from wheelship.emulator import Emulator

B = "/api/2.0/dbfs"
MB = 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_put_status_read_delete(api: Api, emulator: Emulator) -> None:
    assert (
        api.post(f"{B}/put", {"path": "dbfs:/FileStore/a.whl", "contents": _b64(b"abc")}).json()
        == {}
    )
    info = api.get(f"{B}/get-status", path="dbfs:/FileStore/a.whl").json()
    assert {k: info[k] for k in ("path", "is_dir", "file_size")} == {
        "path": "/FileStore/a.whl",
        "is_dir": False,
        "file_size": 3,
    }
    assert api.get(f"{B}/get-status", path="/FileStore").json()["is_dir"] is True
    read = api.get(f"{B}/read", path="/FileStore/a.whl", offset=1, length=10).json()
    assert read == {"bytes_read": 2, "data": _b64(b"bc")}
    assert error_of(api.post(f"{B}/put", {"path": "/FileStore/a.whl", "contents": _b64(b"x")})) == (
        400,
        "RESOURCE_ALREADY_EXISTS",
        "A file or directory already exists at the input path dbfs:/FileStore/a.whl.",
    )
    assert api.post(f"{B}/delete", {"path": "/FileStore/a.whl"}).json() == {}
    assert error_of(api.get(f"{B}/get-status", path="/FileStore/a.whl")) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "No file or directory exists on path dbfs:/FileStore/a.whl.",
    )
    assert emulator.files("dbfs:") == {}


def test_inline_put_is_limited_to_one_megabyte(api: Api) -> None:
    body = {"path": "/big", "contents": _b64(b"x" * (MB + 1))}
    assert error_of(api.post(f"{B}/put", body))[:2] == (400, "MAX_BLOCK_SIZE_EXCEEDED")


def test_multipart_put_has_no_block_limit(api: Api, emulator: Emulator) -> None:
    data = b"y" * (3 * MB)
    response = api.post(
        f"{B}/put",
        files={"file": ("x.whl", data)},
        data={"path": "dbfs:/FileStore/x.whl", "overwrite": "True"},
    )
    assert response.json() == {}
    assert emulator.file_sha256("dbfs:/FileStore/x.whl") == emulator.blob_digest(data)


def test_streaming_upload_with_block_limit(api: Api, emulator: Emulator) -> None:
    handle = api.post(f"{B}/create", {"path": "/FileStore/s.bin", "overwrite": True}).json()[
        "handle"
    ]
    for block in (b"a" * MB, b"b" * 10):
        assert api.post(f"{B}/add-block", {"handle": handle, "data": _b64(block)}).json() == {}
    too_big = api.post(f"{B}/add-block", {"handle": handle, "data": _b64(b"c" * (MB + 1))})
    assert error_of(too_big)[:2] == (400, "MAX_BLOCK_SIZE_EXCEEDED")
    assert emulator.files("dbfs:") == {}  # nothing visible before close
    assert api.post(f"{B}/close", {"handle": handle}).json() == {}
    assert emulator.files("dbfs:") == {"dbfs:/FileStore/s.bin": MB + 10}
    assert error_of(api.post(f"{B}/close", {"handle": handle}))[:2] == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_mkdirs_list_delete_move(api: Api) -> None:
    api.post(f"{B}/mkdirs", {"path": "/a/b"})
    api.post(f"{B}/put", {"path": "/a/f", "contents": _b64(b"1")})
    listed = api.get(f"{B}/list", path="/a").json()["files"]
    assert [(f["path"], f["is_dir"]) for f in listed] == [("/a/b", True), ("/a/f", False)]
    assert error_of(api.post(f"{B}/mkdirs", {"path": "/a/f/g"}))[:2] == (
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    assert error_of(api.post(f"{B}/delete", {"path": "/a"}))[:2] == (400, "IO_ERROR")
    assert api.post(f"{B}/move", {"source_path": "/a", "destination_path": "/z"}).json() == {}
    assert api.get(f"{B}/read", path="/z/f").json()["data"] == _b64(b"1")
    assert api.post(f"{B}/delete", {"path": "/z", "recursive": True}).json() == {}
    assert api.post(f"{B}/delete", {"path": "/z"}).json() == {}  # already gone: fine
    assert error_of(api.get(f"{B}/read", path="/z/f"))[:2] == (404, "RESOURCE_DOES_NOT_EXIST")


def test_volumes_paths_are_refused_and_read_limits(api: Api) -> None:
    status, code, message = error_of(api.get(f"{B}/get-status", path="/Volumes/a/b/c/x"))
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE")
    assert "No operations allowed on this path" in message
    api.post(f"{B}/put", {"path": "/r", "contents": _b64(b"1")})
    assert error_of(api.get(f"{B}/read", path="/r", length=MB + 1))[:2] == (
        400,
        "MAX_READ_SIZE_EXCEEDED",
    )
    assert error_of(api.get(f"{B}/read", path="/r", offset=-1))[:2] == (
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert error_of(api.get(f"{B}/read", path="/"))[:2] == (400, "INVALID_PARAMETER_VALUE")


def test_stop_discards_uploads_a_client_abandoned(emulator_factory) -> None:  # type: ignore[no-untyped-def]
    """A handle left open (the client gave up mid-upload) holds an open temporary file:
    stopping the emulator closes and removes it (an open file would surface later as a
    ResourceWarning in whatever runs when it is collected)."""
    emu = emulator_factory()
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {emu.token}"
    handle = api.post(
        f"{emu.url}/api/2.0/dbfs/create", json={"path": "/tmp/x.whl", "overwrite": True}, timeout=10
    ).json()["handle"]
    assert api.post(
        f"{emu.url}/api/2.0/dbfs/add-block", json={"handle": handle, "data": "eHg="}, timeout=10
    ).ok
    api.close()
    with emu.state() as ws:
        pending = ws.dbfs_handles[handle][2]["blob"]
    assert pending._fh is not None and pending.path.exists()
    emu.stop()
    assert pending._fh is None and not pending.path.exists()

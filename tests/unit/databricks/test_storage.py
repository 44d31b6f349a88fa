"""The three storage kinds against a scripted transport: the wire calls each one makes."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from support.fake_transport import Call, FakeTransport
from wheelship.databricks.auth import PatAuth
from wheelship.databricks.client import Client
from wheelship.databricks.storage import (
    AlreadyExists,
    DbfsStorage,
    VolumesStorage,
    WorkspaceStorage,
    open_storage,
)

HOST = "https://h"


def client(fake: FakeTransport) -> Client:
    return Client(HOST, PatAuth("dapi-x"), session=fake.session(), sleep=lambda s: None)


def test_open_storage_by_prefix() -> None:
    c = client(FakeTransport())
    assert isinstance(open_storage(c, "/Volumes/a/b/c/d"), VolumesStorage)
    assert isinstance(open_storage(c, "/Workspace/Shared/w"), WorkspaceStorage)
    assert isinstance(open_storage(c, "dbfs:/FileStore/w"), DbfsStorage)


def test_volumes(tmp_path: Path) -> None:
    local = tmp_path / "tsff-1.0-py3-none-any.whl"
    local.write_bytes(b"wheel-bytes")
    fake = (
        FakeTransport()
        .on(
            "GET",
            "/api/2.0/fs/directories/Volumes/a/b/my%20vol/w",
            (
                200,
                {
                    "contents": [
                        {
                            "path": "/Volumes/a/b/my vol/w/x.whl",
                            "name": "x.whl",
                            "is_directory": False,
                            "file_size": 3,
                        },
                        {"path": "/Volumes/a/b/my vol/w/sub", "name": "sub", "is_directory": True},
                    ]
                },
            ),
        )
        .on(
            "PUT",
            "/api/2.0/fs/files/",
            (204, None),
            (409, {"error_code": "ALREADY_EXISTS", "message": "exists"}),
        )
        .on(
            "GET",
            "/api/2.0/fs/files/",
            (200, b"wheel-bytes", {"Content-Type": "application/octet-stream"}),
        )
        .on("HEAD", "/api/2.0/fs/files/", (404, None))
        .on("DELETE", "/api/2.0/fs/files/", (404, {"error_code": "NOT_FOUND", "message": "gone"}))
        .on("PUT", "/api/2.0/fs/directories/", (204, None))
    )
    st = open_storage(client(fake), "/Volumes/a/b/my vol/w")
    assert [(f.name, f.size) for f in st.list() or []] == [("x.whl", 3)]
    st.upload(local.name, local, create_folder=True)
    put = [c for c in fake.calls if c.method == "PUT"]
    assert put[0].path == "/api/2.0/fs/directories/Volumes/a/b/my%20vol/w"
    assert put[1].path == f"/api/2.0/fs/files/Volumes/a/b/my%20vol/w/{local.name}"
    assert put[1].query == {"overwrite": ["false"]} and put[1].body == b"wheel-bytes"
    with pytest.raises(AlreadyExists):
        st.upload(local.name, local)
    assert st.digest(local.name) == (11, hashlib.sha256(b"wheel-bytes").hexdigest())
    assert st.size("missing.whl") is None
    st.delete("missing.whl")  # idempotent


def test_volumes_missing_folder_lists_as_none() -> None:
    fake = FakeTransport().on(
        "GET", "/api/2.0/fs/directories", (404, {"error_code": "NOT_FOUND", "message": "no"})
    )
    assert open_storage(client(fake), "/Volumes/a/b/c/w").list() is None


def test_workspace(tmp_path: Path) -> None:
    local = tmp_path / "t.whl"
    local.write_bytes(b"abc")
    fake = (
        FakeTransport()
        .on(
            "GET",
            "/api/2.0/workspace/list",
            (
                200,
                {
                    "objects": [
                        {"path": "/Shared/w/t.whl", "object_type": "FILE", "size": 3},
                        {"path": "/Shared/w/nb", "object_type": "NOTEBOOK"},
                    ]
                },
            ),
        )
        .on("POST", "/api/2.0/workspace/mkdirs", (200, {}))
        .on(
            "POST",
            "/api/2.0/workspace-files/import-file/",
            (200, {}),
            (409, {"error_code": "RESOURCE_ALREADY_EXISTS", "message": "x"}),
        )
        .on("GET", "/api/2.0/workspace/export", (200, b"abc"))
        .on("POST", "/api/2.0/workspace/delete", (200, {}))
    )
    st = open_storage(client(fake), "/Workspace/Shared/w")
    assert [f.name for f in st.list() or []] == ["t.whl"]
    assert fake.calls[0].query == {"path": ["/Shared/w"]}
    st.upload("t.whl", local, create_folder=True)
    assert fake.calls[1].json() == {"path": "/Shared/w"}
    assert fake.calls[2].path == "/api/2.0/workspace-files/import-file/Shared/w/t.whl"
    assert fake.calls[2].body == b"abc"
    with pytest.raises(AlreadyExists):
        st.upload("t.whl", local)
    assert st.digest("t.whl")[0] == 3
    assert fake.calls[-1].query == {"path": ["/Shared/w/t.whl"], "direct_download": ["true"]}
    assert st.ref("t.whl") == "/Workspace/Shared/w/t.whl"


def test_dbfs_writes_a_temporary_file_and_moves_it(tmp_path: Path) -> None:
    local = tmp_path / "t.whl"
    data = bytes(range(256)) * 8200  # a little over 2 blocks
    local.write_bytes(data)
    blocks: list[bytes] = []

    def add_block(call: Call) -> tuple[int, object]:
        blocks.append(base64.b64decode(call.json()["data"]))
        return 200, {}

    fake = (
        FakeTransport()
        .on("POST", "/api/2.0/dbfs/create", (200, {"handle": 7}))
        .on("POST", "/api/2.0/dbfs/add-block", add_block)
        .on("POST", "/api/2.0/dbfs/close", (200, {}))
        .on("POST", "/api/2.0/dbfs/move", (200, {}))
        .on(
            "GET",
            "/api/2.0/dbfs/read",
            (200, {"bytes_read": 3, "data": base64.b64encode(b"abc").decode()}),
            (200, {"bytes_read": 0}),
        )
    )
    st = open_storage(client(fake), "dbfs:/FileStore/w")
    st.upload("t.whl", local)
    assert fake.calls[0].json() == {"path": "/FileStore/w/.t.whl.partial", "overwrite": True}
    assert b"".join(blocks) == data and max(len(b) for b in blocks) == 1 << 20
    assert fake.calls[-1].json() == {
        "source_path": "/FileStore/w/.t.whl.partial",
        "destination_path": "/FileStore/w/t.whl",
    }
    assert st.digest("t.whl") == (3, hashlib.sha256(b"abc").hexdigest())
    assert st.ref("t.whl") == "dbfs:/FileStore/w/t.whl"

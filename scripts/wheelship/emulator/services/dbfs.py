"""DBFS API 2.0 (legacy): put (JSON ≤ 1 MB inline, or multipart of any size), the
create/add-block/close streaming upload with 1 MB blocks, get-status, list, mkdirs, delete, move,
read. Paths come as ``/FileStore/x`` or ``dbfs:/FileStore/x``.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from wheelship.emulator.blobs import PendingBlob
from wheelship.emulator.filetree import Node, NotEmptyError, normalize, parent_of
from wheelship.emulator.router import Router
from wheelship.emulator.state import Workspace
from wheelship.emulator.wire import (
    ApiError,
    Request,
    bad_request,
    field_bool,
    field_int,
    field_str,
)

MAX_BLOCK = 1024 * 1024
MAX_READ = 1024 * 1024
MAX_MULTIPART_PUT = 2 * 1024**3
DEFAULT_READ = 512 * 1024
HANDLE_IDLE = 600.0  # seconds of real time


def register(router: Router) -> None:
    # multipart puts have no block limit (the legacy CLI sends files up to 2 GiB this way)
    router.add("POST", "/api/2.0/dbfs/put", put, body="form", max_body=MAX_MULTIPART_PUT)
    router.add("POST", "/api/2.0/dbfs/create", create)
    router.add("POST", "/api/2.0/dbfs/add-block", add_block, max_body=4 * MAX_BLOCK)
    router.add("POST", "/api/2.0/dbfs/close", close)
    router.add("GET", "/api/2.0/dbfs/get-status", get_status, body="none")
    router.add("GET", "/api/2.0/dbfs/list", list_, body="none")
    router.add("POST", "/api/2.0/dbfs/mkdirs", mkdirs)
    router.add("POST", "/api/2.0/dbfs/delete", delete)
    router.add("POST", "/api/2.0/dbfs/move", move)
    router.add("GET", "/api/2.0/dbfs/read", read, body="none")


def clean(path: str) -> str:
    if path.startswith("dbfs:"):
        path = path[5:]
    try:
        path = normalize(path)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    if path == "/Volumes" or path.startswith("/Volumes/"):
        raise bad_request(f"No operations allowed on this path: {path}")
    return path


def _exists_error(path: str) -> ApiError:
    return ApiError(
        400,
        "RESOURCE_ALREADY_EXISTS",
        f"A file or directory already exists at the input path dbfs:{path}.",
    )


def _missing(path: str) -> ApiError:
    return ApiError(
        404, "RESOURCE_DOES_NOT_EXIST", f"No file or directory exists on path dbfs:{path}."
    )


def file_info(node: Node) -> dict[str, Any]:
    return {
        "path": node.path,
        "is_dir": node.is_dir,
        "file_size": 0 if node.is_dir else node.size,
        "modification_time": node.modified_ms,
    }


def _check_target(ws: Workspace, path: str, overwrite: bool) -> None:
    node = ws.dbfs.get(path)
    if node is not None and (node.is_dir or not overwrite):
        raise _exists_error(path)
    blocker = ws.dbfs.blocking_file(parent_of(path))
    if blocker is not None:
        raise _exists_error(blocker)


def _write(ws: Workspace, path: str, blob_id: str, size: int, overwrite: bool) -> None:
    with ws.blobs.owning(blob_id):
        _check_target(ws, path, overwrite)
        ws.store_file(ws.dbfs, path, blob_id, size, overwrite=overwrite, create_parents=True)


def _b64(text: str, name: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(f"The {name} field is not valid base64.") from None


def put(ws: Workspace, req: Request) -> dict[str, Any]:
    body = req.body_or_form()
    path = clean(field_str(body, "path"))
    overwrite = field_bool(body, "overwrite", default=False)
    if req.form is not None:
        pending = req.form.files.pop("file", None) or req.form.files.pop("contents", None)
        if pending is None:
            contents = req.form.fields.get("contents", "")
            blob_id, size = ws.blobs.put_bytes(_b64(contents, "contents"))
        else:
            blob_id, size = ws.blobs.commit(pending), pending.size
    else:
        contents = field_str(body, "contents", required=False)
        if len(contents) * 3 // 4 > MAX_BLOCK + 2:
            raise ApiError(
                400,
                "MAX_BLOCK_SIZE_EXCEEDED",
                f"The contents is larger than the maximum of {MAX_BLOCK} bytes for inline "
                "uploads; use create/add-block/close or a multipart upload.",
            )
        data = _b64(contents, "contents")
        if len(data) > MAX_BLOCK:
            raise ApiError(
                400, "MAX_BLOCK_SIZE_EXCEEDED", f"The contents is larger than {MAX_BLOCK} bytes."
            )
        blob_id, size = ws.blobs.put_bytes(data)
    _write(ws, path, blob_id, size, overwrite)
    return {}


def _expire_handles(ws: Workspace) -> None:
    now = time.monotonic()
    for handle, (_, _, entry) in list(ws.dbfs_handles.items()):
        if now - entry["touched"] > HANDLE_IDLE:
            entry["blob"].discard()
            del ws.dbfs_handles[handle]


def create(ws: Workspace, req: Request) -> dict[str, Any]:
    body = req.json()
    path = clean(field_str(body, "path"))
    overwrite = field_bool(body, "overwrite", default=False)
    _check_target(ws, path, overwrite)
    _expire_handles(ws)
    handle = ws.next_handle
    ws.next_handle += 1
    ws.dbfs_handles[handle] = (
        path,
        overwrite,
        {"blob": ws.blobs.new(), "touched": time.monotonic()},
    )
    return {"handle": handle}


def _handle(ws: Workspace, body: dict[str, Any]) -> tuple[int, str, bool, dict[str, Any]]:
    handle = field_int(body, "handle")
    _expire_handles(ws)
    found = ws.dbfs_handles.get(handle)
    if found is None:
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Handle {handle} does not exist.")
    path, overwrite, entry = found
    entry["touched"] = time.monotonic()
    return handle, path, overwrite, entry


def add_block(ws: Workspace, req: Request) -> dict[str, Any]:
    body = req.json()
    _, _, _, entry = _handle(ws, body)
    data = _b64(field_str(body, "data", required=False), "data")
    if len(data) > MAX_BLOCK:
        raise ApiError(
            400,
            "MAX_BLOCK_SIZE_EXCEEDED",
            f"The block is {len(data)} bytes, larger than the maximum of {MAX_BLOCK} bytes.",
        )
    blob: PendingBlob = entry["blob"]
    blob.write(data)
    return {}


def close(ws: Workspace, req: Request) -> dict[str, Any]:
    handle, path, overwrite, entry = _handle(ws, req.json())
    del ws.dbfs_handles[handle]
    blob: PendingBlob = entry["blob"]
    try:
        blob_id = ws.blobs.commit(blob)
    except BaseException:
        blob.discard()
        raise
    _write(ws, path, blob_id, blob.size, overwrite)
    return {}


def _node(ws: Workspace, raw: str) -> Node:
    path = clean(raw)
    node = ws.dbfs.get(path)
    if node is None:
        raise _missing(path)
    return node


def get_status(ws: Workspace, req: Request) -> dict[str, Any]:
    return file_info(_node(ws, req.require_arg("path")))


def list_(ws: Workspace, req: Request) -> dict[str, Any]:
    node = _node(ws, req.require_arg("path"))
    if not node.is_dir:
        return {"files": [file_info(node)]}
    files = [file_info(child) for child in ws.dbfs.list_dir(node.path)]
    return {"files": files} if files else {}


def mkdirs(ws: Workspace, req: Request) -> dict[str, Any]:
    path = clean(field_str(req.json(), "path"))
    blocker = ws.dbfs.blocking_file(path)
    if blocker is not None:
        raise _exists_error(blocker)
    if ws.dbfs.get(path) is None:
        ws.dbfs.mkdirs(path, ws.now_ms())
        ws.changed()
    return {}


def delete(ws: Workspace, req: Request) -> dict[str, Any]:
    body = req.json()
    path = clean(field_str(body, "path"))
    recursive = field_bool(body, "recursive", default=False)
    if path == "/":
        raise bad_request("Cannot delete the DBFS root.")
    if ws.dbfs.get(path) is None:
        return {}  # deleting nothing succeeds, as on the real service
    try:
        blobs = ws.dbfs.delete(path, recursive=recursive)
    except NotEmptyError:
        raise ApiError(
            400,
            "IO_ERROR",
            f"Path dbfs:{path} is a non-empty directory; set recursive to delete it.",
        ) from None
    for blob in blobs:
        ws.blobs.delete(blob)
    ws.changed()
    return {}


def move(ws: Workspace, req: Request) -> dict[str, Any]:
    body = req.json()
    src = clean(field_str(body, "source_path"))
    dst = clean(field_str(body, "destination_path"))
    node = ws.dbfs.get(src)
    if node is None:
        raise _missing(src)
    if ws.dbfs.get(dst) is not None:
        raise _exists_error(dst)
    if dst == src or dst.startswith(src + "/"):
        raise bad_request(f"Cannot move dbfs:{src} into itself.")
    _check_target(ws, dst, overwrite=False)
    now = ws.now_ms()
    moved = [n for p, n in sorted(ws.dbfs.nodes.items()) if p == src or p.startswith(src + "/")]
    for item in moved:
        target = dst + item.path[len(src) :]
        if item.is_dir:
            ws.dbfs.mkdirs(target, now)
        else:
            assert item.blob_id is not None
            ws.dbfs.put_file(
                target,
                item.blob_id,
                item.size,
                item.modified_ms,
                overwrite=False,
                create_parents=True,
            )
    for item in moved:
        item.blob_id = None  # the blobs now belong to the destination
    ws.dbfs.delete(src, recursive=True)
    ws.changed()
    return {}


def read(ws: Workspace, req: Request) -> dict[str, Any]:
    node = _node(ws, req.require_arg("path"))
    offset = req.arg_int("offset", 0) or 0
    length = req.arg_int("length", DEFAULT_READ)
    if length is None or length == 0:
        length = DEFAULT_READ
    if offset < 0 or length < 0:
        raise bad_request("offset and length must not be negative.")
    if length > MAX_READ:
        raise ApiError(
            400,
            "MAX_READ_SIZE_EXCEEDED",
            f"Cannot read more than {MAX_READ} bytes at once; requested {length}.",
        )
    if node.is_dir:
        raise bad_request(f"Cannot read dbfs:{node.path}: it is a directory.")
    assert node.blob_id is not None
    data = ws.blobs.read(node.blob_id, offset, length) if offset < node.size else b""
    return {"bytes_read": len(data), "data": base64.b64encode(data).decode("ascii")}

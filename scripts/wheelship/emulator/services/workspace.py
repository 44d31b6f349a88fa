"""Workspace API: import (JSON and multipart), import-file, get-status, list, mkdirs, delete,
export. Paths may carry the ``/Workspace`` prefix (as library specs must) or not.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from wheelship.emulator.filetree import Node, normalize, parent_of
from wheelship.emulator.router import Router
from wheelship.emulator.state import Workspace
from wheelship.emulator.wire import (
    ApiError,
    Request,
    Response,
    bad_request,
    field_bool,
    field_str,
)

MAX_IMPORT = 10 * 1024 * 1024
FORMATS = ("AUTO", "SOURCE", "HTML", "JUPYTER", "DBC", "R_MARKDOWN", "RAW")
LANGUAGES = ("PYTHON", "SCALA", "SQL", "R")
_NOTEBOOK_EXT = {".py": "PYTHON", ".scala": "SCALA", ".sql": "SQL", ".r": "R"}
_NOTEBOOK_HEADER = (
    b"# Databricks notebook source",
    b"// Databricks notebook source",
    b"-- Databricks notebook source",
)


def register(router: Router) -> None:
    router.add("POST", "/api/2.0/workspace/import", import_, body="form", max_body=2 * MAX_IMPORT)
    router.add(
        "POST",
        "/api/2.0/workspace-files/import-file",
        import_file,
        prefix=True,
        body="raw",
        max_body=MAX_IMPORT * 50,
    )
    router.add("GET", "/api/2.0/workspace/get-status", get_status, body="none")
    router.add("GET", "/api/2.0/workspace/list", list_, body="none")
    router.add("POST", "/api/2.0/workspace/mkdirs", mkdirs)
    router.add("POST", "/api/2.0/workspace/delete", delete)
    router.add("GET", "/api/2.0/workspace/export", export, body="none")


def clean(path: str) -> str:
    if path == "/Workspace" or path.startswith("/Workspace/"):
        path = path[len("/Workspace") :] or "/"
    try:
        return normalize(path)
    except ValueError as exc:
        raise bad_request(str(exc)) from None


def _missing(path: str) -> ApiError:
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Path ({path}) doesn't exist.")


def object_info(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {
        "object_type": node.object_type or ("DIRECTORY" if node.is_dir else "FILE"),
        "path": node.path,
        "object_id": node.object_id,
        "resource_id": str(node.object_id),
    }
    if node.is_dir:
        return out
    out["created_at"] = node.created_ms
    out["modified_at"] = node.modified_ms
    if node.object_type == "NOTEBOOK":
        out["language"] = node.language or "PYTHON"
    else:
        out["size"] = node.size
    return out


def _kind(path: str, fmt: str, language: str | None, head: bytes) -> tuple[str, str, str | None]:
    """(stored path, object type, language) for an import."""
    base, dot, ext = path.rpartition(".")
    ext = f".{ext.lower()}" if dot else ""
    if fmt == "RAW":
        return path, "FILE", None
    if fmt == "AUTO":
        if ext in _NOTEBOOK_EXT and head.lstrip().startswith(_NOTEBOOK_HEADER):
            return base, "NOTEBOOK", _NOTEBOOK_EXT[ext]
        if ext == ".ipynb":
            return base, "NOTEBOOK", "PYTHON"
        return path, "FILE", None
    if fmt == "SOURCE":
        if not language:
            raise bad_request("The language must be specified when the format is SOURCE.")
        return path, "NOTEBOOK", language
    return path, "NOTEBOOK", language or "PYTHON"


def _store(
    ws: Workspace,
    path: str,
    blob_id: str,
    size: int,
    *,
    overwrite: bool,
    object_type: str,
    language: str | None,
    conflict_status: int,
) -> None:
    tree = ws.workspace
    parent = parent_of(path)
    parent_node = tree.get(parent)
    with ws.blobs.owning(blob_id):
        if parent_node is None or not parent_node.is_dir:
            raise ApiError(
                404, "RESOURCE_DOES_NOT_EXIST", f"The parent folder ({parent}) does not exist."
            )
        existing = tree.get(path)
        if existing is not None and (existing.is_dir or not overwrite):
            status = conflict_status if existing.object_type == "FILE" else 400
            raise ApiError(status, "RESOURCE_ALREADY_EXISTS", f"Path ({path}) already exists.")
        ws.store_file(
            tree,
            path,
            blob_id,
            size,
            overwrite=overwrite,
            create_parents=False,
            object_type=object_type,
            language=language,
        )


def import_(ws: Workspace, req: Request) -> dict[str, Any]:
    body = req.body_or_form()
    path = clean(field_str(body, "path"))
    fmt = field_str(body, "format", required=False, default="SOURCE").upper()
    if fmt not in FORMATS:
        raise bad_request(f"Invalid format {fmt!r}: expected one of {', '.join(FORMATS)}")
    language = field_str(body, "language", required=False).upper() or None
    if language is not None and language not in LANGUAGES:
        raise bad_request(f"Invalid language {language!r}: expected one of {', '.join(LANGUAGES)}")
    overwrite = field_bool(body, "overwrite", default=False)
    if fmt == "DBC" and overwrite:
        raise bad_request("Overwrite is not supported for the DBC format.")
    if req.form is not None:
        pending = req.form.files.pop("content", None) or req.form.files.pop("file", None)
        if pending is None:
            raise bad_request("Missing required field: content")
        try:
            size = pending.size
            if size > MAX_IMPORT:
                raise _too_big(size)
            with pending.open() as fh:
                head = fh.read(64)
            blob_id = ws.blobs.commit(pending)
        except BaseException:
            pending.discard()
            raise
    else:
        content = field_str(body, "content", required=False)
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("The content field is not valid base64.") from None
        if len(data) > MAX_IMPORT:
            raise _too_big(len(data))
        head = data[:64]
        blob_id, size = ws.blobs.put_bytes(data)
    with ws.blobs.owning(blob_id):
        stored, object_type, lang = _kind(path, fmt, language, head)
    _store(
        ws,
        stored,
        blob_id,
        size,
        overwrite=overwrite,
        object_type=object_type,
        language=lang,
        conflict_status=400,
    )
    return {}


def _too_big(size: int) -> ApiError:
    return ApiError(
        400,
        "MAX_NOTEBOOK_SIZE_EXCEEDED",
        f"File size imported is ({size} bytes), exceeded max size ({MAX_IMPORT} bytes)",
    )


def import_file(ws: Workspace, req: Request) -> dict[str, Any]:
    path = clean(req.rest)
    overwrite = req.arg_bool("overwrite", default=False)
    assert req.upload is not None
    pending, req.upload = req.upload, None
    blob_id = ws.blobs.commit(pending)
    _store(
        ws,
        path,
        blob_id,
        pending.size,
        overwrite=overwrite,
        object_type="FILE",
        language=None,
        conflict_status=409,
    )
    return {}


def _node(ws: Workspace, raw: str) -> Node:
    path = clean(raw)
    node = ws.workspace.get(path)
    if node is None:
        raise _missing(path)
    return node


def get_status(ws: Workspace, req: Request) -> dict[str, Any]:
    return object_info(_node(ws, req.require_arg("path")))


def list_(ws: Workspace, req: Request) -> dict[str, Any]:
    node = _node(ws, req.require_arg("path"))
    if not node.is_dir:
        return {"objects": [object_info(node)]}
    after = req.arg_int("notebooks_modified_after")
    objects = [
        object_info(child)
        for child in ws.workspace.list_dir(node.path)
        if after is None or child.is_dir or child.modified_ms > after
    ]
    return {"objects": objects} if objects else {}


def mkdirs(ws: Workspace, req: Request) -> dict[str, Any]:
    path = clean(field_str(req.json(), "path"))
    blocker = ws.workspace.blocking_file(path)
    if blocker is not None:
        raise ApiError(
            400, "RESOURCE_ALREADY_EXISTS", f"{blocker} already exists and it is not a folder"
        )
    if ws.workspace.get(path) is None:
        ws.workspace.mkdirs(path, ws.now_ms())
        ws.changed()
    return {}


def delete(ws: Workspace, req: Request) -> dict[str, Any]:
    body = req.json()
    path = clean(field_str(body, "path"))
    recursive = field_bool(body, "recursive", default=False)
    node = ws.workspace.get(path)
    if node is None:
        raise _missing(path)
    if path == "/":
        raise bad_request("Cannot delete the workspace root folder.")
    if node.is_dir and ws.workspace.children.get(path) and not recursive:
        raise ApiError(400, "DIRECTORY_NOT_EMPTY", f"Folder ({path}) is not empty.")
    for blob in ws.workspace.delete(path, recursive=True):
        ws.blobs.delete(blob)
    ws.changed()
    return {}


def export(ws: Workspace, req: Request) -> Response:
    node = _node(ws, req.require_arg("path"))
    fmt = (req.arg("format") or "SOURCE").upper()
    if fmt not in FORMATS:
        raise bad_request(f"Invalid format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if node.is_dir:
        raise bad_request(f"Path ({node.path}) is a directory: only files and notebooks export.")
    if node.size > MAX_IMPORT:
        raise ApiError(
            400,
            "MAX_NOTEBOOK_SIZE_EXCEEDED",
            f"Export size ({node.size} bytes) exceeds the limit of {MAX_IMPORT} bytes",
        )
    assert node.blob_id is not None
    if req.arg_bool("direct_download"):
        return Response(body=ws.blobs.read(node.blob_id), content_type="application/octet-stream")
    data = ws.blobs.read(node.blob_id)
    ext = node.path.rpartition(".")[2] if "." in node.name else ""
    file_type = ext or {"PYTHON": "py", "SCALA": "scala", "SQL": "sql", "R": "r"}.get(
        node.language or "", ""
    )
    return Response(
        json={"content": base64.b64encode(data).decode("ascii"), "file_type": file_type}
    )

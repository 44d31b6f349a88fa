"""Files API (Unity Catalog volumes): ``/api/2.0/fs/files{path}`` and ``/fs/directories{path}``.

Uploads stream into the blob store; downloads stream out of it, with ``Range`` (206) and
``If-Unmodified-Since`` (412). Missing objects are 404 ``NOT_FOUND``; conflicts 409.
"""

from __future__ import annotations

import datetime
import email.utils
import re

from wheelship.emulator.filetree import normalize, parent_of
from wheelship.emulator.router import Router
from wheelship.emulator.state import Workspace
from wheelship.emulator.uc import VolumeAccess
from wheelship.emulator.wire import ApiError, Request, Response, page_token, read_page_token

MAX_SINGLE_PUT = 5 * 1024**3
MAX_PAGE = 1000
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

FILES = "/api/2.0/fs/files"
DIRS = "/api/2.0/fs/directories"


def register(router: Router) -> None:
    router.add("PUT", FILES, upload, prefix=True, body="raw", max_body=MAX_SINGLE_PUT)
    router.add("GET", FILES, download, prefix=True, body="none")
    router.add("HEAD", FILES, metadata, prefix=True, body="none")
    router.add("DELETE", FILES, delete_file, prefix=True, body="none")
    router.add("PUT", DIRS, create_directory, prefix=True, body="none")
    router.add("HEAD", DIRS, directory_metadata, prefix=True, body="none")
    router.add("GET", DIRS, list_directory, prefix=True, body="none")
    router.add("DELETE", DIRS, delete_directory, prefix=True, body="none")


def _not_found(path: str, reason: str = "FILES_API_FILE_IS_NOT_FOUND") -> ApiError:
    return ApiError(
        404, "NOT_FOUND", f"The file or directory {path} does not exist.", reason=reason
    )


def _path(ws: Workspace, req: Request, *, file: bool) -> tuple[str, str]:
    """(clean path, volume root); errors for paths outside a volume or a missing volume."""
    try:
        path = normalize(req.rest)
    except ValueError as exc:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", str(exc)) from None
    root = ws.volume_root(path)
    if root is None or (file and path == root):
        raise ApiError(
            400,
            "INVALID_PARAMETER_VALUE",
            f"Invalid path {path}: expected /Volumes/<catalog>/<schema>/<volume>/<path>",
        )
    if not ws.volume_exists(root):
        raise ApiError(
            404,
            "NOT_FOUND",
            f"Volume {root[len('/Volumes/') :].replace('/', '.')} does not exist.",
            reason="FILES_API_VOLUME_NOT_FOUND",
        )
    # reads need READ VOLUME, every change WRITE VOLUME (with USE CATALOG / USE SCHEMA)
    needed: VolumeAccess = "READ_VOLUME" if req.method in ("GET", "HEAD") else "WRITE_VOLUME"
    problem = ws.volume_problem(req.principal, root, needed)
    if problem is not None:
        raise ApiError(403, "PERMISSION_DENIED", problem)
    return path, root


def _http_date(ms: int) -> str:
    return email.utils.formatdate(ms / 1000, usegmt=True)


def upload(ws: Workspace, req: Request) -> Response:
    path, root = _path(ws, req, file=True)
    overwrite = req.arg_bool("overwrite", default=True)
    assert req.upload is not None
    tree = ws.volumes
    node = tree.get(path)
    if node is not None and node.is_dir:
        raise ApiError(409, "ALREADY_EXISTS", f"The path {path} already exists as a directory.")
    if node is not None and not overwrite:
        raise ApiError(409, "ALREADY_EXISTS", f"The file {path} already exists.")
    blocker = tree.blocking_file(parent_of(path), root)
    if blocker is not None:
        raise ApiError(409, "ALREADY_EXISTS", f"The path {blocker} already exists as a file.")
    tree.mkdirs(root, ws.now_ms())
    blob_id = ws.blobs.commit(req.upload)
    size = req.upload.size
    req.upload = None
    ws.put_blob(path, blob_id, size, overwrite=True)
    return Response(status=204)


def _file(ws: Workspace, req: Request) -> tuple[str, str, int, int]:
    path, _ = _path(ws, req, file=True)
    node = ws.volumes.get(path)
    if node is None or node.is_dir or node.blob_id is None:
        raise _not_found(path)
    return path, node.blob_id, node.size, node.modified_ms


def _file_headers(size: int, modified_ms: int) -> dict[str, str]:
    return {"Content-Length": str(size), "Last-Modified": _http_date(modified_ms)}


def metadata(ws: Workspace, req: Request) -> Response:
    _, _, size, modified = _file(ws, req)
    return Response(
        status=200, headers=_file_headers(size, modified), content_type="application/octet-stream"
    )


def download(ws: Workspace, req: Request) -> Response:
    _, blob_id, size, modified = _file(ws, req)
    since = req.headers.get("If-Unmodified-Since")
    if since:
        parsed = _http_date_value(since)
        if parsed is not None and modified // 1000 > int(parsed.timestamp()):
            raise ApiError(
                412, "FAILED_PRECONDITION", "The file was modified since the given time."
            )
    start, end, partial = 0, size - 1, False
    header = req.headers.get("Range")
    if header:
        m = _RANGE.match(header.strip())
        if m is None or (not m.group(1) and not m.group(2)):
            raise ApiError(416, "INVALID_PARAMETER_VALUE", f"Invalid Range header {header!r}")
        if m.group(1):
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
        else:  # suffix range: the last N bytes
            start = max(0, size - int(m.group(2)))
        if start >= size or start > end:
            raise ApiError(
                416,
                "INVALID_PARAMETER_VALUE",
                f"Range {header!r} is not satisfiable for {size} bytes",
                headers={"Content-Range": f"bytes */{size}"},
            )
        partial = True
    stream = ws.blobs.open(blob_id)
    stream.seek(start)
    length = max(0, end - start + 1)
    headers = {"Last-Modified": _http_date(modified)}
    if partial:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(
        status=206 if partial else 200,
        stream=stream,
        length=length,
        headers=headers,
        content_type="application/octet-stream",
    )


def _http_date_value(text: str) -> datetime.datetime | None:
    """An HTTP date header, or None when it does not parse (the header is then ignored)."""
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None


def delete_file(ws: Workspace, req: Request) -> Response:
    path, _, _, _ = _file(ws, req)
    ws.delete_path(path)
    return Response(status=204)


def _directory(ws: Workspace, req: Request) -> tuple[str, bool]:
    """(path, exists as a directory)."""
    path, root = _path(ws, req, file=False)
    node = ws.volumes.get(path)
    if node is None:
        return path, path == root  # a declared or on-demand volume root is an empty directory
    return path, node.is_dir


def create_directory(ws: Workspace, req: Request) -> Response:
    path, root = _path(ws, req, file=False)
    blocker = ws.volumes.blocking_file(path, root)
    if blocker is not None:
        raise ApiError(409, "ALREADY_EXISTS", f"The path {blocker} already exists as a file.")
    if ws.volumes.get(path) is None:
        ws.volumes.mkdirs(path, ws.now_ms())
        ws.changed()
    return Response(status=204)


def directory_metadata(ws: Workspace, req: Request) -> Response:
    path, exists = _directory(ws, req)
    if not exists:
        raise _not_found(path, "FILES_API_DIRECTORY_IS_NOT_FOUND")
    return Response(status=200, body=b"")


def list_directory(ws: Workspace, req: Request) -> Response:
    path, exists = _directory(ws, req)
    if not exists:
        raise _not_found(path, "FILES_API_DIRECTORY_IS_NOT_FOUND")
    size = req.arg_int("page_size", MAX_PAGE) or MAX_PAGE
    if size < 0:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "page_size must not be negative")
    size = min(size, MAX_PAGE)
    offset = read_page_token(req.arg("page_token"), "fs")
    children = ws.volumes.list_dir(path)
    page = children[offset : offset + size]
    contents = []
    for node in page:
        entry: dict[str, object] = {
            "path": node.path,
            "name": node.name,
            "is_directory": node.is_dir,
            "last_modified": node.modified_ms,
        }
        if not node.is_dir:
            entry["file_size"] = node.size
        contents.append(entry)
    out: dict[str, object] = {"contents": contents}
    if offset + size < len(children):
        out["next_page_token"] = page_token(offset + size, "fs")
    return Response(json=out)


def delete_directory(ws: Workspace, req: Request) -> Response:
    path, root = _path(ws, req, file=False)
    node = ws.volumes.get(path)
    if node is None or not node.is_dir:
        raise _not_found(path, "FILES_API_DIRECTORY_IS_NOT_FOUND")
    if ws.volumes.children.get(path):
        raise ApiError(
            400,
            "INVALID_PARAMETER_VALUE",
            f"Directory {path} is not empty.",
            reason="FILES_API_DIRECTORY_IS_NOT_EMPTY",
        )
    if path == root:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Cannot delete the volume root {path}.")
    ws.volumes.delete(path, recursive=False)
    ws.changed()
    return Response(status=204)

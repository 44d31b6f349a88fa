"""Unity Catalog Volumes, Workspace files and DBFS behind one interface.

All three store the wheels of one artifacts folder; they differ only here. Uploads stream from
disk (a 100 MB wheel never sits in memory), never overwrite (an existing name raises
:class:`AlreadyExists`), and are atomic from a reader's point of view: Volumes and Workspace
take the file in one request; DBFS is written under a temporary name and moved into place, so an
interrupted upload never leaves a truncated wheel under the real name.
"""

from __future__ import annotations

import base64
import hashlib
import io
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from wheelship.databricks import paths
from wheelship.databricks.client import Client, quote_path
from wheelship.databricks.model import RemoteFile
from wheelship.errors import DatabricksError

CHUNK = 1 << 20
DBFS_BLOCK = 1 << 20  # the API's add-block limit (decoded bytes)
UPLOAD_TIMEOUT = (10.0, 600.0)
STREAM_ATTEMPTS = 3  # a DBFS temporary file is rewritten from the start at most this often


class AlreadyExists(Exception):
    """The file name is taken; the caller compares the bytes."""


def _seconds(ms: object) -> float | None:
    """Epoch seconds from the epoch milliseconds every listing uses."""
    return int(ms) / 1000 if isinstance(ms, int | float) and ms > 0 else None


def _missing(exc: DatabricksError) -> bool:
    return exc.status == 404 or exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}


class Storage(ABC):
    kind: str
    ui_source: str  # the "Library source" the Compute UI offers for these files

    def __init__(self, client: Client, folder: str) -> None:
        self.client = client
        self.folder = folder.rstrip("/")

    def ref(self, name: str) -> str:
        """How jobs and libraries reference the file."""
        return paths.join(self.folder, name)

    @abstractmethod
    def list(self) -> list[RemoteFile] | None:
        """Files in the folder (not recursive); None when the folder does not exist."""

    @abstractmethod
    def size(self, name: str) -> int | None:
        """The size of a file; None when it does not exist."""

    @abstractmethod
    def read(self, name: str) -> Iterator[bytes]: ...

    @abstractmethod
    def _put(self, name: str, body: Callable[[], IO[bytes] | bytes]) -> None:
        """Create the file from ``body`` (a factory, so a retry starts over); an existing name
        raises :class:`AlreadyExists`."""

    @abstractmethod
    def make_folder(self) -> None: ...

    @abstractmethod
    def delete(self, name: str) -> None:
        """Delete a file; a missing file is fine (idempotent)."""

    def upload(self, name: str, local: Path, *, create_folder: bool = False) -> None:
        if create_folder:
            self.make_folder()
        self._put(name, lambda: local.open("rb"))

    def create(self, name: str, data: bytes) -> None:
        """Create a small file atomically, never over an existing one (:class:`AlreadyExists`):
        what the deploy lock is made of."""
        self._put(name, lambda: data)

    def read_bytes(self, name: str) -> bytes | None:
        """A small file's bytes; None when it does not exist."""
        try:
            return b"".join(self.read(name))
        except DatabricksError as exc:
            if _missing(exc):
                return None
            raise

    def digest(self, name: str) -> tuple[int, str]:
        """``(size, sha256)`` of a remote file, streamed."""
        h = hashlib.sha256()
        size = 0
        for chunk in self.read(name):
            h.update(chunk)
            size += len(chunk)
        return size, h.hexdigest()


class VolumesStorage(Storage):
    kind = "volumes"
    ui_source = "Volumes"

    def _url(self, kind: str, path: str) -> str:
        return f"/api/2.0/fs/{kind}{quote_path(path)}"

    def list(self) -> list[RemoteFile] | None:
        try:
            entries = list(
                self.client.paginate(
                    self._url("directories", self.folder), {"page_size": 1000}, "contents"
                )
            )
        except DatabricksError as exc:
            if _missing(exc):
                return None
            raise
        return [
            RemoteFile(
                str(e.get("name") or paths.basename(e["path"])),
                int(e.get("file_size") or 0),
                _seconds(e.get("last_modified")),
            )
            for e in entries
            if not e.get("is_directory")
        ]

    def size(self, name: str) -> int | None:
        try:
            resp = self.client.request("HEAD", self._url("files", self.ref(name)))
        except DatabricksError as exc:
            if _missing(exc):
                return None
            raise
        return int(resp.headers.get("Content-Length") or 0)

    def read(self, name: str) -> Iterator[bytes]:
        resp = self.client.request(
            "GET",
            self._url("files", self.ref(name)),
            headers={"Accept": "application/octet-stream"},
            stream=True,
            timeout=UPLOAD_TIMEOUT,
        )
        with resp:
            yield from resp.iter_content(CHUNK)

    def make_folder(self) -> None:
        self.client.request("PUT", self._url("directories", self.folder))

    def _put(self, name: str, body: Callable[[], IO[bytes] | bytes]) -> None:
        try:
            self.client.request(
                "PUT",
                self._url("files", self.ref(name)),
                params={"overwrite": False},
                body=body,
                headers={"Content-Type": "application/octet-stream"},
                timeout=UPLOAD_TIMEOUT,
            )
        except DatabricksError as exc:
            if exc.status == 409 or exc.error_code == "ALREADY_EXISTS":
                raise AlreadyExists(name) from None
            raise

    def delete(self, name: str) -> None:
        try:
            self.client.request("DELETE", self._url("files", self.ref(name)))
        except DatabricksError as exc:
            if not _missing(exc):
                raise


class WorkspaceStorage(Storage):
    """Workspace files. References use ``/Workspace/...``; the API speaks ``/...``."""

    kind = "workspace"
    ui_source = "Workspace"

    def _api_path(self, name: str | None = None) -> str:
        full = self.ref(name) if name else self.folder
        return full[len("/Workspace") :] if full.startswith("/Workspace/") else full

    def list(self) -> list[RemoteFile] | None:
        try:
            body = self.client.get("/api/2.0/workspace/list", {"path": self._api_path()})
        except DatabricksError as exc:
            if _missing(exc):
                return None
            raise
        return [
            RemoteFile(
                paths.basename(o["path"]), int(o.get("size") or 0), _seconds(o.get("modified_at"))
            )
            for o in body.get("objects") or []
            if o.get("object_type") == "FILE"
        ]

    def size(self, name: str) -> int | None:
        try:
            body = self.client.get("/api/2.0/workspace/get-status", {"path": self._api_path(name)})
        except DatabricksError as exc:
            if _missing(exc):
                return None
            raise
        return int(body.get("size") or 0)

    def read(self, name: str) -> Iterator[bytes]:
        resp = self.client.request(
            "GET",
            "/api/2.0/workspace/export",
            params={"path": self._api_path(name), "direct_download": True},
            stream=True,
            timeout=UPLOAD_TIMEOUT,
        )
        with resp:
            yield from resp.iter_content(CHUNK)

    def make_folder(self) -> None:
        self.client.post("/api/2.0/workspace/mkdirs", {"path": self._api_path()})

    def _put(self, name: str, body: Callable[[], IO[bytes] | bytes]) -> None:
        # import-file takes raw bytes (streamed); /workspace/import would need base64 in JSON.
        target = quote_path(self._api_path(name).lstrip("/"))
        try:
            self.client.request(
                "POST",
                f"/api/2.0/workspace-files/import-file/{target}",
                params={"overwrite": False},
                body=body,
                headers={"Content-Type": "application/octet-stream"},
                timeout=UPLOAD_TIMEOUT,
            )
        except DatabricksError as exc:
            if exc.status == 409 or exc.error_code in {"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"}:
                raise AlreadyExists(name) from None
            raise

    def delete(self, name: str) -> None:
        try:
            self.client.post(
                "/api/2.0/workspace/delete", {"path": self._api_path(name), "recursive": False}
            )
        except DatabricksError as exc:
            if not _missing(exc):
                raise


class DbfsStorage(Storage):
    """Legacy DBFS (``dbfs:/...``): deprecated for libraries on DBR 15.1+, still supported."""

    kind = "dbfs"
    ui_source = "DBFS"

    def _api_path(self, name: str | None = None) -> str:
        full = self.ref(name) if name else self.folder
        return full[len("dbfs:") :] if full.startswith("dbfs:") else full

    def list(self) -> list[RemoteFile] | None:
        try:
            body = self.client.get("/api/2.0/dbfs/list", {"path": self._api_path()})
        except DatabricksError as exc:
            if _missing(exc):
                return None
            raise
        return [
            RemoteFile(
                paths.basename(f["path"]),
                int(f.get("file_size") or 0),
                _seconds(f.get("modification_time")),
            )
            for f in body.get("files") or []
            if not f.get("is_dir")
        ]

    def size(self, name: str) -> int | None:
        try:
            body = self.client.get("/api/2.0/dbfs/get-status", {"path": self._api_path(name)})
        except DatabricksError as exc:
            if _missing(exc):
                return None
            raise
        return int(body.get("file_size") or 0)

    def read(self, name: str) -> Iterator[bytes]:
        offset = 0
        while True:
            body = self.client.get(
                "/api/2.0/dbfs/read",
                {"path": self._api_path(name), "offset": offset, "length": CHUNK},
            )
            count = int(body.get("bytes_read") or 0)
            if count <= 0:
                return
            yield base64.b64decode(body.get("data") or "")
            offset += count

    def make_folder(self) -> None:
        self.client.post("/api/2.0/dbfs/mkdirs", {"path": self._api_path()})

    def _put(self, name: str, body: Callable[[], IO[bytes] | bytes]) -> None:
        temp = f".{name}.partial"
        temp_path = self._api_path(temp)
        for attempt in range(1, STREAM_ATTEMPTS + 1):
            try:
                self._write_temp(temp_path, body)
                break
            except DatabricksError as exc:
                # add-block appends: after a lost answer or a server error the block may be
                # in twice, so the temporary file is written again from the start.
                if attempt == STREAM_ATTEMPTS or (exc.status is not None and exc.status < 500):
                    raise
        try:
            self.client.post(
                "/api/2.0/dbfs/move",
                {"source_path": temp_path, "destination_path": self._api_path(name)},
            )
        except DatabricksError as exc:
            if exc.error_code in {"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"} or exc.status == 409:
                self.delete(temp)
                raise AlreadyExists(name) from None
            if _missing(exc) and self.size(name) is not None:
                # a retried move whose first attempt went through (its answer was lost): the
                # caller verifies the bytes as for any existing file
                raise AlreadyExists(name) from None
            raise

    def _write_temp(self, temp_path: str, body: Callable[[], IO[bytes] | bytes]) -> None:
        handle = self.client.post("/api/2.0/dbfs/create", {"path": temp_path, "overwrite": True})[
            "handle"
        ]
        produced = body()
        with io.BytesIO(produced) if isinstance(produced, bytes) else produced as fh:
            while block := fh.read(DBFS_BLOCK):
                self.client.post(
                    "/api/2.0/dbfs/add-block",
                    {"handle": handle, "data": base64.b64encode(block).decode()},
                    idempotent=False,
                )
        self.client.post("/api/2.0/dbfs/close", {"handle": handle})

    def delete(self, name: str) -> None:
        try:
            self.client.post(
                "/api/2.0/dbfs/delete", {"path": self._api_path(name), "recursive": False}
            )
        except DatabricksError as exc:
            if not _missing(exc):
                raise


_BY_PREFIX: dict[str, type[Storage]] = {
    "/Volumes/": VolumesStorage,
    "/Workspace/": WorkspaceStorage,
    "dbfs:/": DbfsStorage,
}


def storage_class(path: str) -> type[Storage]:
    """The storage a folder (or a file in it) lives in."""
    for prefix, cls in _BY_PREFIX.items():
        if path.startswith(prefix):
            return cls
    raise ValueError(f"not an artifacts folder: {path}")


def open_storage(client: Client, folder: str) -> Storage:
    return storage_class(folder)(client, folder)

"""File bodies on disk, written and read in chunks — never whole in memory.

A 100 MB upload must not grow the process by 100 MB (the emulator often runs inside the process
whose memory a benchmark measures), so request bodies stream into a :class:`PendingBlob` and
downloads stream out of an open file. Blob ids are random; the state maps paths to ids.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

CHUNK = 1024 * 1024


#: What :class:`PendingBlob` names a blob: a uuid4 in hex.
BLOB_ID = re.compile(r"[0-9a-f]{32}")


class PendingBlob:
    """A blob being written; :meth:`BlobStore.commit` makes it permanent, :meth:`discard` drops it."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self.blob_id = uuid.uuid4().hex
        self.path = store.root / f"tmp-{self.blob_id}"
        self._fh: IO[bytes] | None = open(self.path, "wb")  # noqa: SIM115 - closed in finish()
        self.size = 0

    def write(self, data: bytes) -> None:
        assert self._fh is not None
        self._fh.write(data)
        self.size += len(data)

    def finish(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def discard(self) -> None:
        self.finish()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def open(self) -> IO[bytes]:
        self.finish()
        return open(self.path, "rb")


class BlobStore:
    def __init__(self, root: Path | None = None, *, owner: bool = True) -> None:
        """``owner=False`` opens another process's store for reading (invariant checks next to a
        running server) and touches nothing in it."""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="wheelship-emulator-blobs-")
            root = Path(self._tmp.name)
        self.root = root
        if owner:
            root.mkdir(parents=True, exist_ok=True)
            for stale in root.glob("tmp-*"):  # uploads cut off by a previous stop
                stale.unlink()

    def new(self) -> PendingBlob:
        return PendingBlob(self)

    def path(self, blob_id: str) -> Path:
        """The file of ``blob_id``. Ids come from a state file too, which can be edited: an id
        that is not one this store made (``../..``, an absolute path) is refused, so it can
        neither read nor unlink a file outside the store."""
        # one name inside the store (what ids() lists); state files must name BLOB_IDs
        if not blob_id or "/" in blob_id or "\0" in blob_id or blob_id in (".", ".."):
            raise ValueError(f"invalid blob id {blob_id[:40]!r}")
        return self.root / blob_id

    def commit(self, pending: PendingBlob) -> str:
        pending.finish()
        os.replace(pending.path, self.path(pending.blob_id))
        return pending.blob_id

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        pending = self.new()
        pending.write(data)
        return self.commit(pending), pending.size

    def put_chunks(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        pending = self.new()
        try:
            for chunk in chunks:
                pending.write(chunk)
        except BaseException:
            pending.discard()
            raise
        return self.commit(pending), pending.size

    def put_file(self, source: Path) -> tuple[str, int]:
        pending = self.new()
        pending.finish()
        shutil.copyfile(source, pending.path)
        pending.size = pending.path.stat().st_size
        return self.commit(pending), pending.size

    @contextlib.contextmanager
    def owning(self, blob_id: str) -> Iterator[None]:
        """Delete ``blob_id`` when the block raises: a blob no file points at is never freed."""
        try:
            yield
        except BaseException:
            self.delete(blob_id)
            raise

    def open(self, blob_id: str) -> IO[bytes]:
        return open(self.path(blob_id), "rb")

    def read(self, blob_id: str, offset: int = 0, length: int | None = None) -> bytes:
        """Small reads only (DBFS read ≤ 1 MB, workspace export ≤ 10 MB, test assertions)."""
        with self.open(blob_id) as fh:
            fh.seek(offset)
            return fh.read() if length is None else fh.read(length)

    def chunks(self, blob_id: str) -> Iterator[bytes]:
        with self.open(blob_id) as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def sha256(self, blob_id: str) -> str:
        digest = hashlib.sha256()
        for chunk in self.chunks(blob_id):
            digest.update(chunk)
        return digest.hexdigest()

    def copy(self, blob_id: str) -> str:
        new_id, _ = self.put_chunks(self.chunks(blob_id))
        return new_id

    def delete(self, blob_id: str) -> None:
        # an open download keeps its file descriptor: POSIX unlink is safe mid-stream
        with contextlib.suppress(FileNotFoundError):
            self.path(blob_id).unlink()

    def ids(self) -> set[str]:
        return {p.name for p in self.root.iterdir() if not p.name.startswith("tmp-")}

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

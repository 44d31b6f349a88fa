"""A streaming ``multipart/form-data`` parser.

Text fields are kept in memory (capped); file parts stream straight into pending blobs, so a
large DBFS ``put`` never sits in memory. (``cgi`` is deprecated and ``email`` parses whole
messages in memory.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from wheelship.emulator.blobs import BlobStore, PendingBlob

_READ = 256 * 1024
_MAX_HEADER = 16 * 1024
_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


class MultipartError(ValueError):
    pass


@dataclass
class MultipartForm:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, PendingBlob] = field(default_factory=dict)
    filenames: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        for blob in self.files.values():
            blob.discard()


def boundary_of(content_type: str) -> str | None:
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    for key, value in _PARAM.findall(content_type):
        if key.lower() == "boundary":
            return str(value).strip('"')
    return None


def _disposition(headers: dict[str, str]) -> tuple[str, str | None]:
    value = headers.get("content-disposition", "")
    params = {k.lower(): v.strip().strip('"') for k, v in _PARAM.findall(value)}
    if "name" not in params:
        raise MultipartError("a part has no name in its Content-Disposition header")
    return params["name"], params.get("filename")


def parse(
    read: Callable[[int], bytes],
    boundary: str,
    store: BlobStore,
    *,
    file_fields: frozenset[str] = frozenset(),
    field_limit: int = 1024 * 1024,
) -> MultipartForm:
    form = MultipartForm()
    try:
        _parse(read, boundary.encode("latin-1"), store, form, file_fields, field_limit)
    except BaseException:
        form.discard()
        raise
    return form


def _parse(
    read: Callable[[int], bytes],
    boundary: bytes,
    store: BlobStore,
    form: MultipartForm,
    file_fields: frozenset[str],
    field_limit: int,
) -> None:
    first = b"--" + boundary
    sep = b"\r\n--" + boundary
    buf = b""
    eof = False

    def fill(need: int) -> bool:
        nonlocal buf, eof
        while len(buf) < need and not eof:
            chunk = read(_READ)
            if not chunk:
                eof = True
                break
            buf += chunk
        return len(buf) >= need

    # preamble up to the first boundary
    while True:
        idx = buf.find(first)
        if idx >= 0:
            buf = buf[idx + len(first) :]
            break
        if eof:
            raise MultipartError("no multipart boundary found in the body")
        buf = buf[-len(first) :]
        fill(len(buf) + _READ)
    while True:
        if not fill(2):
            raise MultipartError("the body ends inside a boundary line")
        if buf[:2] == b"--":
            return  # closing boundary; ignore the epilogue
        if buf[:2] != b"\r\n":
            raise MultipartError("malformed boundary line")
        buf = buf[2:]
        while (end := buf.find(b"\r\n\r\n")) < 0:
            if len(buf) > _MAX_HEADER:
                raise MultipartError("part headers are too long")
            if not fill(len(buf) + 1):
                raise MultipartError("the body ends inside part headers")
        headers: dict[str, str] = {}
        for line in buf[:end].decode("latin-1").split("\r\n"):
            if ":" in line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
        buf = buf[end + 4 :]
        name, filename = _disposition(headers)
        as_file = filename is not None or name in file_fields
        blob = store.new() if as_file else None
        text = bytearray()
        while True:
            idx = buf.find(sep)
            if idx >= 0:
                data, buf = buf[:idx], buf[idx + len(sep) :]
            else:
                keep = len(sep) - 1
                data, buf = (buf[:-keep], buf[-keep:]) if len(buf) > keep else (b"", buf)
            if blob is not None:
                blob.write(data)
            else:
                text += data
                if len(text) > field_limit:
                    raise MultipartError(f"form field {name!r} is larger than {field_limit} bytes")
            if idx >= 0:
                break
            if not fill(len(buf) + 1):
                if blob is not None:
                    blob.discard()
                raise MultipartError("the body ends inside a part")
        if blob is not None:
            blob.finish()
            old = form.files.pop(name, None)
            if old is not None:
                old.discard()
            form.files[name] = blob
            form.filenames[name] = filename or ""
        else:
            form.fields[name] = text.decode("utf-8", errors="replace")

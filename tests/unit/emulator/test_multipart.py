from __future__ import annotations

import io

import pytest

from wheelship.emulator import multipart
from wheelship.emulator.blobs import BlobStore


def body(boundary: str, parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b"preamble\r\n"
    for name, filename, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\nepilogue".encode()


@pytest.mark.parametrize("read_size", [1, 7, 64, 1 << 20])
def test_fields_and_streamed_files(read_size: int) -> None:
    payload = b"\r\n--almost-boundary\r\n" + bytes(range(256)) * 50
    data = body(
        "b0undary",
        [("path", None, b"/Shared/x"), ("content", "x.whl", payload), ("overwrite", None, b"true")],
    )
    stream = io.BytesIO(data)
    store = BlobStore()
    try:
        form = multipart.parse(lambda n: stream.read(min(n, read_size)), "b0undary", store)
        assert form.fields == {"path": "/Shared/x", "overwrite": "true"}
        assert form.filenames == {"content": "x.whl"}
        with form.files["content"].open() as fh:
            assert fh.read() == payload
        form.discard()
    finally:
        store.close()


def test_boundary_of() -> None:
    assert multipart.boundary_of('multipart/form-data; boundary="abc def"') == "abc def"
    assert multipart.boundary_of("multipart/form-data; charset=utf-8; boundary=xyz") == "xyz"
    assert multipart.boundary_of("application/json") is None


@pytest.mark.parametrize(
    "data",
    [
        b"no boundary here",
        b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\nunterminated',
        b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--",
        b"--bXX",
    ],
)
def test_malformed_bodies(data: bytes) -> None:
    stream = io.BytesIO(data)
    store = BlobStore()
    try:
        with pytest.raises(multipart.MultipartError):
            multipart.parse(stream.read, "b", store)
        assert store.ids() == set()
        assert not any(store.root.iterdir())
    finally:
        store.close()


def test_field_size_limit() -> None:
    stream = io.BytesIO(body("b", [("path", None, b"x" * 100)]))
    store = BlobStore()
    try:
        with pytest.raises(multipart.MultipartError, match="larger than"):
            multipart.parse(stream.read, "b", store, field_limit=10)
    finally:
        store.close()

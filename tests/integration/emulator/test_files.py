"""Files API (volumes) on the wire."""

from __future__ import annotations

import email.utils

from support.emulator_api import Api, error_of
from wheelship.emulator import Emulator

F = "/api/2.0/fs/files"
D = "/api/2.0/fs/directories"
VOL = "/Volumes/main/ops/artifacts"


def test_upload_download_head_delete(api: Api, emulator: Emulator) -> None:
    assert (
        api.put(f"{F}{VOL}/pkg-1.0.0-py3-none-any.whl?overwrite=true", b"PK\x03\x04").status_code
        == 204
    )
    head = api.head(f"{F}{VOL}/pkg-1.0.0-py3-none-any.whl")
    assert head.status_code == 200
    assert head.headers["Content-Length"] == "4"
    assert head.headers["Content-Type"] == "application/octet-stream"
    assert email.utils.parsedate_to_datetime(head.headers["Last-Modified"])
    got = api.get(f"{F}{VOL}/pkg-1.0.0-py3-none-any.whl")
    assert got.content == b"PK\x03\x04"
    assert api.delete(f"{F}{VOL}/pkg-1.0.0-py3-none-any.whl").status_code == 204
    assert error_of(api.get(f"{F}{VOL}/pkg-1.0.0-py3-none-any.whl"))[:2] == (404, "NOT_FOUND")
    assert api.head(f"{F}{VOL}/pkg-1.0.0-py3-none-any.whl").status_code == 404
    assert error_of(api.delete(f"{F}{VOL}/pkg-1.0.0-py3-none-any.whl"))[:2] == (404, "NOT_FOUND")


def test_percent_encoded_paths_are_decoded(api: Api, emulator: Emulator) -> None:
    assert api.put(f"{F}{VOL}/my%20dir/a%2Bb.whl", b"x").status_code == 204
    assert emulator.files(VOL) == {f"{VOL}/my dir/a+b.whl": 1}


def test_overwrite_false_on_existing_file_is_409(api: Api, emulator: Emulator) -> None:
    api.put(f"{F}{VOL}/a.whl", b"one")
    status, code, _ = error_of(api.put(f"{F}{VOL}/a.whl?overwrite=false", b"two"))
    assert (status, code) == (409, "ALREADY_EXISTS")
    assert emulator.read_file(f"{VOL}/a.whl") == b"one"
    # overwrite defaults to true
    assert api.put(f"{F}{VOL}/a.whl", b"three").status_code == 204
    assert emulator.read_file(f"{VOL}/a.whl") == b"three"


def test_range_and_if_unmodified_since(api: Api) -> None:
    api.put(f"{F}{VOL}/r.bin", bytes(range(100)))
    part = api.session.get(api.url(f"{F}{VOL}/r.bin"), headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == bytes(range(10, 20))
    assert part.headers["Content-Range"] == "bytes 10-19/100"
    tail = api.session.get(api.url(f"{F}{VOL}/r.bin"), headers={"Range": "bytes=-5"})
    assert tail.content == bytes(range(95, 100))
    assert (
        api.session.get(api.url(f"{F}{VOL}/r.bin"), headers={"Range": "bytes=500-"}).status_code
        == 416
    )
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    stale = api.session.get(api.url(f"{F}{VOL}/r.bin"), headers={"If-Unmodified-Since": old})
    assert stale.status_code == 412


def test_directories_create_list_page_delete(api: Api) -> None:
    assert api.put(f"{D}{VOL}/a/b/c").status_code == 204  # mkdir -p
    assert api.put(f"{D}{VOL}/a/b/c").status_code == 204  # idempotent
    assert api.head(f"{D}{VOL}/a/b").status_code == 200
    for i in range(5):
        api.put(f"{F}{VOL}/a/f{i}.txt", b"x" * i)
    first = api.get(f"{D}{VOL}/a", page_size=3).json()
    assert [e["name"] for e in first["contents"]] == ["b", "f0.txt", "f1.txt"]
    assert first["contents"][0] == {
        "path": f"{VOL}/a/b",
        "name": "b",
        "is_directory": True,
        "last_modified": first["contents"][0]["last_modified"],
    }
    second = api.get(f"{D}{VOL}/a", page_size=3, page_token=first["next_page_token"]).json()
    assert [e["name"] for e in second["contents"]] == ["f2.txt", "f3.txt", "f4.txt"]
    assert "next_page_token" not in second
    assert second["contents"][0]["file_size"] == 2
    status, code, _ = error_of(api.delete(f"{D}{VOL}/a/b"))
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE")
    body = api.delete(f"{D}{VOL}/a/b").json()
    assert body["details"][0]["reason"] == "FILES_API_DIRECTORY_IS_NOT_EMPTY"
    assert api.delete(f"{D}{VOL}/a/b/c").status_code == 204
    missing = api.delete(f"{D}{VOL}/a/b/c").json()
    assert missing["error_code"] == "NOT_FOUND"
    assert missing["details"][0]["reason"] == "FILES_API_DIRECTORY_IS_NOT_FOUND"


def test_file_and_directory_conflicts(api: Api) -> None:
    api.put(f"{F}{VOL}/thing", b"file")
    assert error_of(api.put(f"{D}{VOL}/thing"))[:2] == (409, "ALREADY_EXISTS")
    assert error_of(api.put(f"{F}{VOL}/thing/inner.txt", b"x"))[:2] == (409, "ALREADY_EXISTS")
    api.put(f"{D}{VOL}/dir")
    assert error_of(api.put(f"{F}{VOL}/dir", b"x"))[:2] == (409, "ALREADY_EXISTS")
    assert error_of(api.get(f"{F}{VOL}/dir"))[:2] == (404, "NOT_FOUND")
    assert error_of(api.get(f"{D}{VOL}/thing"))[:2] == (404, "NOT_FOUND")


def test_paths_outside_a_volume_are_rejected(api: Api) -> None:
    assert error_of(api.put(f"{F}/Volumes/main/ops", b"x"))[:2] == (400, "INVALID_PARAMETER_VALUE")
    assert error_of(api.put(f"{F}/tmp/x.whl", b"x"))[:2] == (400, "INVALID_PARAMETER_VALUE")
    assert error_of(api.put(f"{F}{VOL}", b"x"))[:2] == (400, "INVALID_PARAMETER_VALUE")


def test_declared_volumes_are_the_only_ones(emulator_factory, make_api) -> None:  # type: ignore[no-untyped-def]
    emu = emulator_factory({"volumes": [VOL, "main.ops.other"]})
    api = make_api(emu, emu.token)
    assert api.put(f"{F}{VOL}/x.whl", b"x").status_code == 204
    assert api.put(f"{F}/Volumes/main/ops/other/x.whl", b"x").status_code == 204
    status, code, message = error_of(api.put(f"{F}/Volumes/main/ops/typo/x.whl", b"x"))
    assert (status, code, message) == (404, "NOT_FOUND", "Volume main.ops.typo does not exist.")
    assert [e["path"] for e in api.get(f"{D}/Volumes/main/ops/other").json()["contents"]] == [
        "/Volumes/main/ops/other/x.whl"
    ]
    assert api.put(f"{D}/Volumes/main/ops/empty").status_code == 404

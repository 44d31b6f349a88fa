"""Workspace API on the wire: import (JSON, multipart), import-file, status, list, export."""

from __future__ import annotations

import base64

from support.emulator_api import Api, error_of
from wheelship.emulator import Emulator

W = "/api/2.0/workspace"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_json_import_of_a_wheel_is_a_file(api: Api, emulator: Emulator) -> None:
    body = {"path": "/Shared/pkg-1.0-py3-none-any.whl", "content": _b64(b"PK"), "format": "AUTO"}
    assert api.post(f"{W}/import", body).json() == {}
    info = api.get(f"{W}/get-status", path="/Shared/pkg-1.0-py3-none-any.whl").json()
    assert info["object_type"] == "FILE"
    assert info["size"] == 2
    assert info["path"] == "/Shared/pkg-1.0-py3-none-any.whl"
    assert isinstance(info["object_id"], int)
    # the /Workspace prefix names the same object
    same = api.get(f"{W}/get-status", path="/Workspace/Shared/pkg-1.0-py3-none-any.whl").json()
    assert same == info
    assert emulator.read_file("/Workspace/Shared/pkg-1.0-py3-none-any.whl") == b"PK"


def test_import_refuses_existing_without_overwrite_and_missing_parent(api: Api) -> None:
    body = {"path": "/Shared/a.whl", "content": _b64(b"1"), "format": "AUTO"}
    api.post(f"{W}/import", body)
    assert error_of(api.post(f"{W}/import", body)) == (
        400,
        "RESOURCE_ALREADY_EXISTS",
        "Path (/Shared/a.whl) already exists.",
    )
    assert api.post(f"{W}/import", {**body, "overwrite": True}).status_code == 200
    missing = {"path": "/Shared/nope/a.whl", "content": _b64(b"1"), "format": "AUTO"}
    assert error_of(api.post(f"{W}/import", missing)) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "The parent folder (/Shared/nope) does not exist.",
    )


def test_import_size_limit(api: Api) -> None:
    big = {
        "path": "/Shared/big.bin",
        "content": _b64(b"x" * (10 * 1024 * 1024 + 1)),
        "format": "RAW",
    }
    status, code, _ = error_of(api.post(f"{W}/import", big))
    assert (status, code) == (400, "MAX_NOTEBOOK_SIZE_EXCEEDED")


def test_multipart_import_and_notebook_detection(api: Api) -> None:
    files = {"content": ("nb.py", b"# Databricks notebook source\nprint(1)\n")}
    data = {"path": "/Shared/nb.py", "format": "AUTO", "overwrite": "true"}
    assert api.post(f"{W}/import", files=files, data=data).status_code == 200
    info = api.get(f"{W}/get-status", path="/Shared/nb").json()
    assert (info["object_type"], info["language"]) == ("NOTEBOOK", "PYTHON")
    source = {"path": "/Shared/src", "content": _b64(b"x = 1"), "format": "SOURCE"}
    assert error_of(api.post(f"{W}/import", source))[:2] == (400, "INVALID_PARAMETER_VALUE")


def test_import_file_endpoint(api: Api, emulator: Emulator) -> None:
    url = "/api/2.0/workspace-files/import-file/Shared/lib%20dir/x.whl"
    assert error_of(api.post(url, data=b"raw"))[:2] == (404, "RESOURCE_DOES_NOT_EXIST")
    api.post(f"{W}/mkdirs", {"path": "/Shared/lib dir"})
    assert api.post(url, data=b"raw").status_code == 200
    assert error_of(api.post(url, data=b"again"))[:2] == (409, "RESOURCE_ALREADY_EXISTS")
    assert api.post(url + "?overwrite=true", data=b"again").status_code == 200
    assert emulator.read_file("/Workspace/Shared/lib dir/x.whl") == b"again"


def test_mkdirs_list_delete_export(api: Api) -> None:
    assert api.post(f"{W}/mkdirs", {"path": "/Shared/a/b"}).json() == {}
    api.post(f"{W}/import", {"path": "/Shared/a/f.txt", "content": _b64(b"text"), "format": "AUTO"})
    objects = api.get(f"{W}/list", path="/Shared/a").json()["objects"]
    assert [(o["path"], o["object_type"]) for o in objects] == [
        ("/Shared/a/b", "DIRECTORY"),
        ("/Shared/a/f.txt", "FILE"),
    ]
    assert api.get(f"{W}/list", path="/Shared/a/b").json() == {}
    assert api.get(f"{W}/list", path="/Shared/a/f.txt").json()["objects"][0]["size"] == 4
    exported = api.get(f"{W}/export", path="/Shared/a/f.txt").json()
    assert base64.b64decode(exported["content"]) == b"text"
    raw = api.get(f"{W}/export", path="/Shared/a/f.txt", direct_download="true")
    assert raw.content == b"text"
    assert error_of(api.post(f"{W}/mkdirs", {"path": "/Shared/a/f.txt/x"}))[:2] == (
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    assert error_of(api.post(f"{W}/delete", {"path": "/Shared/a"}))[:2] == (
        400,
        "DIRECTORY_NOT_EMPTY",
    )
    assert api.post(f"{W}/delete", {"path": "/Shared/a", "recursive": True}).json() == {}
    assert error_of(api.get(f"{W}/get-status", path="/Shared/a")) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "Path (/Shared/a) doesn't exist.",
    )
    assert error_of(api.post(f"{W}/delete", {"path": "/Shared/a"}))[:2] == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )

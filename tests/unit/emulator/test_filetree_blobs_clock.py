from __future__ import annotations

import hashlib
import itertools

import pytest

from wheelship.emulator.blobs import BlobStore
from wheelship.emulator.clock import SimClock
from wheelship.emulator.filetree import FileTree, NotEmptyError, normalize


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("/a//b/./c/", "/a/b/c"), ("/", "/"), ("/Volumes/x", "/Volumes/x")],
)
def test_normalize(raw: str, clean: str) -> None:
    assert normalize(raw) == clean


@pytest.mark.parametrize("raw", ["relative/path", "", "/a/../b", "/a\x00b"])
def test_normalize_refuses(raw: str) -> None:
    with pytest.raises(ValueError, match="must"):
        normalize(raw)


def tree() -> FileTree:
    t = FileTree(itertools.count(1))
    t.mkdirs("/", 0)
    return t


def test_tree_files_and_directories() -> None:
    t = tree()
    assert t.put_file("/a/b/f", "blob1", 3, 10, overwrite=False, create_parents=True) is None
    assert [n.path for n in t.list_dir("/a")] == ["/a/b"]
    assert t.put_file("/a/b/f", "blob2", 4, 11, overwrite=True, create_parents=False) == "blob1"
    with pytest.raises(FileExistsError):
        t.put_file("/a/b/f", "blob3", 1, 12, overwrite=False, create_parents=False)
    with pytest.raises(FileNotFoundError):
        t.put_file("/x/y", "blob3", 1, 12, overwrite=False, create_parents=False)
    with pytest.raises(NotADirectoryError):
        t.put_file("/a/b/f/g", "blob3", 1, 12, overwrite=False, create_parents=True)
    with pytest.raises(IsADirectoryError):
        t.put_file("/a/b", "blob3", 1, 12, overwrite=True, create_parents=False)
    with pytest.raises(NotADirectoryError):
        t.mkdirs("/a/b/f/sub", 0)
    with pytest.raises(NotEmptyError):
        t.delete("/a", recursive=False)
    assert t.delete("/a", recursive=True) == ["blob2"]
    assert [n.path for n in t.walk_files()] == []
    with pytest.raises(FileNotFoundError):
        t.delete("/a", recursive=True)


def test_tree_json_round_trip() -> None:
    t = tree()
    t.put_file("/d/f", "b", 1, 5, overwrite=False, create_parents=True)
    copy = FileTree(itertools.count(100))
    copy.load_json(t.to_json())
    assert [n.path for n in copy.walk_files()] == ["/d/f"]
    assert [n.path for n in copy.list_dir("/")] == ["/d"]


def test_blob_store_streams_and_cleans_up() -> None:
    store = BlobStore()
    try:
        pending = store.new()
        for _ in range(3):
            pending.write(b"abc")
        blob = store.commit(pending)
        assert store.read(blob) == b"abcabcabc"
        assert store.read(blob, 3, 2) == b"ab"
        assert b"".join(store.chunks(blob)) == b"abcabcabc"
        assert store.sha256(blob) == hashlib.sha256(b"abcabcabc").hexdigest()
        copy = store.copy(blob)
        store.delete(blob)
        assert store.ids() == {copy}
        dropped = store.new()
        dropped.write(b"x")
        dropped.discard()
        assert store.ids() == {copy}
        root = store.root
    finally:
        store.close()
    assert not root.exists()


def test_clock_speed_freeze_and_advance() -> None:
    clock = SimClock(speed=0, start=1000.0)
    assert clock.now() == 1000.0
    clock.advance(5)
    assert clock.now() == 1005.0 and clock.now_ms() == 1_005_000
    clock.set_now(900.0)  # never backwards
    assert clock.now() == 1005.0
    clock.set_now(2000.0)
    assert clock.now() == 2000.0
    clock.speed = 1000
    assert clock.now() >= 2000.0
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match=">= 0"):
        clock.speed = -2

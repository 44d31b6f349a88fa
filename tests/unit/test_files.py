"""Output files are written whole, and an unwritable path is one error with nothing left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelship.errors import ConfigurationError
from wheelship.files import write_atomic


def test_writes_text_and_bytes_whole(tmp_path: Path) -> None:
    assert write_atomic(tmp_path / "a.txt", "über\n").read_text(encoding="utf-8") == "über\n"
    write_atomic(tmp_path / "a.txt", b"\x00\x01")
    assert (tmp_path / "a.txt").read_bytes() == b"\x00\x01"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


@pytest.mark.parametrize(
    ("target", "line"),
    [
        (".", "cannot write the file .: it is a directory — choose another path"),
        ("sub", "cannot write the file sub: it is a directory — choose another path"),
        (
            "missing/x.env",
            "cannot write the file missing/x.env: directory {tmp}/missing does not exist — "
            "create it or choose another path",
        ),
        (
            "blocker/x.env",
            "cannot write the file blocker/x.env: directory {tmp}/blocker does not exist — "
            "create it or choose another path",
        ),
    ],
)
def test_unwritable_paths_are_one_error_and_leave_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, line: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "blocker").write_text("a file\n")
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(ConfigurationError) as err:
        write_atomic(Path(target), "x", what="the file ")
    assert str(err.value) == line.format(tmp=tmp_path)
    assert sorted(tmp_path.rglob("*")) == before


def test_make_parents_creates_directories_but_not_through_a_file(tmp_path: Path) -> None:
    write_atomic(tmp_path / "a" / "b" / "r.json", "[]\n", make_parents=True)
    assert (tmp_path / "a" / "b" / "r.json").read_text() == "[]\n"
    (tmp_path / "blocker").write_text("")
    with pytest.raises(ConfigurationError, match=r"^cannot write .*/blocker/r\.json: "):
        write_atomic(tmp_path / "blocker" / "r.json", "[]\n", make_parents=True)

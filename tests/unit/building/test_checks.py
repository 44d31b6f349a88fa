"""The in-process ``twine check --strict`` equivalent agrees with twine itself."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from wheelship.building.checks import check_file, twine_check, wheel_stem_name
from wheelship.building.reproducible import normalize_wheel
from wheelship.errors import BuildError

GOOD_MD = "Metadata-Version: 2.4\nName: demo-pkg\nVersion: 1.0.0\n"
CASES = {
    "markdown": (GOOD_MD + "Description-Content-Type: text/markdown\n\n# Hi\n\n[broken](\n", None),
    "rst": (GOOD_MD + "Description-Content-Type: text/x-rst\n\nTitle\n=====\n\nText.\n", None),
    "plain": (GOOD_MD + "Description-Content-Type: text/plain\n\nanything\n", None),
    "no_description": (GOOD_MD, "long_description missing"),
    "no_content_type": (GOOD_MD + "\nSome text.\n", "long_description_content_type missing"),
    "bad_rst": (
        GOOD_MD + "Description-Content-Type: text/x-rst\n\nTitle\n===\n\n.. nope:: x\n",
        "long_description has syntax errors in markup",
    ),
}


def make_wheel(
    tmp_path: Path, metadata: str, name: str = "demo_pkg-1.0.0-py3-none-any.whl"
) -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("demo_pkg/__init__.py", "")
        zf.writestr("demo_pkg-1.0.0.dist-info/METADATA", metadata)
        zf.writestr(
            "demo_pkg-1.0.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        zf.writestr("demo_pkg-1.0.0.dist-info/RECORD", "")
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_verdict_matches_twine_check_strict(tmp_path: Path, case: str) -> None:
    metadata, problem = CASES[case]
    wheel = make_wheel(tmp_path, metadata)
    twine = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel)],
        capture_output=True,
        text=True,
    )
    if problem is None:
        twine_check(wheel)
        assert twine.returncode == 0, twine.stdout + twine.stderr
    else:
        with pytest.raises(BuildError, match=problem):
            twine_check(wheel)
        assert twine.returncode != 0


def test_invalid_metadata_field_is_refused(tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path,
        GOOD_MD
        + "Requires-Dist: not a requirement ((\nDescription-Content-Type: text/plain\n\nx\n",
    )
    with pytest.raises(BuildError, match="invalid requires-dist"):
        twine_check(wheel)


def test_file_name_and_version_must_match(tmp_path: Path) -> None:
    ok = GOOD_MD + "Description-Content-Type: text/plain\n\nx\n"
    check_file(make_wheel(tmp_path, ok), "demo-pkg", "1.0.0")
    with pytest.raises(
        BuildError, match=r"built version 1\.0\.0 \(file name\) but wheelship derived 1\.0\.1"
    ):
        check_file(make_wheel(tmp_path, ok), "demo-pkg", "1.0.1")
    with pytest.raises(BuildError, match="is named for 'demo-pkg', not 'other'"):
        check_file(make_wheel(tmp_path, ok), "other", "1.0.0")
    with pytest.raises(BuildError, match="does not follow the file naming convention"):
        check_file(make_wheel(tmp_path, ok, "demo_pkg-1.0.0.whl"), "demo-pkg", "1.0.0")
    with pytest.raises(BuildError, match="the distribution part should be 'demo_pkg'"):
        check_file(make_wheel(tmp_path, ok, "Demo.Pkg-1.0.0-py3-none-any.whl"), "demo-pkg", "1.0.0")


def test_wheel_stem_names() -> None:
    assert wheel_stem_name("My.Pkg--x") == "my_pkg_x"


def test_normalize_wheel_is_idempotent_and_keeps_contents(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, GOOD_MD)
    normalize_wheel(wheel, 1_700_000_000)
    first = wheel.read_bytes()
    normalize_wheel(wheel, 1_700_000_000)
    assert wheel.read_bytes() == first
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("demo_pkg-1.0.0.dist-info/METADATA").decode() == GOOD_MD
        assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}


def test_normalize_wheel_fixes_modes_and_keeps_the_executable_bit(tmp_path: Path) -> None:
    path = tmp_path / "x-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, mode in (("x/run.sh", 0o700), ("x/data.txt", 0o600)):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, "content")
    normalize_wheel(path, 1_700_000_000)
    with zipfile.ZipFile(path) as zf:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
    assert modes == {"x/run.sh": 0o755, "x/data.txt": 0o644}
    before = path.stat().st_mtime_ns
    normalize_wheel(path, 1_700_000_000)  # already normal: left alone, not rewritten
    assert path.stat().st_mtime_ns == before

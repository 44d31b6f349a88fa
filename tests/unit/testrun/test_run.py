"""``wheelship test``: which wheel, which packages, which commands, and its error lines."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from wheelship import cli
from wheelship.building.manifest import DistFile, Manifest
from wheelship.testrun.run import TestSettings, pytest_command, requirement, top_level_packages


def make_wheel(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(name, "")
    return path


def test_top_level_packages_are_the_wheels_packages_and_modules(tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path / "tsff-1.0.0-py3-none-any.whl",
        [
            "tsff/__init__.py",
            "tsff/models/arima.py",
            "tsff_cli.py",
            "tsff-1.0.0.dist-info/METADATA",
            "tsff-1.0.0.data/scripts/x",
            "README.txt",
        ],
    )
    assert top_level_packages(wheel) == ["tsff", "tsff_cli"]


def test_requirement_is_a_direct_reference_with_extras(tmp_path: Path) -> None:
    wheel = tmp_path / "My_Pkg-1.0-py3-none-any.whl"
    manifest = Manifest("My_Pkg", "1.0")
    assert requirement(manifest, wheel, ("test", "plots")) == (
        f"my-pkg[test,plots] @ file://{tmp_path}/My_Pkg-1.0-py3-none-any.whl"
    )
    assert requirement(manifest, wheel, ()).startswith("my-pkg @ file://")


def test_pytest_writes_junit_and_cobertura_for_each_package(tmp_path: Path) -> None:
    settings = TestSettings(
        project=tmp_path,
        junit=tmp_path / "junit.xml",
        coverage=tmp_path / "cov.xml",
        pytest_args=("-x", "tests/unit"),
        python="py",
    )
    assert pytest_command(settings, ["a", "b"]) == [
        "py",
        "-m",
        "pytest",
        f"--junitxml={tmp_path}/junit.xml",
        "--cov=a",
        "--cov=b",
        "--cov-report=term",
        f"--cov-report=xml:{tmp_path}/cov.xml",
        "-x",
        "tests/unit",
    ]
    no_reports = TestSettings(project=tmp_path, junit=None, coverage=None, python="py")
    assert pytest_command(no_reports, ["a"]) == ["py", "-m", "pytest"]


def test_without_a_build_it_says_to_build_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WHEELSHIP_DIST", raising=False)
    assert cli.main(["test", "--project", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: no build manifest at {tmp_path}/dist/wheelship-manifest.json — run "
        "'wheelship build' first, or pass the dist directory it wrote (--dist)\n"
    )


def test_a_wheel_changed_since_the_build_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    wheel = make_wheel(dist / "tsff-1.0.0-py3-none-any.whl", ["tsff/__init__.py"])
    Manifest("tsff", "1.0.0", files=(DistFile.of(wheel),)).write(dist)
    make_wheel(wheel, ["tsff/__init__.py", "tsff/extra.py"])
    assert cli.main(["test", "--project", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {wheel} changed since it was built (sha256 differs from the manifest) — "
        "rebuild with 'wheelship build'\n"
    )


def test_a_missing_project_directory_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["test", "--project", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == (
        f"error: project directory {tmp_path}/nope does not exist — pass --project DIR of a Python project\n"
    )

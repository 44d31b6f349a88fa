from __future__ import annotations

from pathlib import Path

import pytest

from support.projects import FIXTURES
from wheelship import dotenv
from wheelship.building.project import VersionSource, read_project, rewrite_static_version
from wheelship.building.version import Release, ci_dev_version
from wheelship.errors import ConfigurationError


@pytest.mark.parametrize(
    ("fixture", "name", "backend", "source", "pretend"),
    [
        (
            "setuptools_scm",
            "scm-pkg",
            "setuptools.build_meta",
            VersionSource.SCM,
            "SETUPTOOLS_SCM_PRETEND_VERSION_FOR_SCM_PKG",
        ),
        ("hatch_vcs", "hatch-pkg", "hatchling.build", VersionSource.SCM, None),
        ("flit_static", "flitpkg", "flit_core.buildapi", VersionSource.STATIC, None),
        ("poetry_static", "poetry-pkg", "poetry.core.masonry.api", VersionSource.STATIC, None),
    ],
)
def test_fixture_projects_are_read_statically(
    fixture: str, name: str, backend: str, source: VersionSource, pretend: str | None
) -> None:
    project = read_project(FIXTURES / fixture)
    assert (project.name, project.backend, project.version_source) == (name, backend, source)
    if pretend:
        assert project.pretend_env == pretend
    if source is VersionSource.STATIC:
        assert project.static_version is not None
        assert project.static_version.value == "1.2.3"


def test_project_without_configuration() -> None:
    with pytest.raises(
        ConfigurationError, match=r"has no pyproject\.toml, setup\.cfg or setup\.py"
    ):
        read_project(FIXTURES / "no_config")


def test_broken_toml_names_the_file() -> None:
    with pytest.raises(ConfigurationError, match=r"pyproject\.toml: invalid TOML"):
        read_project(FIXTURES / "broken_pyproject")


def _write(tmp_path: Path, text: str, name: str = "pyproject.toml") -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[project]\nversion = "1"\n', r"\[project\] has no name"),
        ('[project]\nname = "x"\n', "neither version nor dynamic"),
        ('[project]\nname = "x"\nversion = "one"\n', "is not a PEP 440 version"),
        ('[project]\nname = "x"\nversion = "1"\ndynamic = ["version"]\n', "both set and"),
        ('[build-system]\nrequires = ["setuptools>=="]\n', "is not a valid requirement"),
        ("[build-system]\nbuild-backend = 'x'\n", "has no 'requires'"),
    ],
)
def test_bad_metadata_is_a_configuration_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        read_project(_write(tmp_path, text))


def test_setup_cfg_name_and_legacy_backend(tmp_path: Path) -> None:
    _write(tmp_path, "[metadata]\nname = legacy-pkg\nversion = 2.0.1\n", "setup.cfg")
    project = read_project(tmp_path)
    assert project.name == "legacy-pkg"
    assert project.backend == "setuptools.build_meta:__legacy__"
    assert project.static_version is not None
    assert project.static_version.value == "2.0.1"


def test_setup_py_only_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "from setuptools import setup\nsetup()\n", "setup.py")
    with pytest.raises(ConfigurationError, match=r"without running setup\.py"):
        read_project(tmp_path)


def test_rewrite_static_version_touches_one_line(tmp_path: Path) -> None:
    text = (
        '[project]\nname = "p"\nversion = "1.2.3"  # keep me\n\n[tool.other]\nversion = "9.9.9"\n'
    )
    project = read_project(_write(tmp_path, text))
    rewrite_static_version(project, tmp_path, "1.2.4.dev5")
    assert (tmp_path / "pyproject.toml").read_text() == text.replace('"1.2.3"', '"1.2.4.dev5"')


def test_rewrite_poetry_version(tmp_path: Path) -> None:
    src = (FIXTURES / "poetry_static" / "pyproject.toml").read_text()
    project = read_project(_write(tmp_path, src))
    rewrite_static_version(project, tmp_path, "1.2.4.dev5")
    assert read_project(tmp_path).static_version.value == "1.2.4.dev5"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        (Release(1, 2, 3), "1.2.4.dev42"),
        (Release(1, 2, 3, ("rc", 1)), "1.2.3rc2.dev42"),
        (Release(0, 9, 0, ("b", 3)), "0.9.0b4.dev42"),
        (None, "0.0.1.dev42"),
    ],
)
def test_ci_dev_versions(last: Release | None, expected: str) -> None:
    assert ci_dev_version(last, 42) == expected


def test_dotenv_round_trip_and_refusals(tmp_path: Path) -> None:
    path = dotenv.write(tmp_path / "x.env", {"A": "1", "B_2": "x y"})
    assert path.read_text() == "A=1\nB_2=x y\n"
    assert dotenv.read(path) == {"A": "1", "B_2": "x y"}
    with pytest.raises(ConfigurationError, match="not a variable name"):
        dotenv.render({"1A": "x"})
    with pytest.raises(ConfigurationError, match="spans lines"):
        dotenv.render({"A": "x\ny"})

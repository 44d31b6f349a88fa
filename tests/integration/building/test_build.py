"""``wheelship build`` for real: every backend, the bundled example, reproducibility, checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from support.gitrepo import GitRepo, git
from support.projects import (
    FIXTURES,
    MONOREPO_PROJECT,
    build_cache,
    build_env,
    clean_env,
    monorepo,
    pipeline_env,
    project_repo,
)
from wheelship import dotenv
from wheelship.building.builder import BuildSettings, build_project
from wheelship.building.environments import MEMO, EnvCache, find_uv
from wheelship.building.manifest import Manifest
from wheelship.building.version import VersionSettings
from wheelship.cli import main
from wheelship.demo import example_project

__all__ = ["build_cache", "build_env", "clean_env"]
pytestmark = pytest.mark.usefixtures("build_env")


def build(project: Path, **kwargs: object) -> object:
    return build_project(BuildSettings(version=VersionSettings(project=project), **kwargs))  # type: ignore[arg-type]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["build", *args])
    out, err = capsys.readouterr()
    return code, out, err


def wheel_metadata(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return zf.read(name).decode()


# --- the bundled example project -----------------------------------------------------------


def test_example_release_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = example_project(tmp_path / "tsff")
    code, out, err = cli(capsys, "--project", str(project))
    assert code == 0, err
    dist = project / "dist"
    assert out == f"{dist / 'tsff-1.0.0-py3-none-any.whl'}\n"
    assert sorted(p.name for p in dist.iterdir()) == [
        "build.env",
        "tsff-1.0.0-py3-none-any.whl",
        "tsff-1.0.0.tar.gz",
        "wheelship-manifest.json",
    ]
    manifest = Manifest.load(dist)
    manifest.verify(dist)
    assert (manifest.name, manifest.version, manifest.tag) == ("tsff", "1.0.0", "v1.0.0")
    assert manifest.commit == git(project, "rev-parse", "HEAD")
    assert [f.kind for f in manifest.files] == ["sdist", "wheel"]
    env = dotenv.read(dist / "build.env")
    assert env["WHEELSHIP_VERSION"] == "1.0.0"
    assert env["WHEELSHIP_WHEEL"] == "tsff-1.0.0-py3-none-any.whl"
    assert env["WHEELSHIP_WHEEL_SHA256"] == manifest.wheel().sha256
    with zipfile.ZipFile(dist / "tsff-1.0.0-py3-none-any.whl") as zf:
        names = set(zf.namelist())
        entry_points = zf.read("tsff-1.0.0.dist-info/entry_points.txt").decode()
    assert {"tsff/data/sales.csv", "tsff/_version.py", "tsff/cli.py", "tsff/py.typed"} <= names
    assert "tsff = tsff.cli:main" in entry_points
    assert git(project, "status", "--porcelain") == ""  # build outputs are ignored


def _run(*cmd: str | Path, **kwargs: Any) -> str:
    """Run a command; on failure show its output in the assertion (not just an exit code)."""
    proc = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def test_example_wheel_runs_like_a_databricks_python_wheel_task(tmp_path: Path) -> None:
    """Install the wheel into a fresh venv and call the entry point, then run tsff's tests.

    Hermetic, so it cannot fail for reasons outside the wheel: nothing comes from a package index
    (tsff has no dependencies; ``--no-index``) and uv uses no shared cache (``--no-cache``:
    parallel uv processes on one cache have raced in uv before). pytest for tsff's own tests
    comes from this environment through a .pth file, added only after the wheel has run alone.
    """
    project = example_project(tmp_path / "tsff")
    result = build(project)
    venv = tmp_path / "venv"
    uv = find_uv()
    assert uv is not None
    offline = ("--no-cache", "--offline")
    _run(uv, "venv", "-q", *offline, "--python", sys.executable, venv)
    py = venv / "bin" / "python"
    # what a cluster does with the wheel: install it, then call its entry point
    _run(uv, "pip", "install", "-q", *offline, "--no-index", "--python", py, result.wheel)  # type: ignore[attr-defined]
    model = tmp_path / "model.json"
    out = _run(venv / "bin" / "tsff", "train", "--model-out", model)
    assert json.loads(out)["smape"] < 5
    score = _run(py, "-m", "tsff", "score", "--model", model, "--horizon", "2")
    assert len(score.splitlines()) == 2
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    where = _run(py, "-c", "import tsff; print(tsff.__version__, tsff.__file__)", cwd=tmp_path)
    assert where == f"1.0.0 {site / 'tsff' / '__init__.py'}\n"

    (site / "zz_test_tools.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # this environment's pytest plugins (xdist, cov) have no business in tsff's test run
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    tests = project / "tests"
    _run(py, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests, cwd=tmp_path, env=env)


def test_dev_build_in_a_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = example_project(tmp_path / "tsff")
    GitRepo(project).commit("feature", files={"src/tsff/extra.py": "X = 1\n"})
    pipeline_env(monkeypatch, iid=31)
    result = build(project, outdir=tmp_path / "out", dotenv=tmp_path / "b.env")
    assert result.wheel.name == "tsff-1.0.1.dev31-py3-none-any.whl"  # type: ignore[attr-defined]
    assert result.sdist.name == "tsff-1.0.1.dev31.tar.gz"  # type: ignore[attr-defined]
    assert "\nVersion: 1.0.1.dev31\n" in wheel_metadata(result.wheel)  # type: ignore[attr-defined]
    with tarfile.open(result.sdist) as tf:  # type: ignore[attr-defined]
        pkg_info = tf.extractfile("tsff-1.0.1.dev31/PKG-INFO").read().decode()  # type: ignore[union-attr]
    assert "\nVersion: 1.0.1.dev31\n" in pkg_info
    env = dotenv.read(tmp_path / "b.env")
    assert (env["WHEELSHIP_VERSION"], env["WHEELSHIP_IS_RELEASE"]) == ("1.0.1.dev31", "false")
    assert env["WHEELSHIP_WHEEL"] == result.wheel.name  # type: ignore[attr-defined]


def test_two_builds_of_one_commit_are_byte_identical(tmp_path: Path) -> None:
    """Different clones, paths, umasks and file times: same bytes."""
    first = example_project(tmp_path / "a")
    a = build(first)
    bare = tmp_path / "origin.git"
    GitRepo(first).add_bare_origin(bare)
    old = os.umask(0o077)
    try:
        second = GitRepo.clone(bare, tmp_path / "b").path
    finally:
        os.umask(old)
    os.utime(second / "README.md", (1, 1))
    b = build(second)
    assert a.wheel.read_bytes() == b.wheel.read_bytes()  # type: ignore[attr-defined]
    assert a.sdist.read_bytes() == b.sdist.read_bytes()  # type: ignore[attr-defined]
    with zipfile.ZipFile(b.wheel) as zf:  # type: ignore[attr-defined]
        info = zf.getinfo("tsff/cli.py")
        assert info.date_time == (2026, 1, 1, 0, 0, 0)  # the commit time
        assert (info.external_attr >> 16) & 0o777 == 0o644
    with tarfile.open(b.sdist) as tf:  # type: ignore[attr-defined]
        assert {(m.uid, m.uname, m.mtime) for m in tf.getmembers()} == {(0, "", 1767225600)}


def test_build_environment_is_made_once_and_reused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], build_cache: Path
) -> None:
    project = example_project(tmp_path / "tsff")
    assert cli(capsys, "--project", str(project))[0] == 0
    code, _, err = cli(capsys, "--project", str(project))
    assert code == 0
    assert "created the build environment" not in err
    envs = [p for p in (build_cache / "build-envs").iterdir() if p.is_dir()]
    assert any((p / MEMO).is_file() for p in envs)
    assert EnvCache(build_cache).installer == "uv"


# --- other backends ------------------------------------------------------------------------


def test_hatch_vcs_gets_the_derived_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = project_repo(tmp_path, "hatch_vcs", tag="v0.4.0")
    repo.commit("after")
    pipeline_env(monkeypatch, iid=8)
    result = build(repo.path)
    assert result.wheel.name == "hatch_pkg-0.4.1.dev8-py3-none-any.whl"  # type: ignore[attr-defined]
    assert result.sdist.name == "hatch_pkg-0.4.1.dev8.tar.gz"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fixture", "stem"), [("flit_static", "flitpkg"), ("poetry_static", "poetry_pkg")]
)
def test_static_version_on_the_tag(tmp_path: Path, fixture: str, stem: str) -> None:
    repo = project_repo(tmp_path, fixture, tag="v1.2.3")
    result = build(repo.path)
    assert result.wheel.name == f"{stem}-1.2.3-py3-none-any.whl"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fixture", "stem"), [("flit_static", "flitpkg"), ("poetry_static", "poetry_pkg")]
)
def test_static_version_between_releases_is_stamped_with_the_dev_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixture: str, stem: str
) -> None:
    repo = project_repo(tmp_path, fixture, tag="v1.2.3")
    repo.commit("after")
    pipeline_env(monkeypatch, iid=40)
    result = build(repo.path)
    assert result.wheel.name == f"{stem}-1.2.4.dev40-py3-none-any.whl"  # type: ignore[attr-defined]
    assert "\nVersion: 1.2.4.dev40\n" in wheel_metadata(result.wheel)  # type: ignore[attr-defined]
    assert '"1.2.3"' in (repo.path / "pyproject.toml").read_text()  # the checkout is untouched
    assert repo.git("status", "--porcelain") == "?? dist/"


def test_static_version_that_contradicts_the_tag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "flit_static", tag="v2.0.0")
    code, out, err = cli(capsys, "--project", str(repo.path))
    assert (code, out) == (2, "")
    assert err == (
        "error: pyproject.toml [project] pins version 1.2.3 but the release tag v2.0.0 names "
        '2.0.0 — set version = "2.0.0" there, or tag the commit with the version it pins\n'
    )
    assert not (repo.path / "dist").exists()


# --- checks and failures -------------------------------------------------------------------


def test_readme_that_does_not_render_fails_and_leaves_dist_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "bad_readme", tag="v1.0.0")
    keep = repo.path / "dist" / "older-0.9.0-py3-none-any.whl"
    keep.parent.mkdir()
    keep.write_bytes(b"previous build")
    code, out, err = cli(capsys, "--project", str(repo.path))
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == (
        "error: badreadme-1.0.0.tar.gz fails twine check --strict: long_description has syntax "
        "errors in markup and would not be rendered on PyPI (line 2: Warning: Title underline "
        "too short.) — fix the readme so it renders (python -m readme_renderer README.rst shows "
        "where)"
    )
    assert [p.name for p in keep.parent.iterdir()] == [keep.name]
    assert not (repo.path / "dist" / "build.env").exists()


def test_missing_long_description_is_a_warning_that_names_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "no_readme", tag="v1.0.0")
    code, out, err = cli(capsys, "--project", str(repo.path))
    assert code == 0, err
    assert out.strip().endswith("noreadme-1.0.0-py3-none-any.whl")
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: noreadme-1.0.0.tar.gz has no long description (twine check --strict would "
        'fail; the index shows an empty project page) — set readme = "README.md" in [project] '
        "of pyproject.toml"
    ]


def test_missing_long_description_fails_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "no_readme", tag="v1.0.0")
    (repo.path / "wheelship.yml").write_text("build:\n  strict: true\n")
    code, _, err = cli(capsys, "--project", str(repo.path))
    assert code == 1
    assert err.splitlines()[-1] == (
        "error: noreadme-1.0.0.tar.gz fails twine check --strict: long_description missing — "
        'set readme = "README.md" in [project] of pyproject.toml'
    )


def test_backend_failure_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "setuptools_scm", tag="v1.0.0")
    repo.commit("break", files={"setup.py": "raise SystemExit('boom: this project refuses')\n"})
    repo.tag("v1.0.1")
    code, _, err = cli(capsys, "--project", str(repo.path))
    assert code == 1
    last = err.splitlines()[-1]
    assert last.startswith("error: the build backend failed to build the sdist (")
    assert "boom: this project refuses" in err
    assert last.endswith(" — fix the project's build configuration (the backend's output is above)")
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1


def test_not_a_git_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "plain"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        (FIXTURES / "flit_static" / "pyproject.toml").read_text()
    )
    code, _, err = cli(capsys, "--project", str(project))
    assert code == 2
    assert err == (
        f"error: {project} is not in a git repository, so there are no tags to version it by — "
        "run in a git clone of the project (or git init, commit and tag v0.1.0)\n"
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("--outdir", "README.md"),
            "error: --outdir {root}/README.md: is not a directory — pass a directory with --outdir",
        ),
        (
            ("--dotenv", "."),
            "error: --dotenv .: is a directory — pass a file path with --dotenv",
        ),
        (
            ("--dotenv", "{tmp}/no/build.env"),
            "error: --dotenv {tmp}/no/build.env: its directory {tmp}/no does not exist — create "
            "it or pass another --dotenv",
        ),
    ],
)
def test_unwritable_outputs_are_refused_before_anything_is_built(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, str],
    line: str,
) -> None:
    repo = project_repo(tmp_path, "flit_static", tag="v1.2.3")
    monkeypatch.chdir(repo.path)
    keep = repo.path / "dist" / "flitpkg-1.2.2-py3-none-any.whl"
    keep.parent.mkdir()
    keep.write_bytes(b"previous build")
    flag, value = args
    code, out, err = cli(capsys, "--project", str(repo.path), flag, value.format(tmp=tmp_path))
    assert (code, out) == (2, "")
    # refused before the version is derived: nothing is announced, nothing built
    assert err == f"{line.format(root=repo.path, tmp=tmp_path)}\n"
    assert [p.name for p in keep.parent.iterdir()] == [keep.name]
    assert repo.git("status", "--porcelain", "--ignored") == "?? dist/"


def test_a_cache_dir_that_cannot_hold_environments_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "flit_static", tag="v1.2.3")
    blocker = tmp_path / "cache-file"
    blocker.write_text("")
    code, out, err = cli(capsys, "--project", str(repo.path), "--cache-dir", str(blocker))
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (
        f"error: --cache-dir {blocker}: is not a directory — pass a directory with --cache-dir"
    )
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1
    assert not (repo.path / "dist").exists()


def test_isolation_none_needs_the_backend_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "poetry_static", tag="v1.2.3")
    code, _, err = cli(capsys, "--project", str(repo.path), "--isolation", "none")
    assert code == 1
    assert err.splitlines()[-1] + "\n" == (
        "error: the build requirements poetry-core>=2.0 are not installed (--isolation none) — "
        "install them in this environment, or use --isolation cached\n"
    )


def test_isolation_fresh_builds_like_python_m_build(tmp_path: Path) -> None:
    repo = project_repo(tmp_path, "flit_static", tag="v1.2.3")
    result = build(repo.path, isolation="fresh")
    assert result.wheel.name == "flitpkg-1.2.3-py3-none-any.whl"  # type: ignore[attr-defined]


def test_wheelship_ships_the_example_inside_its_own_wheel(tmp_path: Path) -> None:
    """wheelship builds itself (as it builds others); the example must be package data."""
    root = Path(__file__).resolve().parents[3]
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    copy = tmp_path / "wheelship"
    for rel in filter(None, files):
        if (root / rel).is_file():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            (copy / rel).write_bytes((root / rel).read_bytes())
    repo = GitRepo.init(copy)
    repo.commit("snapshot")
    repo.tag("v9.8.7")
    result = build(copy)
    with zipfile.ZipFile(result.wheel) as zf:  # type: ignore[attr-defined]
        names = set(zf.namelist())
    example = "wheelship/demo/example/"
    assert {
        example + "pyproject.toml",
        example + "README.md",
        example + ".gitignore",
        example + "src/tsff/cli.py",
        example + "src/tsff/data/sales.csv",
        example + "tests/test_tsff.py",
        "wheelship/demo/project.py",
    } <= names
    assert not any(n.startswith("tsff/") for n in names)  # not a top-level package of ours


def test_example_project_is_a_deterministic_tagged_repository(tmp_path: Path) -> None:
    a = example_project(tmp_path / "a")
    b = example_project(tmp_path / "b", tag=None)
    assert git(a, "rev-parse", "HEAD") == git(b, "rev-parse", "HEAD")
    assert git(a, "describe", "--tags", "--exact-match") == "v1.0.0"
    assert git(b, "tag") == ""
    assert not (a / "src" / "tsff" / "_version.py").exists()


@pytest.mark.parametrize("fixture", ["setuptools_scm", "hatch_vcs", "poetry_static"])
def test_one_backend_process_builds_the_same_bytes_as_one_process_per_hook(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fixture: str,
) -> None:
    """A cold build (empty cache) asks the requirement hooks and builds in one backend process,
    and remembers the answers; a warm one skips the questions. Both give the bytes of build's
    own one-process-per-hook path (``--isolation fresh``)."""
    monkeypatch.setenv("WHEELSHIP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WHEELSHIP_VERBOSE", "1")
    repo = project_repo(tmp_path, fixture, tag="v1.2.3")
    cold = build(repo.path, outdir=tmp_path / "cold")
    assert (
        "debug: building sdist and wheel in one backend process (asking for extra requirements "
        "first)" in capsys.readouterr().err
    )
    warm = build(repo.path, outdir=tmp_path / "warm")
    assert "debug: building sdist and wheel in one backend process\n" in capsys.readouterr().err
    per_hook = build(repo.path, outdir=tmp_path / "per-hook", isolation="fresh")
    assert "in one backend process" not in capsys.readouterr().err
    for other in (warm, per_hook):
        assert cold.wheel.read_bytes() == other.wheel.read_bytes()  # type: ignore[attr-defined]
        assert cold.sdist.read_bytes() == other.sdist.read_bytes()  # type: ignore[attr-defined]


def test_make_example_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wheelship.demo.make_example import main as make_example

    assert make_example([str(tmp_path / "tsff")]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'tsff'}\n"
    assert make_example([str(tmp_path / "tsff")]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'tsff'} already exists — choose a new directory\n"
    )


def test_pip_builds_the_environment_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "flit_static", tag="v1.2.3")
    code, out, err = cli(
        capsys,
        "--project",
        str(repo.path),
        "--installer",
        "pip",
        "--cache-dir",
        str(tmp_path / "c"),
    )
    assert code == 0, err
    assert "created the build environment for flit_core>=3.11,<5 with pip" in err
    assert out.endswith("flitpkg-1.2.3-py3-none-any.whl\n")


def test_concurrent_builds_create_one_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    cache = EnvCache(tmp_path / "cache")
    with ThreadPoolExecutor(2) as pool:
        envs = list(pool.map(lambda _: cache.get(["flit_core>=3.11,<5"]), range(2)))
    assert envs[0] == envs[1]
    assert envs[0].python.is_file()
    assert capsys.readouterr().err.count("created the build environment") == 1
    assert [p.name for p in (tmp_path / "cache" / "build-envs").iterdir() if p.is_dir()] == [
        envs[0].path.name
    ]


def test_build_uses_the_version_sections_tag_pattern(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project_repo(tmp_path, "flit_static", tag="rel-1.2.3")
    repo.commit(
        "config",
        files={
            "wheelship.yml": "version:\n"
            "  tag-pattern: '^rel-(?P<major>\\d+)\\.(?P<minor>\\d+)\\.(?P<patch>\\d+)$'\n"
            "build:\n  outdir: out\n"
        },
    )
    repo.tag("rel-1.2.3-final", annotated=False)  # not a release under the pattern
    repo.git("tag", "-d", "rel-1.2.3")
    repo.tag("rel-1.2.3")
    code, out, err = cli(capsys, "--project", str(repo.path))
    assert code == 0, err
    assert out == f"{repo.path / 'out' / 'flitpkg-1.2.3-py3-none-any.whl'}\n"


def test_build_jobs_variables_put_dist_where_its_artifacts_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``wheelship build`` as the build template's job runs it: at the repository root, with
    the job's WHEELSHIP_* variables, for a project in a subdirectory with its own wheelship.yml."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "ci"))
    import templates as tpl

    repo = monorepo(tmp_path)
    # The project's tag series is its wheelship.yml pattern; the rules need it as the input.
    pattern = "/^fc-v(?P<major>\\d+)\\.(?P<minor>\\d+)\\.(?P<patch>\\d+)$/"
    inputs = {
        "as": "b",
        "project-dir": MONOREPO_PROJECT,
        "config": "wheelship.yml",
        "release-tag-pattern": pattern,
    }
    job = tpl.rendered(tpl.load(tpl.TEMPLATES / "build.yml"), inputs)["b"]
    for name, value in job["variables"].items():
        # the session's build-environment cache stands in for the job's cached one
        if name.startswith("WHEELSHIP_") and name != "WHEELSHIP_CACHE_DIR":
            monkeypatch.setenv(name, str(value))
    monkeypatch.chdir(repo.path)
    code, out, err = cli(capsys)
    assert code == 0, err
    (artifacts,) = job["artifacts"]["paths"]
    assert out == f"{repo.path / artifacts / 'scm_pkg-1.2.3-py3-none-any.whl'}\n"
    assert Manifest.load(repo.path / artifacts).version == "1.2.3"  # fc-v1.2.3, not v9.0.0
    build_env = dotenv.read(repo.path / job["artifacts"]["reports"]["dotenv"])
    assert build_env["WHEELSHIP_VERSION"] == "1.2.3"


def test_a_backend_asking_for_more_gets_it_installed_and_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """setuptools answers the requirement hooks with ``setup_requires``: the cold one-process
    build stops before the sdist, wheelship installs what was asked for and builds on; the
    answers are remembered, so the next build is one process again, with the same bytes."""
    monkeypatch.setenv("WHEELSHIP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WHEELSHIP_VERBOSE", "1")
    repo = project_repo(tmp_path, "setuptools_scm")
    (repo.path / "setup.cfg").write_text("[options]\nsetup_requires =\n    flit_core>=3.11,<5\n")
    repo.commit("setup_requires")
    repo.tag("v1.2.3")
    cold = build(repo.path, outdir=tmp_path / "cold")
    err = capsys.readouterr().err
    assert "installing flit_core>=3.11,<5 into the build environment" in err
    warm = build(repo.path, outdir=tmp_path / "warm")
    err = capsys.readouterr().err
    assert "debug: building sdist and wheel in one backend process\n" in err
    assert "into the build environment" not in err
    assert cold.wheel.read_bytes() == warm.wheel.read_bytes()  # type: ignore[attr-defined]
    assert cold.sdist.read_bytes() == warm.sdist.read_bytes()  # type: ignore[attr-defined]


# --- what is built is what is committed --------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "package"),
    [
        ("setuptools_scm", "src/scmpkg"),
        ("hatch_vcs", "src/hatchpkg"),
        ("flit_static", "flitpkg"),
        ("poetry_static", "poetrypkg"),
    ],
)
def test_only_committed_files_are_built_whatever_the_checkout_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, build_cache: Path, fixture: str, package: str
) -> None:
    """A checkout as the templates leave it: their caches (with uv's absolute symlinks) inside
    it, an earlier job's reports, and files git does not track or ignores — none of it may reach
    the sdist or the wheel, and a relative cache directory works like an absolute one."""
    repo = project_repo(tmp_path, fixture, tag="v1.2.3")
    tracked = set(git(repo.path, "ls-files").splitlines())
    junk = {
        ".cache/uv/archive-v0/abc/pkg/cached_module.py": "x = 1\n",
        ".cache/wheelship/build-envs/x/pyvenv.cfg": "home = /usr\n",
        "build.env": "WHEELSHIP_VERSION=0\n",
        "coverage.xml": "<coverage/>\n",
        "notes-untracked.txt": "draft\n",
        f"{package}/scratch_untracked.py": "raise SystemExit('not committed')\n",
        "local-secret.env": "TOKEN=do-not-ship\n",
    }
    for rel, text in junk.items():
        (repo.path / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo.path / rel).write_text(text)
    (repo.path / ".cache/uv/archive-v0/abc/python").symlink_to("/usr/bin/python3")
    with (repo.path / ".git" / "info" / "exclude").open("a") as fh:
        fh.write("local-secret.env\n")  # ignored: hatchling and poetry skip it anyway
    monkeypatch.chdir(tmp_path)
    result = build(repo.path, cache_dir=Path(os.path.relpath(build_cache, tmp_path)))

    with tarfile.open(result.sdist) as tf:  # type: ignore[attr-defined]
        top = tf.getnames()[0].split("/")[0]
        in_sdist = {n.removeprefix(f"{top}/") for n in tf.getnames()}
    with zipfile.ZipFile(result.wheel) as zf:  # type: ignore[attr-defined]
        in_wheel = set(zf.namelist())
    stems = {Path(rel).name for rel in junk} | {"python"}
    assert not [n for n in in_sdist | in_wheel if Path(n).name in stems or ".cache" in n]
    # Nothing committed is lost on the way either (flit and poetry-core pick their own set).
    if fixture in ("setuptools_scm", "hatch_vcs"):
        assert tracked <= in_sdist, tracked - in_sdist
    env = dotenv.read(result.dotenv)  # type: ignore[attr-defined]
    assert env["WHEELSHIP_DIST_DIR"] == "project/dist"
    assert env["WHEELSHIP_MANIFEST"] == "project/dist/wheelship-manifest.json"


def test_a_developers_uncommitted_edit_is_built_and_the_version_says_so(tmp_path: Path) -> None:
    """Outside CI the backend sees the tracked files as they are in the work tree (so a local
    build tries the edit), and the version carries setuptools-scm's dirty marker."""
    repo = project_repo(tmp_path, "setuptools_scm", tag="v1.2.3")
    module = repo.path / "src" / "scmpkg" / "__init__.py"
    module.write_text(module.read_text() + "\nEDITED = True\n")
    result = build(repo.path)
    with zipfile.ZipFile(result.wheel) as zf:  # type: ignore[attr-defined]
        assert "EDITED = True" in zf.read("scmpkg/__init__.py").decode()
    version = result.manifest.version  # type: ignore[attr-defined]
    assert version.startswith("1.2.4.dev0+g") and ".d20" in version, version  # dirty

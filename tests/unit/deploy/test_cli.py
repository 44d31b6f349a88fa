"""CLI behaviour that needs no workspace: exact error lines and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelship.building.manifest import DistFile, Manifest
from wheelship.cli import main

CONFIG = """\
package: tsff
targets:
  prod:
    host: https://adb-1.azuredatabricks.net
    artifacts: /Volumes/ml/tsff/wheels
    clusters:
      mode: automated
      tags: {tsff: prod}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in ("WHEELSHIP_TARGET", "WHEELSHIP_CONFIG", "WHEELSHIP_DIST", "DATABRICKS_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-unit-token")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no.cfg"))
    (tmp_path / "wheelship.yml").write_text(CONFIG)
    return tmp_path


def dist(root: Path, name: str = "tsff", version: str = "1.3.0") -> Path:
    d = root / "dist"
    d.mkdir()
    wheel = d / f"{name}-{version}-py3-none-any.whl"
    wheel.write_bytes(b"PK-not-really")
    Manifest(name, version, files=(DistFile.of(wheel),)).write(d)
    return d


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_config_check_valid(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "config", "--check")
    assert code == 0
    assert (
        out
        == "prod: tsff -> /Volumes/ml/tsff/wheels on https://adb-1.azuredatabricks.net; jobs: referencing; clusters: automated; keep 3\n"
    )
    assert err == "wheelship.yml: valid\n"


def test_config_check_names_the_key(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "wheelship.yml").write_text(CONFIG + "      restart: sometimes\n")
    code, out, err = run(capsys, "config", "--check")
    assert (code, out) == (2, "")
    assert err == (
        "error: wheelship.yml: targets.prod.clusters.restart: expected one of never, if-idle, "
        "always, got 'sometimes' — use one of the listed values\n"
    )


def test_config_missing_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "config", "--check", "--config", "nope.yml")
    assert code == 2
    assert (
        err
        == "error: configuration file nope.yml not found — create it (see docs/configuration.md) or pass --config\n"
    )


def test_unknown_target(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dist(project)
    code, _out, err = run(capsys, "plan", "--target", "staging")
    assert code == 2
    assert err == "error: unknown target 'staging' — use one of: prod\n"


def test_missing_dist(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "deploy", "--target", "prod")
    assert code == 2
    assert err == (
        "error: no build manifest at dist/wheelship-manifest.json — run 'wheelship build' first, "
        "or pass the dist directory it wrote (--dist)\n"
    )


def test_wheel_of_another_package(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dist(project, name="other")
    code, _out, err = run(capsys, "deploy", "--target", "prod")
    assert code == 2
    assert (
        err
        == "error: dist holds a build of other, not of tsff — pass the dist directory of this project's build, or fix package: in wheelship.yml\n"
    )


def test_dist_changed_since_build(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = dist(project)
    (d / "tsff-1.3.0-py3-none-any.whl").write_bytes(b"tampered")
    code, _out, err = run(capsys, "deploy", "--target", "prod")
    assert code == 2
    assert err.startswith("error: dist/tsff-1.3.0-py3-none-any.whl changed since it was built")


def test_plain_http_to_a_remote_host_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "wheelship.yml").write_text(CONFIG.replace("https://adb-1", "http://adb-1"))
    dist(project)
    code, _out, err = run(capsys, "plan", "--target", "prod")
    assert code == 2
    assert "plain http to a non-loopback host" in err and err.count("\n") == 1
    assert err.startswith("error: wheelship.yml: targets.prod.host: ")


def test_env_selects_the_target_and_help_names_env_vars(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELSHIP_TARGET", "nope")
    code, _out, err = run(capsys, "status")
    assert code == 2 and err == "error: unknown target 'nope' — use one of: prod\n"
    code, out, _err = run(capsys, "status", "--help")
    assert code == 0
    for var in (
        "WHEELSHIP_CONFIG",
        "WHEELSHIP_TARGET",
        "WHEELSHIP_FAIL_ON_DRIFT",
        "WHEELSHIP_CONCURRENCY",
    ):
        assert var in out


def test_runbook_needs_selected_clusters(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "wheelship.yml").write_text(CONFIG.replace("mode: automated", "mode: off"))
    code, _out, err = run(capsys, "runbook", "--target", "prod")
    assert code == 2
    assert (
        err
        == "error: target prod selects no clusters (clusters.mode: off) — set clusters.mode (manual or automated) and the clusters to select\n"
    )

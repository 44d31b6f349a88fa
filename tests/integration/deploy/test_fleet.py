"""A group of targets in one command, against three emulated workspaces: the same bytes
everywhere, one report per workspace and one summary; a workspace that refuses writes fails
alone, unchanged and named, while the others converge."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.deployws import ART, MUTATING, Workspace, error_line, whl
from wheelship import config
from wheelship.cli import main
from wheelship.deploy import references

NAMES = ("eu", "us", "ap")


class Fleet:
    def __init__(self, root: Path, workspaces: dict[str, Workspace]) -> None:
        self.root = root
        self.ws = workspaces
        self.out = root / "out"
        self.dist = workspaces["eu"].dist("1.3.0")

    def cli(self, *argv: str) -> int:
        return main([*argv, "--config", str(self.root / "wheelship.yml"), "--out", str(self.out)])


@pytest.fixture
def fleet(
    workspace_factory: Callable[..., Workspace], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Fleet:
    """Three workspaces, each with its own token (a profile per target), grouped as 'everywhere'."""
    root = tmp_path / "fleet"
    root.mkdir()
    workspaces = {name: workspace_factory() for name in NAMES}
    profiles = "".join(
        f"[{name}]\nhost = {ws.emu.url}\ntoken = {ws.emu.token}\n\n"
        for name, ws in workspaces.items()
    )
    (root / "databrickscfg").write_text(profiles)
    target: dict[str, Any] = {
        "artifacts": ART,
        "keep": 1,
        "jobs": {"select": "referencing"},
        "clusters": {"mode": "automated", "tags": {"tsff": "prod"}, "wait": 600},
    }
    config = {
        "package": "tsff",
        "targets": {
            name: {**target, "host": ws.emu.url, "profile": name} for name, ws in workspaces.items()
        },
        "groups": {"everywhere": list(NAMES)},
    }
    (root / "wheelship.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(root / "databrickscfg"))
    for key in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_AUTH_TYPE"):
        monkeypatch.delenv(key, raising=False)
    for ws in workspaces.values():
        ws.emu.clear_log()
    return Fleet(root, workspaces)


def on_version(ws: Workspace, version: str) -> bool:
    return all(
        references.referenced_versions(ws.emu.job_settings(j), "tsff") == {version}
        for j in (101, 102, 103, 105)
    )


def test_one_command_deploys_the_same_bytes_to_every_workspace(fleet: Fleet) -> None:
    assert fleet.cli("deploy", "--target", "everywhere", "--dist", str(fleet.dist)) == 0

    shas = {ws.emu.file_sha256(whl("1.3.0")) for ws in fleet.ws.values()}
    assert len(shas) == 1
    for name, ws in fleet.ws.items():
        assert on_version(ws, "1.3.0"), name
        assert ws.emu.invariants() == []
        report = json.loads((fleet.out / name / "deploy-report.json").read_text())
        assert report["outcome"] == "deployed" and report["target"] == name
        assert (fleet.out / name / "plan.md").is_file()
    summary = json.loads((fleet.out / "deploy-summary.json").read_text())
    assert summary["exit_code"] == 0 and summary["failed"] == []
    assert [t["target"] for t in summary["targets"]] == list(NAMES)
    assert {t["sha256"] for t in summary["targets"]} == shas
    md = (fleet.out / "deploy-summary.md").read_text()
    assert f"Release: 1.3.0 (sha256 `{shas.pop()}`) in every workspace" in md

    # again: nothing to change anywhere
    assert fleet.cli("deploy", "--target", "everywhere", "--dist", str(fleet.dist)) == 0
    summary = json.loads((fleet.out / "deploy-summary.json").read_text())
    assert [t["outcome"] for t in summary["targets"]] == ["unchanged"] * 3


def test_a_workspace_that_refuses_writes_fails_alone_unchanged_and_named(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    us = fleet.ws["us"]
    for method in MUTATING:
        us.emu.add_fault("403", endpoint=f"{method} *")
    before = us.snapshot()

    # refused at its first write, the lock file: a policy refusal (exit 2), nothing changed
    assert fleet.cli("deploy", "--target", "everywhere", "--dist", str(fleet.dist)) == 2
    line = error_line(capsys)
    assert line.startswith(
        "error: deploy failed on 1 of 3 targets of group everywhere: us — see deploy-summary.md"
    )

    assert us.snapshot() == before
    assert not us.emu.file_exists(whl("1.3.0"))
    for name in ("eu", "ap"):
        assert on_version(fleet.ws[name], "1.3.0"), name
        assert fleet.ws[name].emu.invariants() == []
    summary = json.loads((fleet.out / "deploy-summary.json").read_text())
    assert summary["failed"] == ["us"] and summary["exit_code"] == 2
    outcomes = {t["target"]: (t["outcome"], t["detail"]) for t in summary["targets"]}
    assert outcomes["eu"][0] == outcomes["ap"][0] == "deployed"
    assert outcomes["us"][0] == "refused"
    assert outcomes["us"][1].startswith(f"error: the deploy identity may not write to {ART} ")
    md = (fleet.out / "deploy-summary.md").read_text()
    assert "**1 of 3 failed:** us." in md
    # refused before the plan: there is no deploy report to write
    assert not (fleet.out / "us" / "deploy-report.json").exists()


def test_plan_and_status_of_a_group_read_every_workspace(fleet: Fleet) -> None:
    assert fleet.cli("plan", "--target", "everywhere", "--dist", str(fleet.dist)) == 0
    for name, ws in fleet.ws.items():
        plan = json.loads((fleet.out / name / "plan.json").read_text())
        assert plan["target"] == name and plan["host"] == ws.emu.url
        assert not [r for r in ws.emu.requests if r.method in MUTATING]
    summary = json.loads((fleet.out / "plan-summary.json").read_text())
    assert [t["outcome"] for t in summary["targets"]] == ["planned"] * 3

    assert fleet.cli("status", "--target", "everywhere", "--fail-on-drift") == 0
    summary = json.loads((fleet.out / "status-summary.json").read_text())
    assert [t["detail"] for t in summary["targets"]] == ["live: 1.2.0"] * 3


@pytest.mark.parametrize("target", ["eu", "everywhere"])
@pytest.mark.parametrize("command", ["plan", "deploy", "status", "doctor"])
def test_a_command_reads_the_configuration_file_once(
    fleet: Fleet, command: str, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One read per command, not one per target of a group (or per step): the option layer reads
    the file, the targets get what it read."""
    reads: list[Path] = []
    real = config.load

    def counting(path: Path, *args: Any, **kwargs: Any) -> Any:
        reads.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(config, "load", counting)
    dist = () if command == "status" else ("--dist", str(fleet.dist))
    assert fleet.cli(command, "--target", target, *dist) == 0
    assert reads == [fleet.root / "wheelship.yml"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["targets"]["us"].pop("host"),
            "error: targets.us.host: missing, and us is in group everywhere — in a group every "
            "target names its workspace with host:",
        ),
        (
            lambda c: c["targets"]["us"].update(host=c["targets"]["eu"]["host"]),
            "error: group everywhere: targets eu and us are both",
        ),
        (
            lambda c: c["groups"].update(everywhere=["eu", "mars"]),
            "error: groups.everywhere[1]: unknown target 'mars'",
        ),
    ],
)
def test_a_bad_group_is_refused_before_any_workspace_is_read(
    fleet: Fleet,
    edit: Callable[[dict[str, Any]], Any],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = fleet.root / "wheelship.yml"
    config = yaml.safe_load(path.read_text())
    edit(config)
    path.write_text(yaml.safe_dump(config))
    assert fleet.cli("deploy", "--target", "everywhere", "--dist", str(fleet.dist)) == 2
    assert error_line(capsys).startswith(message)
    assert all(ws.emu.requests == [] for ws in fleet.ws.values())


def test_doctor_of_a_group_names_the_workspace_that_refuses_writes(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    us = fleet.ws["us"]
    for method in MUTATING:
        us.emu.add_fault("403", endpoint=f"{method} *")
    assert fleet.cli("doctor", "--target", "everywhere", "--dist", str(fleet.dist)) == 1
    assert error_line(capsys).startswith(
        "error: doctor failed on 1 of 3 targets of group everywhere: us"
    )
    summary = json.loads((fleet.out / "doctor-summary.json").read_text())
    outcomes = {t["target"]: t["outcome"] for t in summary["targets"]}
    assert outcomes == {"eu": "checked", "us": "failed", "ap": "checked"}
    us_row = next(t for t in summary["targets"] if t["target"] == "us")
    assert "first failure: artifacts writable" in us_row["detail"]
    for name in NAMES:
        assert (fleet.out / name / "doctor.md").is_file()

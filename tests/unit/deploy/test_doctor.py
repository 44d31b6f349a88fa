"""doctor's rules on plain data: library sources by runtime and access mode, volume privileges,
access lists, bundle-managed and git-sourced jobs."""

from __future__ import annotations

import pytest

from wheelship.databricks.model import Job
from wheelship.databricks.unity import Privileges
from wheelship.deploy import doctor
from wheelship.deploy.doctor import Compute


def compute(version: str | None, mode: str | None = None) -> Compute:
    spec = {"spark_version": version, "data_security_mode": mode}
    return Compute.of("c", {k: v for k, v in spec.items() if v is not None})


@pytest.mark.parametrize(
    ("store", "version", "mode", "refused"),
    [
        ("dbfs", "14.3.x-scala2.12", None, None),
        ("dbfs", "15.0.x-scala2.12", None, "DBR 15.0: libraries from DBFS are refused"),
        ("dbfs", "15.4.x-scala2.12", "SINGLE_USER", "DBR 15.4: libraries from DBFS are refused"),
        ("dbfs", "13.3.x-scala2.12", "USER_ISOLATION", "standard (shared) access mode"),
        ("volumes", "15.4.x-scala2.12", "USER_ISOLATION", None),
        ("volumes", "15.4.x-scala2.12", "NONE", "no-isolation shared access mode"),
        ("volumes", "12.2.x-scala2.12", None, "DBR 12.2: libraries from volumes need"),
        ("workspace", "15.4.x-scala2.12", "USER_ISOLATION", None),
        ("dbfs", None, None, None),  # no runtime known: no runtime rule
    ],
)
def test_library_source_rules(
    store: str, version: str | None, mode: str | None, refused: str | None
) -> None:
    problem = doctor.source_problem(store, compute(version, mode))
    if refused is None:
        assert problem is None
    else:
        assert problem is not None and problem.detail.startswith(refused) and problem.fix


GRANTS = Privileges(
    {
        "sp": frozenset({"USE_CATALOG", "USE_SCHEMA", "READ_VOLUME"}),
        "analysts": frozenset({"USE_CATALOG", "USE_SCHEMA", "READ_VOLUME"}),
        "bob@example.com": frozenset({"USE_CATALOG"}),
        "admin-all@example.com": frozenset({"ALL_PRIVILEGES"}),
    }
)


def test_volume_read_is_certain_only_when_it_can_be() -> None:
    assert doctor.volume_read(GRANTS, "sp", ())[0] == "pass"
    assert doctor.volume_read(GRANTS, "admin-all@example.com", None)[0] == "pass"
    assert doctor.volume_read(GRANTS, "carol@example.com", ["analysts"])[0] == "pass"
    # bob's groups are unknown and a group holds the privileges: maybe through it
    assert doctor.volume_read(GRANTS, "bob@example.com", None) == (
        "warn",
        "holds no USE SCHEMA, READ VOLUME itself; a group it may be in does",
    )
    # bob's groups are known (it is the caller): certain
    assert doctor.volume_read(GRANTS, "bob@example.com", ["data-eng"]) == (
        "fail",
        "lacks USE SCHEMA, READ VOLUME",
    )
    assert doctor.volume_read(Privileges({}), "sp", ())[0] == "warn"
    spaced = Privileges({"account users": frozenset({"USE CATALOG", "USE SCHEMA", "READ VOLUME"})})
    assert doctor.volume_read(spaced, "anyone", None)[0] == "pass"


def test_jobs_a_bundle_or_git_defines_follow_the_deploys_own_test() -> None:
    bundle = Job(1, "a", {"deployment": {"kind": "BUNDLE"}, "edit_mode": "UI_LOCKED"})
    found = doctor.managed_job(bundle, "skip")
    assert found is not None and found.detail.startswith("deployed by a Databricks Asset Bundle")
    assert "the deploy skips it" in found.detail and "jobs.managed: rewrite" in found.fix
    rewrite = doctor.managed_job(bundle, "rewrite")
    assert rewrite is not None and "puts its own wheel back" in rewrite.detail
    git = Job(2, "b", {"git_source": {"git_url": "u", "job_source": {"job_config_path": "j.yml"}}})
    assert doctor.managed_job(git, "skip") is not None
    # tasks that run code from git: the job itself is still defined here
    tasks_from_git = Job(3, "c", {"git_source": {"git_url": "u", "git_branch": "main"}})
    assert doctor.managed_job(tasks_from_git, "skip") is None


def test_the_report_renders_every_row_with_its_fix() -> None:
    rows = (
        doctor.Row("identity", "sp", "pass", "service principal sp"),
        doctor.Row("job", "1 (a|b)", "fail", "CAN_VIEW", "grant CAN_MANAGE"),
        doctor.Row("cluster", "c", "warn", "manual mode", "follow the runbook"),
    )
    report = doctor.Report("prod", "https://h", "tsff", rows, "service principal sp")
    assert report.exit_code == 1 and len(report.failed) == 1 and len(report.warned) == 1
    md = doctor.markdown(report)
    assert "Result: 1 fail, 1 warn, 1 pass" in md
    assert "| FAIL | job | 1 (a\\|b) | CAN_VIEW | grant CAN_MANAGE |" in md
    assert "| pass | identity | sp | service principal sp | — |" in md
    text = doctor.text(report)
    assert "-> follow the runbook" in text and "-> grant CAN_MANAGE" in text
    assert report.to_json()["counts"] == {"pass": 1, "warn": 1, "fail": 1}
    assert doctor.Report("p", "h", "t", rows[:1]).exit_code == 0

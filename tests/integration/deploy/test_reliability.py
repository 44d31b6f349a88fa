"""The short run of the reliability suite (``python ci/reliability.py --quick``): a few deploys
of each kind — under 20% injected faults, killed with SIGKILL and rerun, two at once, and in a
workspace with partial permissions. The full run and its figures: docs/reliability.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import reliability


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABRICKS_AUTH_TYPE", "DATABRICKS_CLIENT_ID", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(name, raising=False)


def test_r1_deploys_under_faults_converge_and_change_nothing_else(tmp_path: Path) -> None:
    fig = reliability.r1(6, 100, tmp_path, lambda _line: None, workers=3)
    assert fig.runs == 6 and fig.converged == 6, fig.notes
    assert fig.other_changes == [] and fig.violations == []
    assert sum(fig.extra["faults_injected"].values()) > 0


def test_r2_killed_deploys_converge_when_rerun(tmp_path: Path) -> None:
    fig = reliability.r2(3, 1, 7, tmp_path, lambda _line: None)
    assert fig.extra["killed"] >= 3  # every step boundary; a random moment may come too late
    assert fig.converged == fig.runs == 4, fig.notes
    assert fig.violations == []


def test_r5_concurrent_deploys_never_leave_two_versions(tmp_path: Path) -> None:
    fig = reliability.r5(2, tmp_path, lambda _line: None)
    assert fig.converged == fig.runs == 2, fig.notes
    assert fig.violations == []


def test_p_partial_permissions_refuse_or_skip_by_name(tmp_path: Path) -> None:
    fig = reliability.permissions(tmp_path)
    assert fig.ok, fig.to_json()
    assert len(fig.extra["refused_with"]) == 2 and len(fig.extra["skipped"]) == 3
    assert fig.extra["mixed_versions"] == [] and fig.extra["invisible_job_untouched"]

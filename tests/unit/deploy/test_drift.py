"""The drift check's 'what to do' names the step that fixes the objects that lag behind."""

from __future__ import annotations

import pytest

from wheelship.deploy.plan import ObjectStatus, Status
from wheelship.deploy.workflow import check_drift
from wheelship.errors import DriftDetected

JOB = ObjectStatus("job", "1001", "train", ("1.1.0",))
RUNNING = ObjectStatus("cluster", "c-auto", "team", ("1.1.0",), "RUNNING", "automated")
LOCKED_OLD = ObjectStatus("cluster", "c-lock", "restricted-shared", ("1.0.0",), "RUNNING", "manual")
JOB_OLD = ObjectStatus("job", "1002", "score", ("1.0.0",))


def fix_of(*objects: ObjectStatus) -> str:
    with pytest.raises(DriftDetected) as caught:
        check_drift(Status("prod", "https://x", "tsff", objects, ("1.1.0", "1.0.0")))
    assert caught.value.what == "2 versions of tsff are live on prod: 1.1.0, 1.0.0"
    assert caught.value.fix is not None
    return caught.value.fix


def test_a_manual_mode_cluster_behind_points_to_the_runbook_not_to_deploy() -> None:
    assert fix_of(JOB, RUNNING, LOCKED_OLD) == (
        "the admin of the manual-mode cluster c-lock (restricted-shared) installs 1.1.0 by the "
        "runbook ('wheelship runbook --target prod' writes it; the deploy job keeps it as "
        "runbook.md)"
    )


def test_a_job_behind_points_to_deploy_and_both_when_both_lag() -> None:
    deploy = (
        "deploy one version to every selected job and cluster ('wheelship deploy --target prod')"
    )
    assert fix_of(JOB, JOB_OLD, RUNNING) == deploy
    assert fix_of(JOB_OLD, RUNNING, LOCKED_OLD).startswith(deploy + "; the admin of")


def test_one_version_is_no_drift() -> None:
    check_drift(Status("prod", "https://x", "tsff", (JOB, RUNNING), ("1.1.0",)))

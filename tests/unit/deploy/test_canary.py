"""The canary waves and the canary's way back, planned on plain data."""

from __future__ import annotations

import dataclasses

import pytest

from support.planning import RELEASE, name, simulate, snapshot, target, whl
from wheelship.deploy import canary
from wheelship.deploy import plan as p
from wheelship.errors import PlanError

CANARY = {"jobs": ["tsff-train"], "clusters": ["idle"], "smoke": "tsff-smoke"}


def test_waves_split_the_whole_plan_and_the_canary_deletes_nothing() -> None:
    t = target(canary=CANARY, smoke={"job": "tsff-smoke", "timeout": 60})
    snap = snapshot()
    w = canary.waves(t, RELEASE, snap)
    whole = p.plan(t, RELEASE, snap)
    assert [j.job_id for j in w.canary.jobs] == [1]
    assert [c.cluster_id for c in w.canary.clusters] == ["idle"]
    assert w.canary.upload is not None and w.canary.deletions == ()
    assert w.canary.smoke == p.SmokeRun(4, "tsff-smoke", 1800)
    assert [s for s, _o in w.canary.steps()] == [
        "upload",
        "repoint job",
        "update libraries on cluster",
        "restart cluster",
        "smoke run",
    ]
    # the rest: everything else of the whole plan, with its retention and its smoke run
    assert w.rest.upload is None
    assert [j.job_id for j in w.rest.jobs] == [2, 4]
    assert {c.cluster_id for c in w.rest.clusters} == {"busy", "off"}
    assert w.rest.deletions == whole.deletions and w.rest.smoke == p.SmokeRun(4, "tsff-smoke", 60)
    assert canary.versions_before(w.canary) == ["1.2.0"]
    md = canary.waves_markdown(w)
    assert "1. repoint job 1 (tsff-train)" in md and "goes back to 1.2.0" in md


def test_after_the_canary_the_rest_is_what_the_second_plan_does() -> None:
    t = target(canary=CANARY)
    snap = snapshot()
    w = canary.waves(t, RELEASE, snap)
    second = p.plan(t, RELEASE, simulate(snap, w.canary))
    assert [j.job_id for j in second.jobs] == [j.job_id for j in w.rest.jobs]
    assert [c.cluster_id for c in second.clusters] == [c.cluster_id for c in w.rest.clusters]
    assert second.upload is None


def test_the_restore_plan_brings_the_canary_back_and_touches_nothing_else() -> None:
    t = target(canary=CANARY)
    snap = snapshot()
    w = canary.waves(t, RELEASE, snap)
    after = simulate(snap, w.canary)
    old = p.Release("tsff", "1.2.0", name("1.2.0"), 900, None, local=False)
    back = canary.restore_plan(t, old, after)
    assert back.action == "rollback" and back.upload is None and back.smoke is None
    assert [j.job_id for j in back.jobs] == [1]
    assert back.jobs[0].new_settings["tasks"][0]["libraries"] == [{"whl": whl("1.2.0")}]
    (idle,) = back.clusters
    assert idle.cluster_id == "idle" and idle.install == ({"whl": whl("1.2.0")},)
    assert idle.uninstall == ({"whl": whl("1.3.0")},) and idle.restart
    assert back.deletions == ()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"jobs": ["unrelated"]}, "canary.jobs: job 'unrelated' is not one of the jobs"),
        ({"jobs": [99]}, "canary.jobs: job 99 is not one of the jobs"),
        ({"clusters": ["other"]}, "canary.clusters: cluster 'other' is not one of the clusters"),
    ],
)
def test_a_canary_must_be_part_of_the_target(spec: dict[str, object], message: str) -> None:
    t = target(canary={**spec, "smoke": "tsff-smoke"})
    with pytest.raises(PlanError, match=message):
        canary.waves(t, RELEASE, snapshot())


def test_a_manual_mode_cluster_cannot_be_a_canary() -> None:
    t = target(
        canary={"clusters": ["busy"], "smoke": "tsff-smoke"},
        clusters=[
            {"mode": "automated", "ids": ["idle"]},
            {"mode": "manual", "ids": ["busy"]},
        ],
    )
    with pytest.raises(PlanError, match=r"busy .* is in manual mode"):
        canary.waves(t, RELEASE, snapshot())


def test_a_canary_of_clusters_only_repoints_no_job_first() -> None:
    t = target(canary={"clusters": ["idle"], "smoke": "tsff-smoke"})
    w = canary.waves(t, RELEASE, snapshot())
    assert w.canary.jobs == () and [c.cluster_id for c in w.canary.clusters] == ["idle"]
    assert dataclasses.replace(w.rest, warnings=()).jobs == p.plan(t, RELEASE, snapshot()).jobs

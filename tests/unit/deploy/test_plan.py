"""The pure plan on plain data: every deploy decision without a workspace."""

from __future__ import annotations

import dataclasses

import pytest

from support.planning import ART, RELEASE, cluster, job, name, simulate, snapshot, target, whl
from wheelship.databricks.model import Cluster, Job, LibraryStatus, RemoteFile
from wheelship.deploy import plan as p
from wheelship.deploy import references, targets
from wheelship.errors import PlanError


def test_fresh_deploy_plans_every_step_in_order() -> None:
    plan = p.plan(target(smoke={"job": "tsff-smoke"}), RELEASE, snapshot())
    assert plan.upload == p.Upload(whl("1.3.0"), name("1.3.0"), 1000, "a" * 64, False)
    assert [j.job_id for j in plan.jobs] == [1, 2, 4]
    assert plan.jobs[0].changes == (
        references.RefChange("tasks[main].libraries[0].whl", whl("1.2.0"), whl("1.3.0")),
    )
    assert plan.jobs[0].new_settings["tasks"][0]["python_wheel_task"] == {
        "package_name": "tsff",
        "entry_point": "train",
    }
    by_id = {c.cluster_id: c for c in plan.clusters}
    assert set(by_id) == {"idle", "busy", "off"}  # job clusters and unselected ones are left alone
    assert by_id["idle"].install == ({"whl": whl("1.3.0")},)
    assert by_id["idle"].uninstall == ({"whl": whl("1.2.0")},)
    assert by_id["idle"].restart is True and by_id["idle"].wait == 900
    assert by_id["busy"].restart is False and "busy (active run 77 (nightly))" in (
        by_id["busy"].note or ""
    )
    assert (
        by_id["off"].restart is False
        and by_id["off"].wait == 0
        and "queued" in (by_id["off"].note or "")
    )
    assert plan.smoke == p.SmokeRun(4, "tsff-smoke", 1800)
    assert [s for s, _ in plan.steps()] == [
        "upload",
        "repoint job",
        "repoint job",
        "repoint job",
        "update libraries on cluster",  # busy
        "update libraries on cluster",  # idle
        "restart cluster",
        "update libraries on cluster",  # off
        "delete",
        "smoke run",
    ]
    assert any("busy" in w and "not restarted" in w for w in plan.warnings)


def test_retention_keeps_newest_and_referenced_files() -> None:
    plan = p.plan(target(keep=1), RELEASE, snapshot())
    # keep 1 earlier version (1.2.0); 1.1.0 is unreferenced -> deleted; 1.0.0 is installed on
    # an unselected cluster -> kept.
    assert [d.wheel for d in plan.deletions] == [name("1.1.0")]
    kept = {k.wheel: k.reason for k in plan.kept}
    assert kept[name("1.2.0")] == "one of the 1 newest earlier versions"
    assert kept[name("1.0.0")] == "still installed on cluster other (other)"


def test_retention_with_keep_0_guards_files_on_restarted_clusters_only() -> None:
    plan = p.plan(target(keep=0), RELEASE, snapshot())
    dels = {d.wheel: d for d in plan.deletions}
    # 1.2.0 stays: it is the version this deploy replaces (and the busy and the terminated
    # cluster still list it until their next start).
    assert name("1.2.0") not in dels
    assert any(
        k.wheel == name("1.2.0") and k.reason == "the version live before this deploy"
        for k in plan.kept
    )
    assert dels[name("1.1.0")].guard_clusters == ()


def test_retention_guard_names_clusters_that_drop_the_file_on_restart() -> None:
    # the jobs are on 1.2.0 (kept: the version replaced); the cluster has the older 1.1.0
    snap = snapshot(
        clusters=(cluster("idle", "RUNNING", ("1.1.0", "INSTALLED"), tags={"tsff": "prod"}),)
    )
    plan = p.plan(target(keep=0), RELEASE, snap)
    dels = {d.wheel: d for d in plan.deletions}
    assert dels[name("1.1.0")].guard_clusters == ("idle",)


def test_retention_never_deletes_a_file_an_unselected_job_references() -> None:
    t = target(keep=0, jobs={"select": "listed", "ids": [1]}, clusters={"mode": "off"})
    jobs = (job(1, "tsff-train", "1.2.0"), job(2, "tsff-score", "1.1.0"))
    plan = p.plan(t, RELEASE, snapshot(clusters=(), jobs=jobs))
    assert name("1.1.0") not in {d.wheel for d in plan.deletions}
    assert any("still referenced by job 2 (tsff-score)" in w for w in plan.warnings)


def test_second_plan_after_apply_changes_nothing() -> None:
    t = target(clusters={"mode": "automated", "tags": {"tsff": "prod"}, "restart": "always"})
    snap = snapshot()
    first = p.plan(t, RELEASE, snap)
    after = simulate(snap, first)
    second = p.plan(t, RELEASE, after)
    assert not second.changes_anything
    assert second.steps() == []
    assert second.unchanged_jobs == 3 and second.unchanged_clusters == 3


def test_busy_cluster_is_finished_by_a_later_deploy_once_idle() -> None:
    t = target()
    snap = snapshot()
    after = simulate(snap, p.plan(t, RELEASE, snap))
    busy = next(c for c in after.clusters if c.cluster_id == "busy")
    assert {s.status for s in busy.libraries} == {"UNINSTALL_ON_RESTART", "FAILED"}
    still_busy = p.plan(t, RELEASE, after)
    assert not still_busy.changes_anything  # nothing to do until it is idle
    idle = p.plan(t, RELEASE, dataclasses.replace(after, active_runs=()))
    change = next(c for c in idle.clusters if c.cluster_id == "busy")
    assert change.restart and not change.install and not change.uninstall
    assert idle.steps() == [("restart cluster", "busy (busy)")]


def test_restart_policies() -> None:
    for policy, expected in (("never", False), ("always", True)):
        t = target(clusters={"mode": "automated", "ids": ["busy"], "restart": policy})
        change = p.plan(t, RELEASE, snapshot()).clusters[0]
        assert change.restart is expected
        if policy == "always":
            assert change.note == "restart: always — interrupts 1 active run(s)"


def test_first_install_needs_no_restart() -> None:
    snap = snapshot(clusters=(cluster("fresh", "RUNNING", tags={"tsff": "prod"}),))
    change = p.plan(target(), RELEASE, snap).clusters[0]
    assert (
        change.install == ({"whl": whl("1.3.0")},) and not change.uninstall and not change.restart
    )


def test_pypi_installed_versions_are_uninstalled_too() -> None:
    c = Cluster(
        "c",
        "c",
        "RUNNING",
        tags={"tsff": "prod"},
        libraries=(LibraryStatus({"pypi": {"package": "tsff==1.1.0"}}, "INSTALLED"),),
    )
    change = p.plan(target(), RELEASE, snapshot(clusters=(c,))).clusters[0]
    assert change.uninstall == ({"pypi": {"package": "tsff==1.1.0"}},) and change.restart


def test_manual_mode_never_mutates_clusters() -> None:
    t = target(clusters={"mode": "manual", "tags": {"tsff": "prod"}})
    plan = p.plan(t, RELEASE, snapshot())
    assert len(plan.manual_clusters) == 3
    assert plan.automated_clusters == ()
    assert not any(s.startswith(("update libraries", "restart")) for s, _ in plan.steps())


def test_existing_artifact_with_same_bytes_is_not_uploaded() -> None:
    files = (RemoteFile(name("1.3.0"), 1000),)
    plan = p.plan(target(), RELEASE, snapshot(artifacts=files, digests={name("1.3.0"): "a" * 64}))
    assert plan.upload is None


@pytest.mark.parametrize(("size", "digest"), [(999, "a" * 64), (1000, "b" * 64)])
def test_existing_artifact_with_other_bytes_is_refused(size: int, digest: str) -> None:
    files = (RemoteFile(name("1.3.0"), size),)
    with pytest.raises(PlanError) as info:
        p.plan(target(), RELEASE, snapshot(artifacts=files, digests={name("1.3.0"): digest}))
    assert str(info.value).startswith(f"{ART}/{name('1.3.0')} already exists with different bytes")
    assert "never overwritten" in str(info.value)


def test_missing_folder_is_created_by_the_upload() -> None:
    plan = p.plan(target(), RELEASE, snapshot(artifacts=None))
    assert plan.upload is not None and plan.upload.create_folder


def test_unknown_ids_are_refused_before_anything_changes() -> None:
    with pytest.raises(PlanError, match=r"unknown job id 999 in jobs\.ids"):
        p.plan(target(jobs={"ids": [999]}), RELEASE, snapshot())
    with pytest.raises(PlanError, match=r"unknown cluster id 'nope' in clusters\.ids"):
        p.plan(target(clusters={"mode": "automated", "ids": ["nope"]}), RELEASE, snapshot())
    with pytest.raises(PlanError, match="cluster jobc is a JOB cluster"):
        p.plan(target(clusters={"mode": "automated", "ids": ["jobc"]}), RELEASE, snapshot())
    with pytest.raises(PlanError, match=r"targets\.prod\.smoke\.job: no job named 'missing'"):
        p.plan(target(smoke={"job": "missing"}), RELEASE, snapshot())


def test_job_filters() -> None:
    snap = snapshot(
        jobs=(
            job(1, "tsff-train", "1.2.0", tags={"team": "fc"}),
            job(2, "tsff-score", "1.2.0", tags={"team": "other"}),
            job(3, "legacy-tsff", "1.2.0", tags={"team": "fc"}),
            job(4, "tsff-old", "1.1.0", tags={"team": "fc"}),
        )
    )
    sel = (
        targets.parse(
            {
                "targets": {
                    "t": {
                        "artifacts": ART,
                        "jobs": {"names": ["tsff-*"], "tags": {"team": "fc"}, "exclude": ["*-old"]},
                    }
                }
            }
        )
        .target("t")
        .jobs
    )
    assert [j.job_id for j in p.select_jobs(snap.jobs, sel, "tsff")] == [1]
    sel = dataclasses.replace(sel, ids=(3,))
    assert [j.job_id for j in p.select_jobs(snap.jobs, sel, "tsff")] == [1, 3]


def test_listed_job_without_reference_is_a_warning() -> None:
    plan = p.plan(target(jobs={"select": "listed", "ids": [3]}), RELEASE, snapshot())
    assert "job 3 (unrelated) does not reference tsff" in plan.warnings


def test_unpinned_reference_is_reported_and_left() -> None:
    settings = {
        "name": "float",
        "tasks": [{"task_key": "a", "libraries": [{"pypi": {"package": "tsff>=1"}}]}],
    }
    plan = p.plan(target(), RELEASE, snapshot(jobs=(Job(5, "float", settings),)))
    assert plan.jobs == ()
    assert any("does not pin a version; left as is" in w for w in plan.warnings)


def test_rollback_needs_a_retained_file() -> None:
    rel = p.Release("tsff", "0.9.0", name("0.9.0"), None, None, local=False)
    with pytest.raises(PlanError) as info:
        p.plan(target(), rel, snapshot(), action="rollback")
    assert info.value.what == f"version 0.9.0 is not retained in {ART}"
    assert info.value.fix == "roll back to one of: 1.2.0, 1.1.0, 1.0.0"


def test_rollback_plan_repoints_without_upload() -> None:
    snap = simulate(snapshot(), p.plan(target(keep=3), RELEASE, snapshot()))
    rel = p.Release("tsff", "1.2.0", name("1.2.0"), 900, "c" * 64, local=False)
    plan = p.plan(target(keep=3), rel, snap, action="rollback")
    assert plan.upload is None and plan.action == "rollback"
    assert [j.job_id for j in plan.jobs] == [1, 2, 4]
    assert all(c.changes[0].new == whl("1.2.0") for c in plan.jobs)
    assert name("1.3.0") in {k.wheel for k in plan.kept}


def test_status_reports_versions_and_drift() -> None:
    snap = snapshot()
    st = p.status(target(), "tsff", snap)
    assert st.live == ("1.2.0",) and not st.drift
    by = {(o.kind, o.id): o for o in st.objects}
    assert by[("job", "1")].versions == ("1.2.0",)
    assert by[("cluster", "off")].versions == ("1.2.0",)
    assert p.previous_version(st) == "1.1.0"
    after = simulate(snap, p.plan(target(), RELEASE, snap))
    st2 = p.status(target(), "tsff", after)
    # busy still has 1.2.0 loaded (UNINSTALL_ON_RESTART), the rest runs 1.3.0
    assert st2.live == ("1.3.0", "1.2.0") and st2.drift
    assert by_versions(st2)["busy"] == ("1.2.0",)
    assert by_versions(st2)["off"] == ("1.3.0",)


def by_versions(st: p.Status) -> dict[str, tuple[str, ...]]:
    return {o.id: o.versions for o in st.objects}


def test_plan_json_is_plain_data() -> None:
    import json

    data = p.plan(target(), RELEASE, snapshot()).to_json()
    text = json.dumps(data)
    assert data["changes_anything"] is True and data["steps"][0] == {
        "step": "upload",
        "object": whl("1.3.0"),
    }
    assert "tsff-1.3.0" in text


def test_plain_is_asdict() -> None:
    snap = snapshot()
    manual = {"mode": "manual", "ids": ["other"]}
    groups = [{"mode": "automated", "tags": {"tsff": "prod"}, "restart": "always"}, manual]
    plans = [
        p.plan(target(), RELEASE, snap),
        p.plan(target(clusters=groups, smoke={"job": 3}), RELEASE, snap),
        p.plan(
            target(),
            dataclasses.replace(RELEASE, version="1.1.0", wheel=name("1.1.0"), local=False),
            snap,
            action="rollback",
        ),
    ]
    for plan in plans:
        assert p.plain(plan) == dataclasses.asdict(plan)
        assert repr(p.plain(plan)) == repr(dataclasses.asdict(plan))  # tuples stay tuples
    st = p.status(target(), "tsff", snap)
    assert p.plain(st) == dataclasses.asdict(st)


def test_automated_and_manual_groups_in_one_target() -> None:
    t = target(
        clusters=[
            {"mode": "automated", "ids": ["idle"], "restart": "always"},
            {"mode": "manual", "ids": ["busy"]},
        ]
    )
    plan = p.plan(t, RELEASE, snapshot())
    assert [(c.cluster_id, c.mode) for c in plan.clusters] == [
        ("busy", "manual"),
        ("idle", "automated"),
    ]
    assert [c.cluster_id for c in plan.automated_clusters] == ["idle"]
    st = p.status(t, "tsff", snapshot())
    assert [o.id for o in st.objects if o.kind == "cluster"] == ["busy", "idle"]


def test_a_cluster_in_two_groups_is_refused() -> None:
    t = target(
        clusters=[
            {"mode": "automated", "tags": {"tsff": "prod"}},
            {"mode": "manual", "ids": ["busy"]},
        ]
    )
    with pytest.raises(
        PlanError,
        match=r"cluster busy \(busy\) is selected by clusters\[0\] and clusters\[1\]",
    ):
        p.plan(t, RELEASE, snapshot())


def test_job_tasks_on_shared_clusters_left_on_another_version_are_named() -> None:
    """Tasks with ``existing_cluster_id`` install the wheel on an all-purpose cluster; next to
    another loaded version that fails, so the plan names every such task after the deploy."""

    def on(cid: str, version: str, job_id: int, job_name: str) -> Job:
        j = job(job_id, job_name, version)
        j.settings["tasks"][0]["existing_cluster_id"] = cid
        return j

    snap = snapshot(
        jobs=(
            on("busy", "1.2.0", 11, "on-busy"),  # repointed, busy keeps 1.2.0 (if-idle)
            on("idle", "1.2.0", 12, "on-idle"),  # repointed, idle restarted onto 1.3.0: fine
            on("off", "1.2.0", 13, "on-off"),  # the stopped cluster starts on 1.3.0: fine
            on("other", "1.2.0", 14, "on-other"),  # unselected cluster keeps 1.0.0
        )
    )
    plan = p.plan(target(), RELEASE, snap)
    conflicts = [w for w in plan.warnings if "ERROR_DUPLICATE_INSTALLATION" in w]
    assert conflicts == [
        "job 11 (on-busy): task main installs tsff 1.3.0 on cluster busy (busy), which has "
        "1.2.0 loaded: its runs fail (ERROR_DUPLICATE_INSTALLATION) until the job and the "
        "cluster agree on one version",
        "job 14 (on-other): task main installs tsff 1.3.0 on cluster other (other), which has "
        "1.0.0 loaded: its runs fail (ERROR_DUPLICATE_INSTALLATION) until the job and the "
        "cluster agree on one version",
    ]
    # a job this target does not select stays pinned to 1.2.0, on a cluster the deploy
    # restarts onto 1.3.0
    listed = target(jobs={"select": "listed", "ids": [1]})
    plan = p.plan(
        listed,
        RELEASE,
        snapshot(jobs=(job(1, "tsff-train", "1.2.0"), on("idle", "1.2.0", 12, "on-idle"))),
    )
    assert [w for w in plan.warnings if "ERROR_DUPLICATE_INSTALLATION" in w] == [
        "job 12 (on-idle): task main installs tsff 1.2.0 on cluster idle (idle), which has "
        "1.3.0 loaded: its runs fail (ERROR_DUPLICATE_INSTALLATION) until the job and the "
        "cluster agree on one version"
    ]


def test_retention_keeps_the_replaced_version_and_young_wheels() -> None:
    """keep: 0 still keeps the version the deploy replaces; min_age_days keeps what is younger
    (measured on the workspace's clock, the snapshot's ``now``)."""
    day = 86400.0
    now = 100 * day
    files = tuple(
        RemoteFile(name(v), 1000, now - age * day)
        for v, age in (("1.0.0", 30), ("1.1.0", 3), ("1.2.0", 30))
    )
    snap = snapshot(artifacts=files, clusters=(), now=now)
    plan = p.plan(target(keep=0, min_age_days=7, clusters={"mode": "off"}), RELEASE, snap)
    assert [d.wheel for d in plan.deletions] == [name("1.0.0")]
    reasons = {k.wheel: k.reason for k in plan.kept}
    assert reasons[name("1.2.0")] == "the version live before this deploy"
    assert reasons[name("1.1.0")] == "younger than min_age_days 7 (3.0 days old)"


def test_a_smoke_job_the_deploy_leaves_alone_is_a_warning() -> None:
    """Its run would test the old version: the plan says so and how to fix it."""
    plan = p.plan(
        target(smoke={"job": "tsff-smoke"}, jobs={"names": ["tsff-train", "tsff-score"]}),
        RELEASE,
        snapshot(),
    )
    assert plan.smoke == p.SmokeRun(4, "tsff-smoke", 1800)
    assert (
        "smoke job 4 (tsff-smoke) is not among the jobs this deploy repoints (it references "
        "tsff 1.2.0), so its run does not test 1.3.0 — add it to targets.prod.jobs, or name a "
        "selected job in smoke.job"
    ) in plan.warnings
    selected = p.plan(target(smoke={"job": "tsff-smoke"}), RELEASE, snapshot())
    assert not [w for w in selected.warnings if w.startswith("smoke job")]


def test_a_deploy_older_than_the_live_version_says_it_goes_back() -> None:
    """A deploy that waited for the lock behind a newer one, or an old pipeline re-run, replaces
    the newer live version: allowed (the Environments page's rollback does it), but said."""
    old = p.Release("tsff", "1.0.5", name("1.0.5"), 1000, "b" * 64)
    plan = p.plan(target(), old, snapshot())
    assert "1.0.5 is older than 1.2.0, which is live now: this deploy goes back to 1.0.5" in (
        plan.warnings
    )
    assert not any("goes back" in w for w in p.plan(target(), RELEASE, snapshot()).warnings)

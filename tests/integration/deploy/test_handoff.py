"""The cluster admins' hand-off issue, over its whole life: opened by ``runbook``, commented and
closed by ``status`` once the admin followed it, reopened on drift — against the emulator and a
fake of GitLab's Issues API (GitLab cannot run here)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from support.deployws import CLUSTERS, MUTATING, Workspace, cli, whl
from support.fake_gitlab import FakeGitLab, run_fake_gitlab
from wheelship.deploy import handoff

IDLE, BUSY, TERM, ADMIN, OTHER = CLUSTERS
pytestmark = pytest.mark.usefixtures("ws_env")

AUTOMATED = {"mode": "automated", "tags": {"tsff": "prod"}, "restart": "if-idle", "wait": 600}
MANUAL = {"mode": "manual", "tags": {"tsff": "manual"}}


@pytest.fixture
def gitlab(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitLab]:
    with run_fake_gitlab() as fake:
        monkeypatch.setenv("CI_API_V4_URL", fake.api_url)
        monkeypatch.setenv("CI_PROJECT_ID", fake.project_id)
        monkeypatch.setenv("CI_PIPELINE_URL", "https://gitlab.example/g/p/-/pipelines/7")
        monkeypatch.setenv("WHEELSHIP_GITLAB_TOKEN", fake.tokens["PRIVATE-TOKEN"])
        yield fake


def _admin_follows_the_runbook(ws: Workspace) -> None:
    """What the cluster admin does: the runbook's API calls, as written in runbook.json."""
    book = json.loads((ws.root / "out" / "runbook.json").read_text())
    (entry,) = [c for c in book["clusters"] if c["cluster_id"] == ADMIN]
    for call in entry["api_calls"]:
        resp = requests.request(
            call["method"],
            ws.emu.url + call["path"],
            json=call["body"],
            headers={"Authorization": f"Bearer {ws.emu.token}"},
            timeout=10,
        )
        assert resp.ok, resp.text
    ws.emu.settle()


def _gitlab_writes(gitlab: FakeGitLab) -> list[str]:
    return [f"{r.method} {r.path}" for r in gitlab.requests if r.method in MUTATING]


def test_issue_life_opened_commented_closed_reopened_on_drift(
    ws: Workspace, gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.config(clusters=[AUTOMATED, MANUAL])
    dist = str(ws.dist("1.3.0"))
    assert cli(ws, "deploy", "--dist", dist) == 0
    assert [x["library"]["whl"] for x in ws.emu.cluster_libraries(ADMIN)] == [whl("1.2.0")]

    # opened: one issue, the release, the file and its sha256, one box per manual cluster
    assert cli(ws, "runbook", "--dist", dist, "--issue", "--issue-labels", "ml-admins") == 0
    (issue,) = gitlab.issues.values()
    assert issue["state"] == "opened" and issue["labels"] == ["wheelship-handoff", "ml-admins"]
    assert issue["title"] == "Install tsff 1.3.0 on the manually managed clusters of prod"
    text = issue["description"]
    assert handoff.read_state(text) == handoff.Handoff("prod", "tsff", "1.3.0", (ADMIN,))
    assert f"- file: `{whl('1.3.0')}`" in text
    assert f"- sha256: `{ws.emu.file_sha256(whl('1.3.0'))}`" in text
    assert (
        f"- [ ] **ml-admin-only** (`{ADMIN}`): uninstall 1.2.0; install the new wheel; restart"
        in text
    )
    assert "### In the UI" in text and "/api/2.0/libraries/install" in text
    assert "https://gitlab.example/g/p/-/pipelines/7" in text
    assert (ws.root / "out" / "runbook.md").exists()

    # a rerun of the same release changes nothing
    before = len(_gitlab_writes(gitlab))
    assert cli(ws, "runbook", "--dist", dist, "--issue") == 0
    assert len(_gitlab_writes(gitlab)) == before

    # commented: what is live; an unchanged state is not commented twice
    assert cli(ws, "status", "--issue") == 0
    assert cli(ws, "status", "--issue") == 0
    (note,) = gitlab.user_notes(1)
    assert "0 of 1 cluster(s) run tsff 1.3.0" in note
    assert f"| ml-admin-only (`{ADMIN}`) | 1.2.0 | RUNNING | no |" in note
    assert gitlab.issues[1]["state"] == "opened"

    # closed: the admin followed the runbook; the box is ticked
    _admin_follows_the_runbook(ws)
    assert cli(ws, "status", "--issue", "--fail-on-drift") == 0
    assert gitlab.issues[1]["state"] == "closed"
    closing = gitlab.user_notes(1)[-1]
    assert "1 of 1 cluster(s) run tsff 1.3.0" in closing and "closing this issue" in closing
    assert f"- [x] **ml-admin-only** (`{ADMIN}`)" in gitlab.issues[1]["description"]
    writes = len(_gitlab_writes(gitlab))
    assert cli(ws, "status", "--issue") == 0
    assert len(_gitlab_writes(gitlab)) == writes  # closed and done: left alone

    # reopened on drift: an admin went back to the old version on that cluster
    for method, path, body in (
        ("POST", "/api/2.0/libraries/uninstall", {"libraries": [{"whl": whl("1.3.0")}]}),
        ("POST", "/api/2.0/libraries/install", {"libraries": [{"whl": whl("1.2.0")}]}),
        ("POST", "/api/2.1/clusters/restart", {}),
    ):
        resp = requests.request(
            method,
            ws.emu.url + path,
            json={"cluster_id": ADMIN, **body},
            headers={"Authorization": f"Bearer {ws.emu.token}"},
            timeout=10,
        )
        assert resp.ok, resp.text
    ws.emu.settle()
    assert [x["library"]["whl"] for x in ws.emu.cluster_libraries(ADMIN)] == [whl("1.2.0")]
    assert cli(ws, "status", "--issue") == 0
    assert gitlab.issues[1]["state"] == "opened"
    drift = gitlab.user_notes(1)[-1]
    assert "Drift" in drift and "reopened" in drift
    assert f"- [ ] **ml-admin-only** (`{ADMIN}`)" in gitlab.issues[1]["description"]
    system = [n["body"] for n in gitlab.issue_notes[1] if n["system"]]
    assert system == ["closed", "opened"]

    # one issue all along; nothing in Databricks changed by runbook or status
    assert list(gitlab.issues) == [1]
    out = capsys.readouterr()
    assert gitlab.tokens["PRIVATE-TOKEN"] not in out.out + out.err
    assert "hand-off issue #1 opened" in out.err and "hand-off issue #1 closed" in out.err
    assert "hand-off issue #1 reopened (drift)" in out.err


def test_next_release_updates_the_same_issue_and_reopens_it(
    ws: Workspace, gitlab: FakeGitLab
) -> None:
    ws.config(clusters=[AUTOMATED, MANUAL])
    assert cli(ws, "runbook", "--dist", str(ws.dist("1.3.0")), "--issue") == 0
    gitlab.issues[1]["state"] = "closed"
    assert cli(ws, "runbook", "--dist", str(ws.dist("1.4.0")), "--issue") == 0
    assert list(gitlab.issues) == [1]
    issue = gitlab.issues[1]
    assert issue["state"] == "opened" and "tsff 1.4.0" in issue["title"]
    # nothing was deployed: the runbook (and so the checklist) covers every selected cluster
    assert handoff.read_state(issue["description"]) == handoff.Handoff(
        "prod", "tsff", "1.4.0", (ADMIN, BUSY, IDLE, TERM)
    )
    assert gitlab.user_notes(1) == [
        "Updated for tsff 1.4.0 (was 1.3.0): the checklist and the steps in the description are new."
    ]


def test_without_a_token_the_job_says_how_and_still_writes_the_runbook(
    ws: Workspace,
    gitlab: FakeGitLab,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("WHEELSHIP_GITLAB_TOKEN")
    ws.config(clusters=[AUTOMATED, MANUAL])
    assert cli(ws, "runbook", "--dist", str(ws.dist("1.3.0")), "--issue") == 0
    assert (ws.root / "out" / "runbook.md").exists()
    warnings = [x for x in capsys.readouterr().err.splitlines() if x.startswith("warning:")]
    assert warnings == [
        "warning: no hand-off issue for the cluster admins: the CI/CD variable "
        "WHEELSHIP_GITLAB_TOKEN is empty — create a project access token with the api scope and "
        "the Reporter role (Settings → Access tokens) and add it as a masked CI/CD variable "
        "named WHEELSHIP_GITLAB_TOKEN; the CI job token cannot use the Issues API"
    ]
    assert gitlab.requests == []
    # status still reports (and warns once: the target has manual clusters)
    assert cli(ws, "status", "--issue") == 0
    assert len([x for x in capsys.readouterr().err.splitlines() if x.startswith("warning:")]) == 1


def test_a_rejected_token_fails_with_the_fix_after_writing_the_runbook(
    ws: Workspace,
    gitlab: FakeGitLab,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("WHEELSHIP_GITLAB_TOKEN", "glpat-revoked")
    ws.config(clusters=[AUTOMATED, MANUAL])
    assert cli(ws, "runbook", "--dist", str(ws.dist("1.3.0")), "--issue") == 1
    assert (ws.root / "out" / "runbook.md").exists()
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "error: GitLab refused to list issues (HTTP 401: 401 Unauthorized) — "
        "the token in WHEELSHIP_GITLAB_TOKEN is invalid or expired: renew it"
    )
    assert "glpat-revoked" not in err
    assert not [r for r in ws.emu.requests if r.method in MUTATING]


def test_the_job_token_is_refused_before_any_call(
    ws: Workspace, gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.config(clusters=[AUTOMATED, MANUAL])
    code = cli(
        ws,
        "runbook",
        "--dist",
        str(ws.dist("1.3.0")),
        "--issue",
        "--issue-token-var",
        "CI_JOB_TOKEN",
    )
    assert code == 2
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .startswith(
            "error: the CI job token cannot use the GitLab Issues API (the hand-off issue) — "
        )
    )
    assert gitlab.requests == []

"""``wheelship plan --mr-note`` beyond the CLI test in ``deploy/test_mrnote.py``: one note
per target, GitLab's size limit, pipelines without a merge request, a rejected token — over HTTP
against the fake of GitLab's notes API (``support.fake_gitlab``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.fake_gitlab import FakeGitLab, run_fake_gitlab
from wheelship.deploy.mrnote import MAX_NOTE, marker, post_plan_note
from wheelship.errors import GitLabError

TOKEN = "glpat-note-writer"


def mr_env(fake: FakeGitLab, **extra: str) -> dict[str, str]:
    return {
        "CI": "true",
        "CI_API_V4_URL": fake.api_url,
        "CI_PROJECT_ID": fake.project_id,
        "CI_MERGE_REQUEST_IID": "7",
        "CI_PIPELINE_IID": "3",
        "PLAN_NOTE_TOKEN": TOKEN,
        **extra,
    }


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with run_fake_gitlab(FakeGitLab(tokens={"PRIVATE-TOKEN": TOKEN, "JOB-TOKEN": "job"})) as f:
        yield f


def test_one_note_per_target_created_then_edited(fake: FakeGitLab) -> None:
    env = mr_env(fake)
    assert post_plan_note("# plan A", "prod", "PLAN_NOTE_TOKEN", env) == "created"
    assert post_plan_note("# plan S", "staging", "PLAN_NOTE_TOKEN", env) == "created"
    assert post_plan_note("# plan B", "prod", "PLAN_NOTE_TOKEN", env) == "updated"
    bodies = sorted(n["body"] for n in fake.notes[7])
    assert bodies == [f"{marker('prod')}\n# plan B", f"{marker('staging')}\n# plan S"]
    writes = [r for r in fake.requests if r.method in ("POST", "PUT")]
    assert [r.method for r in writes] == ["POST", "POST", "PUT"]
    assert all(r.headers.get("PRIVATE-TOKEN") == TOKEN for r in fake.requests)


def test_a_huge_plan_is_cut_to_gitlabs_note_limit(fake: FakeGitLab) -> None:
    post_plan_note("x" * (MAX_NOTE + 10), "prod", "PLAN_NOTE_TOKEN", mr_env(fake))
    (note,) = fake.notes[7]
    assert len(note["body"]) <= MAX_NOTE
    assert note["body"].endswith("(truncated: see the plan.md artifact)")


def test_outside_a_merge_request_nothing_is_posted(
    fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    env = mr_env(fake)
    del env["CI_MERGE_REQUEST_IID"]
    assert post_plan_note("# plan", "prod", "PLAN_NOTE_TOKEN", env) is None
    assert fake.requests == []
    assert "not a merge request pipeline, so no note was posted" in capsys.readouterr().err


def test_a_rejected_token_says_to_renew_it(fake: FakeGitLab) -> None:
    with pytest.raises(GitLabError) as err:
        post_plan_note("# plan", "prod", "PLAN_NOTE_TOKEN", mr_env(fake, PLAN_NOTE_TOKEN="wrong"))
    assert str(err.value) == (
        "GitLab refused the plan note (HTTP 401) — the token in PLAN_NOTE_TOKEN is invalid or "
        "expired: renew it"
    )
    assert fake.notes.get(7, []) == []

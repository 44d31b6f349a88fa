"""plan --mr-note against a fake of the GitLab notes API (the only fake: GitLab cannot run here)."""

from __future__ import annotations

import pytest

from support.deployws import Workspace, cli
from support.fake_gitlab import run_fake_gitlab
from wheelship.cli import main

pytestmark = pytest.mark.usefixtures("ws_env")


def test_plan_note_is_created_once_then_edited(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with run_fake_gitlab() as gitlab:
        monkeypatch.setenv("CI_API_V4_URL", gitlab.api_url)
        monkeypatch.setenv("CI_PROJECT_ID", gitlab.project_id)
        monkeypatch.setenv("CI_MERGE_REQUEST_IID", "7")
        monkeypatch.setenv("MY_NOTE_TOKEN", gitlab.tokens["PRIVATE-TOKEN"])
        argv = [
            "plan",
            *ws.cli_options(),
            "--mr-note",
            "--note-token-var",
            "MY_NOTE_TOKEN",
        ]
        assert main([*argv, "--dist", str(ws.dist("1.3.0"))]) == 0
        assert main([*argv, "--dist", str(ws.dist("1.4.0"))]) == 0
        err = capsys.readouterr().err
        assert (
            "plan note created on merge request !7" in err
            and "plan note updated on merge request !7" in err
        )
        (note,) = gitlab.notes[7]
        assert note["body"].startswith(
            "<!-- wheelship-plan:prod -->\n# wheelship deploy plan: tsff 1.4.0 → prod"
        )
        assert gitlab.tokens["PRIVATE-TOKEN"] not in err
        sent = [r for r in gitlab.requests if r.method in {"POST", "PUT"}]
        assert [r.method for r in sent] == ["POST", "PUT"]
        assert all(r.headers.get("PRIVATE-TOKEN") == gitlab.tokens["PRIVATE-TOKEN"] for r in sent)


def test_plan_note_without_token_is_one_clear_error(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CI_API_V4_URL", "http://127.0.0.1:9/api/v4")
    monkeypatch.setenv("CI_PROJECT_ID", "42")
    monkeypatch.setenv("CI_MERGE_REQUEST_IID", "7")
    monkeypatch.delenv("WHEELSHIP_GITLAB_TOKEN", raising=False)
    code = cli(ws, "plan", "--dist", str(ws.dist("1.3.0")), "--mr-note")
    assert code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: --mr-note needs a GitLab token in the CI/CD variable WHEELSHIP_GITLAB_TOKEN, which is empty — "
        "add a project access token with api scope as a masked variable of that name"
    )

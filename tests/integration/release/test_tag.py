"""``wheelship tag`` on real git repositories with a bare ``origin``, pushing over a path or real
smart HTTP, or creating the tag through a fake of GitLab's Releases API."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.fake_gitlab import FakeGitLab, run_fake_gitlab
from support.git_http import GitHttpServer, run_git_http
from support.gitrepo import GitRepo, git
from support.net import refused_port
from support.projects import clean_env
from wheelship.cli import main

__all__ = ["clean_env"]
pytestmark = pytest.mark.usefixtures("clean_env")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["tag", *args])
    out, err = capsys.readouterr()
    return code, out, err


def push_tag(capsys: pytest.CaptureFixture[str], repo: GitRepo, *args: str) -> tuple[int, str, str]:
    """``wheelship tag --method git-push`` in ``repo``."""
    return cli(capsys, "--project", str(repo.path), "--method", "git-push", *args)


#: Pushing over HTTP with the token in PROJECT_TAG_TOKEN, without the fetch from origin first.
HTTP_PUSH = ("--token-var", "PROJECT_TAG_TOKEN", "--no-fetch")


@contextmanager
def http_origin(repo: GitRepo, bare: Path, token: str) -> Iterator[GitHttpServer]:
    """``origin`` of ``repo`` served from ``bare`` over real smart HTTP, taking ``token``."""
    with run_git_http(bare.parent, token) as srv:
        repo.git("remote", "set-url", "origin", srv.url(bare.name))
        yield srv


def origin_tags(bare: Path) -> dict[str, str]:
    out = git(bare, "for-each-ref", "--format=%(refname:strip=2) %(*objectname)", "refs/tags")
    return dict(line.split(" ") for line in out.splitlines())


@pytest.fixture
def project(tmp_path: Path) -> tuple[GitRepo, Path]:
    """main with v1.1.0, then release/1.2 branched off with two commits; pushed to origin."""
    repo = GitRepo.init(tmp_path / "work")
    repo.commit("Initial forecasting library", files={"tsff/__init__.py": "X = 1\n"})
    repo.tag("v1.1.0")
    repo.commit("Add seasonal model", files={"tsff/seasonal.py": "S = 1\n"})
    repo.git("checkout", "-q", "-b", "release/1.2")
    repo.commit("Fix horizon off-by-one", files={"tsff/__init__.py": "X = 2\n"})
    bare = repo.add_bare_origin(tmp_path / "origin.git")
    return repo, bare


def test_first_patch_on_a_release_branch_is_pushed_as_annotated_tag(
    project: tuple[GitRepo, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, bare = project
    code, out, err = push_tag(capsys, repo)
    assert (code, out) == (0, "v1.2.0\n")
    assert f"created tag v1.2.0 at {repo.head()[:8]} on release/1.2 (minor after v1.1.0)" in err
    assert origin_tags(bare)["v1.2.0"] == repo.head()
    assert git(bare, "cat-file", "-t", "v1.2.0") == "tag"
    message = git(bare, "tag", "-l", "--format=%(contents)", "v1.2.0")
    assert message.startswith("Release v1.2.0\n\nChanges since v1.1.0:\n")
    assert "Fix horizon off-by-one (Test Author)" in message
    assert "Add seasonal model (Test Author)" in message
    assert "Initial forecasting library" not in message
    tagger = git(bare, "tag", "-l", "--format=%(taggername) %(taggeremail)", "v1.2.0")
    assert tagger == "wheelship <wheelship@localhost>"


def test_next_patch_and_notes_since_the_previous_patch(
    project: tuple[GitRepo, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, bare = project
    assert push_tag(capsys, repo)[0] == 0
    repo.commit("Handle empty series", files={"tsff/empty.py": "E = 1\n"})
    repo.git("push", "-q", "origin", "release/1.2")
    code, out, _ = push_tag(capsys, repo)
    assert (code, out) == (0, "v1.2.1\n")
    message = git(bare, "tag", "-l", "--format=%(contents)", "v1.2.1")
    assert "Changes since v1.2.0:" in message
    assert "Handle empty series" in message
    assert "Fix horizon off-by-one" not in message


def test_rerun_on_a_tagged_commit_prints_the_tag_and_creates_nothing(
    project: tuple[GitRepo, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, bare = project
    push_tag(capsys, repo)
    before = origin_tags(bare)
    code, out, err = push_tag(capsys, repo)
    assert (code, out) == (0, "v1.2.0\n")
    assert err == (
        f"HEAD ({repo.head()[:8]}) already carries the release tag v1.2.0; nothing to do\n"
    )
    assert origin_tags(bare) == before


def test_old_release_line_is_refused(
    project: tuple[GitRepo, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, bare = project
    # 1.3 was released from main meanwhile, by another clone.
    other = GitRepo.clone(bare, repo.path.parent / "other")
    other.checkout("main")
    other.tag("v1.3.0")
    other.git("push", "-q", "origin", "v1.3.0")
    repo.tag("v1.2.0", ref="HEAD~0")
    repo.git("push", "-q", "origin", "v1.2.0")
    repo.commit("Backport a fix")
    before = origin_tags(bare)
    code, out, err = push_tag(capsys, repo)
    assert (code, out) == (2, "")
    assert err == (
        "error: refusing to tag v1.2.1: the 1.2 line is older than the newest released line "
        "1.3 (v1.3.0), and only one production release is supported — merge the fix into "
        "release/1.3, or turn the policy off with --support-old-lines\n"
    )
    assert origin_tags(bare) == before
    # ... and allowed when the team supports several lines.
    code, out, _ = push_tag(capsys, repo, "--support-old-lines")
    assert (code, out) == (0, "v1.2.1\n")


def test_dirty_tree_is_refused(
    project: tuple[GitRepo, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, bare = project
    repo.write("tsff/__init__.py", "X = 3\n")
    code, out, err = push_tag(capsys, repo)
    assert (code, out) == (2, "")
    assert err == (
        "error: the working tree has uncommitted changes to tracked files (tsff/__init__.py) — "
        "commit or stash them: a release tag must name exactly what was built\n"
    )
    assert "v1.2.0" not in origin_tags(bare)


def test_detached_head_needs_the_branch_which_ci_provides(
    project: tuple[GitRepo, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, bare = project
    repo.git("checkout", "-q", "--detach", "HEAD")
    code, _, err = push_tag(capsys, repo)
    assert code == 2
    assert err == (
        "error: HEAD is detached and no branch is known — pass --branch (GitLab CI sets "
        "CI_COMMIT_BRANCH) or check out the branch\n"
    )
    monkeypatch.setenv("CI_COMMIT_BRANCH", "release/1.2")
    code, out, _ = push_tag(capsys, repo)
    assert (code, out) == (0, "v1.2.0\n")
    assert origin_tags(bare)["v1.2.0"] == repo.head()


def test_shallow_clone_without_tags_fetches_them_before_deciding(
    project: tuple[GitRepo, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo, bare = project
    repo.tag("v1.2.0")
    repo.commit("Second fix")
    repo.git("push", "-q", "origin", "release/1.2", "v1.2.0")
    ci = GitRepo.clone(bare, tmp_path / "ci", depth=1, branch="release/1.2", no_tags=True)
    assert ci.git("tag", "-l") == ""
    code, out, _ = push_tag(capsys, ci)
    assert (code, out) == (0, "v1.2.1\n")
    message = git(bare, "tag", "-l", "--format=%(contents)", "v1.2.1")
    assert "Changes since v1.2.0:\n\n- " in message and "Second fix" in message


def test_a_local_tag_that_differs_from_origin_stops_the_flow(
    project: tuple[GitRepo, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo, bare = project
    other = GitRepo.clone(bare, tmp_path / "other")
    other.checkout("release/1.2")
    other.tag("v1.2.0")
    other.git("push", "-q", "origin", "v1.2.0")
    repo.tag("v1.2.0", ref="HEAD~1")  # same name, other commit
    code, out, err = push_tag(capsys, repo)
    assert (code, out) == (1, "")
    assert err.startswith("error: cannot fetch tags from origin: git fetch --tags origin")
    assert "v1.2.0 -> v1.2.0 (would clobber existing tag)" in " ".join(err.split()), err
    assert err.endswith("must be deleted first (git tag -d NAME)\n")


def test_default_branch_is_tagged_only_when_asked(
    project: tuple[GitRepo, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, bare = project
    repo.checkout("main")
    code, out, err = push_tag(capsys, repo)
    assert (code, out) == (0, "")
    assert err == (
        "no tag: on the default branch main no tag is created unless asked (--bump "
        "major|minor|patch or --version X.Y.Z)\n"
    )
    code, out, _ = push_tag(capsys, repo, "--bump", "minor")
    assert (code, out) == (0, "v1.2.0\n")
    assert origin_tags(bare)["v1.2.0"] == repo.head()


def test_feature_branch_is_refused(
    project: tuple[GitRepo, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _bare = project
    repo.git("checkout", "-q", "-b", "feature/faster")
    code, out, err = push_tag(capsys, repo)
    assert (code, out) == (2, "")
    assert err.startswith(
        "error: branch feature/faster is neither the default branch (main) nor a release branch"
    )


def test_invalid_branch_pattern_is_refused_before_anything_happens(
    project: tuple[GitRepo, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, bare = project
    code, out, err = push_tag(capsys, repo, "--release-branch-pattern", r"^release/(?P<major>\d+)$")
    assert (code, out) == (2, "")
    assert err == (
        "error: release branch pattern '^release/(?P<major>\\\\d+)$' lacks the named groups "
        "minor — use (?P<major>\\d+) and (?P<minor>\\d+), e.g. "
        "^release/(?P<major>\\d+)\\.(?P<minor>\\d+)$\n"
    )
    assert origin_tags(bare) == {"v1.1.0": git(bare, "rev-parse", "v1.1.0^{commit}")}


def test_dry_run_prints_the_plan_and_changes_nothing(
    project: tuple[GitRepo, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, bare = project
    code, out, err = push_tag(capsys, repo, "--dry-run")
    assert code == 0
    assert "warning" not in err  # a path remote needs no token
    lines = out.splitlines()
    assert (
        lines[0]
        == f"would create tag v1.2.0 at {repo.head()[:8]} on release/1.2 (minor after v1.1.0)"
    )
    assert lines[1] == f"via: git push {bare} refs/tags/… (annotated tag)"
    assert lines[2:5] == ["release notes:", "  Release v1.2.0", ""]
    assert repo.git("tag", "-l", "v1.2.0") == ""
    assert "v1.2.0" not in origin_tags(bare)


# --- git push over real smart HTTP with a token from a named variable ---------------------------


@pytest.fixture
def http_project(project: tuple[GitRepo, Path]) -> tuple[GitRepo, Path, str]:
    repo, bare = project
    return repo, bare, "glpat-push-0123456789"


def test_push_over_http_sends_the_token_from_the_named_variable(
    http_project: tuple[GitRepo, Path, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, bare, token = http_project
    with run_git_http(bare.parent, token, user="oauth2") as srv:
        # The CI clone's URL carries the job token, which may not push: it must not be used.
        repo.git(
            "remote",
            "set-url",
            "origin",
            srv.url(bare.name).replace("//", "//gitlab-ci-token:job-0000@"),
        )
        monkeypatch.setenv("PROJECT_TAG_TOKEN", token)
        code, out, err = push_tag(capsys, repo, *HTTP_PUSH)
        assert (code, out) == (0, "v1.2.0\n"), err
        expected = "Basic " + base64.b64encode(f"oauth2:{token}".encode()).decode()
        assert srv.authorizations and set(srv.authorizations) == {expected}
    assert origin_tags(bare)["v1.2.0"] == repo.head()
    assert token not in out + err and "job-0000" not in out + err


HOOK = """#!/bin/sh
# records what a hook can see: its environment and the http config git gives it
{ env; git config --get-regexp '^http' ; } >> "$HOOK_LOG" 2>&1
exit 0
"""


def test_no_hook_sees_the_push_header(
    http_project: tuple[GitRepo, Path, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """S3: the token header is for the remote's URL only, and no hook of the repository (a
    pre-push hook is the project's code) runs while it is set."""
    repo, bare, token = http_project
    hook_log = tmp_path / "hook.log"
    monkeypatch.setenv("HOOK_LOG", str(hook_log))
    for name in ("pre-push", "reference-transaction", "post-update", "push-to-checkout"):
        hook = repo.path / ".git" / "hooks" / name
        hook.write_text(HOOK)
        hook.chmod(0o755)
    # the hooks do run in this repository (the test can fail): a plain push runs pre-push
    repo.git("push", "-q", str(bare), "HEAD:refs/heads/hooks-run")
    assert hook_log.is_file() and "HOOK_LOG" in hook_log.read_text()
    hook_log.unlink()
    basic = base64.b64encode(f"oauth2:{token}".encode()).decode()
    with run_git_http(bare.parent, token, user="oauth2") as srv:
        repo.git("remote", "set-url", "origin", srv.url(bare.name))
        monkeypatch.setenv("PROJECT_TAG_TOKEN", token)
        code, out, err = push_tag(capsys, repo, *HTTP_PUSH)
        assert (code, out) == (0, "v1.2.0\n"), err
        assert set(srv.authorizations) == {f"Basic {basic}"}  # the remote got the header
    seen = hook_log.read_text() if hook_log.exists() else ""
    assert basic not in seen and token not in seen and "extraheader" not in seen.lower()
    assert origin_tags(bare)["v1.2.0"] == repo.head()


def test_push_with_a_wrong_token_fails_and_leaves_no_tag(
    http_project: tuple[GitRepo, Path, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, bare, token = http_project
    with http_origin(repo, bare, token) as srv:
        monkeypatch.setenv("PROJECT_TAG_TOKEN", "glpat-wrong-999999")
        code, out, err = push_tag(capsys, repo, *HTTP_PUSH)
    assert (code, out) == (1, "")
    assert err.startswith(
        f"error: pushing tag v1.2.0 to origin failed: git push --quiet --no-verify {srv.url(bare.name)} "
        "refs/tags/v1.2.0:refs/tags/v1.2.0 failed: "
    )
    assert err.endswith("nothing was created\n")
    assert "glpat-wrong-999999" not in err
    assert repo.git("tag", "-l", "v1.2.0") == ""
    assert "v1.2.0" not in origin_tags(bare)


def test_push_over_http_without_the_token_variable_is_refused(
    http_project: tuple[GitRepo, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, bare, token = http_project
    with http_origin(repo, bare, token) as srv:
        code, out, err = push_tag(capsys, repo, *HTTP_PUSH)
        assert srv.authorizations == []
    assert (code, out) == (2, "")
    assert err == (
        "error: the token for pushing the tag over HTTPS is not set — set the variable named by "
        "--token-var to a project access token with write_repository scope\n"
    )
    assert repo.git("tag", "-l", "v1.2.0") == ""


# --- the Releases API (fake GitLab) --------------------------------------------------------------


@pytest.fixture
def gitlab(project: tuple[GitRepo, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitLab]:
    _repo, bare = project
    with run_fake_gitlab(FakeGitLab(bare_repo=bare)) as fake:
        monkeypatch.setenv("CI_API_V4_URL", fake.api_url)
        monkeypatch.setenv("CI_PROJECT_ID", fake.project_id)
        monkeypatch.setenv("CI_JOB_TOKEN", fake.tokens["JOB-TOKEN"])
        yield fake


def test_release_api_creates_the_release_and_annotated_tag(
    project: tuple[GitRepo, Path], gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, bare = project
    code, out, err = cli(capsys, "--project", str(repo.path))
    assert (code, out) == (0, "v1.2.0\n"), err
    (req,) = gitlab.requests
    assert (req.method, req.path) == ("POST", "/api/v4/projects/42/releases")
    assert req.headers["JOB-TOKEN"] == gitlab.tokens["JOB-TOKEN"]
    assert "PRIVATE-TOKEN" not in req.headers
    assert req.headers["User-Agent"].startswith("wheelship/")
    assert req.body["tag_name"] == "v1.2.0"
    assert req.body["ref"] == repo.head()
    assert req.body["name"] == "v1.2.0"
    assert req.body["tag_message"] == req.body["description"]
    assert req.body["description"].startswith("Release v1.2.0\n\nChanges since v1.1.0:\n\n- ")
    assert "Fix horizon off-by-one" in req.body["description"]
    assert origin_tags(bare)["v1.2.0"] == repo.head()
    assert git(bare, "cat-file", "-t", "v1.2.0") == "tag"
    assert (
        git(bare, "tag", "-l", "--format=%(contents)", "v1.2.0") == req.body["description"].strip()
    )
    assert "via the GitLab Releases API (JOB-TOKEN from $CI_JOB_TOKEN)" in err
    assert gitlab.tokens["JOB-TOKEN"] not in out + err
    # Rerun: the tag is fetched and recognised; GitLab is not called again.
    code, out, _ = cli(capsys, "--project", str(repo.path))
    assert (code, out) == (0, "v1.2.0\n")
    assert len(gitlab.requests) == 1


def test_release_api_rerun_without_fetch_is_idempotent_through_409(
    project: tuple[GitRepo, Path], gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = project
    assert cli(capsys, "--project", str(repo.path), "--no-fetch")[0] == 0
    code, out, err = cli(capsys, "--project", str(repo.path), "--no-fetch")
    assert (code, out) == (0, "v1.2.0\n")
    assert "GitLab already has release v1.2.0 at this commit; nothing to do" in err
    assert [(r.method, r.path) for r in gitlab.requests] == [
        ("POST", "/api/v4/projects/42/releases"),
        ("POST", "/api/v4/projects/42/releases"),
        ("GET", "/api/v4/projects/42/releases/v1.2.0"),
    ]


def test_release_api_with_a_project_access_token(
    project: tuple[GitRepo, Path],
    gitlab: FakeGitLab,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, _ = project
    monkeypatch.setenv("GITLAB_RELEASE_TOKEN", gitlab.tokens["PRIVATE-TOKEN"])
    code, out, _ = cli(capsys, "--project", str(repo.path), "--token-var", "GITLAB_RELEASE_TOKEN")
    assert (code, out) == (0, "v1.2.0\n")
    (req,) = gitlab.requests
    assert req.headers["PRIVATE-TOKEN"] == gitlab.tokens["PRIVATE-TOKEN"]
    assert "JOB-TOKEN" not in req.headers


def test_release_api_missing_token_variable_creates_nothing(
    project: tuple[GitRepo, Path],
    gitlab: FakeGitLab,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, bare = project
    code, out, err = cli(capsys, "--project", str(repo.path), "--token-var", "GITLAB_RELEASE_TOKEN")
    assert (code, out) == (2, "")
    assert err == (
        "error: environment variable GITLAB_RELEASE_TOKEN (named by --token-var) is not set — "
        "set it to a token that may create tags (a CI/CD variable; protected variables reach "
        "protected branches only)\n"
    )
    assert gitlab.requests == []
    assert "v1.2.0" not in origin_tags(bare)


def test_release_api_wrong_token_is_one_line_and_creates_nothing(
    project: tuple[GitRepo, Path],
    gitlab: FakeGitLab,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, bare = project
    monkeypatch.setenv("CI_JOB_TOKEN", "expired-job-token")
    code, out, err = cli(capsys, "--project", str(repo.path))
    assert (code, out) == (1, "")
    assert err == (
        "error: GitLab refused to create release v1.2.0 (HTTP 401: 401 Unauthorized) — the "
        "token in CI_JOB_TOKEN is invalid or expired: renew it\n"
    )
    assert gitlab.releases == {}
    assert "v1.2.0" not in origin_tags(bare)


def test_release_api_forbidden_names_protected_tags(
    project: tuple[GitRepo, Path], gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = project
    gitlab.fail_next["POST /api/v4/projects/42/releases"] = (403, {"message": "403 Forbidden"})
    code, _, err = cli(capsys, "--project", str(repo.path))
    assert code == 1
    assert err == (
        "error: GitLab refused to create release v1.2.0 (HTTP 403: 403 Forbidden) — the token "
        "in CI_JOB_TOKEN may not create release v1.2.0: it needs the Developer role, and a "
        "protected tag pattern must allow it to create the tag\n"
    )


def test_release_api_unreachable_is_one_line(
    project: tuple[GitRepo, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, bare = project
    monkeypatch.setenv("CI_JOB_TOKEN", "job-token-value")
    with refused_port() as port:
        url = f"http://127.0.0.1:{port}/api/v4"
        code, out, err = cli(
            capsys, "--project", str(repo.path), "--api-url", url, "--project-id", "42"
        )
    assert (code, out) == (1, "")
    assert err == (
        f"error: cannot reach the GitLab API at {url} to create release v1.2.0: connection "
        "refused — check --api-url (CI_API_V4_URL) and the network; rerunning is safe\n"
    )
    assert "v1.2.0" not in origin_tags(bare)


def test_release_api_outside_ci_needs_the_api_url(
    project: tuple[GitRepo, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = project
    code, _, err = cli(capsys, "--project", str(repo.path))
    assert code == 2
    assert err == (
        "error: the Releases API method needs --api-url (CI_API_V4_URL) — run in GitLab CI, "
        "pass it, or use --method git-push\n"
    )


def test_release_api_dry_run_sends_nothing(
    project: tuple[GitRepo, Path],
    gitlab: FakeGitLab,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, _ = project
    monkeypatch.delenv("CI_JOB_TOKEN")
    code, out, err = cli(capsys, "--project", str(repo.path), "--dry-run")
    assert code == 0
    assert out.splitlines()[1] == (
        f"via: POST {gitlab.api_url}/projects/42/releases (JOB-TOKEN from $CI_JOB_TOKEN)"
    )
    assert "warning: CI_JOB_TOKEN is not set here: the real run needs it" in err
    assert gitlab.requests == []


def test_settings_from_the_configuration_file(
    project: tuple[GitRepo, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, bare = project
    repo.git("checkout", "-q", "-b", "stable-1.2")
    repo.write(
        "wheelship.yml",
        "version:\n"
        "  tag-pattern: '^rel-(?P<major>\\d+)\\.(?P<minor>\\d+)\\.(?P<patch>\\d+)$'\n"
        "tag:\n"
        "  method: git-push\n"
        "  tag-prefix: rel-\n"
        "  release-branch-pattern: '^stable-(?P<major>\\d+)\\.(?P<minor>\\d+)$'\n",
    )
    repo.commit("Configure wheelship")
    repo.git("push", "-q", "origin", "stable-1.2")
    repo.tag("rel-1.2.0", ref="HEAD~1")
    repo.git("push", "-q", "origin", "rel-1.2.0")
    code, out, err = cli(capsys, "--project", str(repo.path))
    assert (code, out) == (0, "rel-1.2.1\n"), err
    assert origin_tags(bare)["rel-1.2.1"] == repo.head()


def test_unknown_configuration_key_is_refused(
    project: tuple[GitRepo, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = project
    repo.write("wheelship.yml", "tag:\n  methd: git-push\n")
    code, _, err = cli(capsys, "--project", str(repo.path))
    assert code == 2
    assert err.startswith(
        f"error: {repo.path / 'wheelship.yml'}: tag.methd: unknown key — did you mean method? "
    )


def test_release_api_retries_a_transient_failure(
    project: tuple[GitRepo, Path], gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = project
    gitlab.fail_next["POST /api/v4/projects/42/releases"] = (503, {"message": "502 Bad Gateway"})
    code, out, err = cli(capsys, "--project", str(repo.path))
    assert (code, out) == (0, "v1.2.0\n"), err
    assert [r.method for r in gitlab.requests] == ["POST", "POST"]
    assert "v1.2.0" in gitlab.releases


def test_dry_run_outside_ci_still_shows_the_decision(
    project: tuple[GitRepo, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, bare = project
    code, out, err = cli(capsys, "--project", str(repo.path), "--dry-run")
    assert code == 0
    assert out.splitlines()[:2] == [
        f"would create tag v1.2.0 at {repo.head()[:8]} on release/1.2 (minor after v1.1.0)",
        "via: POST <CI_API_V4_URL>/projects/<CI_PROJECT_ID>/releases (JOB-TOKEN from "
        "$CI_JOB_TOKEN)",
    ]
    assert (
        "warning: the real run would fail here: the Releases API method needs --api-url "
        "(CI_API_V4_URL) — run in GitLab CI, pass it, or use --method git-push\n"
    ) in err
    assert "v1.2.0" not in origin_tags(bare)


def test_dry_run_of_an_https_push_names_the_token_it_needs(
    http_project: tuple[GitRepo, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, bare, token = http_project
    with http_origin(repo, bare, token) as srv:
        code, out, err = push_tag(capsys, repo, *HTTP_PUSH, "--dry-run")
        assert srv.authorizations == []
    assert code == 0
    assert out.splitlines()[1] == (
        f"via: git push {srv.url(bare.name)} refs/tags/… (annotated tag) (Authorization header "
        "from $PROJECT_TAG_TOKEN)"
    )
    assert "warning: PROJECT_TAG_TOKEN is not set here: the real run needs it" in err

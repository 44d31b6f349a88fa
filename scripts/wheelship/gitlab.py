"""The GitLab CI environment (predefined variables) as plain data.

The Releases API client below is what ``wheelship tag`` uses to create a release and its tag;
MR notes build on the same environment (see the plan command), and so does the cluster admins'
hand-off issue (Issues API and issue notes, see ``deploy/handoff.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlencode

import requests

from wheelship.errors import GitLabError
from wheelship.log import register_secret
from wheelship.net import (
    DEFAULT_TIMEOUT,
    check_url,
    describe_failure,
    host_of,
    new_session,
    waiting,
    with_retries,
)


@dataclass(frozen=True)
class CiEnv:
    """What a job knows about its pipeline. Empty strings in the environment count as unset."""

    in_ci: bool
    commit_tag: str | None
    commit_branch: str | None
    default_branch: str | None
    pipeline_iid: int | None
    mr_iid: int | None
    mr_target_branch: str | None
    project_id: str | None
    api_url: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CiEnv:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return env.get(name) or None

        def num(name: str) -> int | None:
            value = get(name)
            return int(value) if value and value.isdigit() else None

        return cls(
            in_ci=(get("CI") or "").lower() == "true",
            commit_tag=get("CI_COMMIT_TAG"),
            commit_branch=get("CI_COMMIT_BRANCH"),
            default_branch=get("CI_DEFAULT_BRANCH"),
            pipeline_iid=num("CI_PIPELINE_IID"),
            mr_iid=num("CI_MERGE_REQUEST_IID"),
            mr_target_branch=get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
            project_id=get("CI_PROJECT_ID"),
            api_url=get("CI_API_V4_URL"),
        )

    @property
    def in_pipeline(self) -> bool:
        """Running in a GitLab pipeline (or gitlab-ci-local, which sets CI but not GITLAB_CI)."""
        return self.in_ci and self.pipeline_iid is not None


# --- Releases API ---------------------------------------------------------------------------------
# Only what the tag flow needs. The CI job token may create releases (and with them the tag)
# through the Releases API with the ``JOB-TOKEN`` header; the Tags API does not accept it.


@dataclass(frozen=True)
class GitLabRelease:
    tag_name: str
    commit: str | None
    name: str | None = None


def token_header(token_var: str, kind: str = "auto") -> str:
    """The header a token is sent in: ``JOB-TOKEN`` for the CI job token, ``PRIVATE-TOKEN``
    for personal/project/group access tokens."""
    if kind == "job" or (kind == "auto" and token_var == "CI_JOB_TOKEN"):
        return "JOB-TOKEN"
    return "PRIVATE-TOKEN"


class GitLabClient:
    """A minimal client of one project's API (``/projects/:id/...``): the Releases API for the
    tag flow, and :meth:`request` for the merge-request notes of ``plan --mr-note``."""

    def __init__(
        self,
        api_url: str,
        project_id: str,
        token: str,
        header: str,
        *,
        token_name: str = "the token",  # noqa: S107 - a label, not a secret
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.api_url = check_url(api_url, "GitLab API URL", "fix --api-url (CI_API_V4_URL)")
        self.project_id = project_id
        self.project_path = f"/projects/{quote(project_id, safe='')}"
        register_secret(token)
        self._headers = {header: token, "Accept": "application/json"}
        self._token_name = token_name
        self._session = session or with_retries(new_session())
        self._timeout = timeout

    def url(self, path: str) -> str:
        return f"{self.api_url}{self.project_path}{path}"

    def request(
        self, method: str, path: str, action: str, body: Mapping[str, object] | None = None
    ) -> requests.Response:
        """One call below the project path; connection failures and redirects become one-line
        errors naming ``action``. Status codes are the caller's to judge."""
        try:
            # Never follow a redirect: requests strips only ``Authorization`` on a cross-host
            # redirect, so the PRIVATE-TOKEN / JOB-TOKEN header would travel to the new host
            # (even over plain http). The API does not redirect; a proxy that does is refused.
            with waiting(host_of(self.api_url)):
                resp = self._session.request(
                    method,
                    self.url(path),
                    headers=self._headers,
                    json=body,
                    timeout=self._timeout,
                    allow_redirects=False,
                )
        except requests.RequestException as exc:
            raise GitLabError(
                f"cannot reach the GitLab API at {self.api_url} to {action}: "
                f"{describe_failure(exc, self._timeout)}",
                "check --api-url (CI_API_V4_URL) and the network; rerunning is safe",
            ) from None
        if resp.is_redirect:
            raise redirect_error(resp, self.api_url, action)
        return resp

    def _fail(
        self, resp: requests.Response, action: str, forbidden: str | None = None
    ) -> GitLabError:
        detail = _message(resp)
        status = f"HTTP {resp.status_code}" + (f": {detail}" if detail else "")
        if resp.status_code == 401:
            fix = f"{self._token_name} is invalid or expired: renew it"
        elif resp.status_code == 403:
            fix = f"{self._token_name} may not {action}: " + (
                forbidden
                or "it needs the Developer role, and a protected tag pattern must allow it "
                "to create the tag"
            )
        elif resp.status_code == 404:
            fix = (
                f"check --project-id ({self.project_id}) and that {self._token_name} can see "
                "the project"
            )
        else:
            fix = "check the request against the GitLab Releases API documentation"
        return GitLabError(f"GitLab refused to {action} ({status})", fix)

    def get_release(self, tag_name: str) -> GitLabRelease | None:
        action = f"read release {tag_name}"
        resp = self.request("GET", f"/releases/{quote(tag_name, safe='')}", action)
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._fail(resp, action)
        return _release(resp, action)

    def create_release(
        self, *, tag_name: str, ref: str, description: str, tag_message: str, name: str
    ) -> GitLabRelease | None:
        """Create the release and, with it, the annotated tag at ``ref``.

        Returns None when a release for ``tag_name`` already exists (HTTP 409): the caller
        decides whether that is the same release (idempotent rerun) or a conflict.
        """
        action = f"create release {tag_name}"
        body = {
            "tag_name": tag_name,
            "ref": ref,
            "name": name,
            "description": description,
            "tag_message": tag_message,
        }
        resp = self.request("POST", "/releases", action, body)
        if resp.status_code == 409:
            return None
        if resp.status_code not in (200, 201):
            raise self._fail(resp, action)
        return _release(resp, action)

    # --- Issues API and issue notes (docs.gitlab.com/api/issues, api/notes) ----------------------
    # The CI job token may not use these endpoints: a project access token (api scope) may.

    def find_issues(self, labels: str, search: str | None = None) -> list[Issue]:
        """Issues with all of ``labels`` (comma-separated), open or closed, newest first."""
        action = "list issues"
        query: dict[str, str | int] = {
            "labels": labels,
            "state": "all",
            "order_by": "created_at",
            "sort": "desc",
            "per_page": 100,
        }
        if search:
            query["search"] = search
        resp = self.request("GET", f"/issues?{urlencode(query)}", action)
        if resp.status_code != 200:
            raise self._fail(resp, action, _ISSUE_ROLE)
        data = _json(resp, action)
        if not isinstance(data, list):
            raise GitLabError(
                f"GitLab answered {action} with an unexpected body", "check --api-url"
            )
        return [_issue(item, action) for item in data]

    def create_issue(self, *, title: str, description: str, labels: str) -> Issue:
        action = "open an issue"
        body = {"title": title, "description": description, "labels": labels}
        resp = self.request("POST", "/issues", action, body)
        if resp.status_code not in (200, 201):
            raise self._fail(resp, action, _ISSUE_ROLE)
        return _issue(_json(resp, action), action)

    def edit_issue(
        self,
        iid: int,
        *,
        title: str | None = None,
        description: str | None = None,
        state_event: Literal["close", "reopen"] | None = None,
    ) -> Issue:
        action = f"edit issue #{iid}"
        body: dict[str, str] = {}
        if title is not None:
            body["title"] = title
        if description is not None:
            body["description"] = description
        if state_event is not None:
            body["state_event"] = state_event
        resp = self.request("PUT", f"/issues/{iid}", action, body)
        if resp.status_code != 200:
            raise self._fail(resp, action, _ISSUE_ROLE)
        return _issue(_json(resp, action), action)

    def issue_notes(self, iid: int) -> list[dict[str, Any]]:
        """The issue's notes, newest first (the first page: what the hand-off reads back)."""
        action = f"read the notes of issue #{iid}"
        query = urlencode({"sort": "desc", "order_by": "created_at", "per_page": 100})
        resp = self.request("GET", f"/issues/{iid}/notes?{query}", action)
        if resp.status_code != 200:
            raise self._fail(resp, action, _ISSUE_ROLE)
        data = _json(resp, action)
        return [n for n in data if isinstance(n, dict)] if isinstance(data, list) else []

    def add_issue_note(self, iid: int, body: str) -> None:
        action = f"comment on issue #{iid}"
        resp = self.request("POST", f"/issues/{iid}/notes", action, {"body": body})
        if resp.status_code not in (200, 201):
            raise self._fail(resp, action, _ISSUE_ROLE)


_ISSUE_ROLE = "use a project access token with the api scope and at least the Reporter role"

IssueState = Literal["opened", "closed"]


@dataclass(frozen=True)
class Issue:
    iid: int
    state: IssueState
    title: str
    description: str
    web_url: str


def _json(resp: requests.Response, action: str) -> Any:
    try:
        return resp.json()
    except ValueError:
        raise GitLabError(
            f"GitLab answered {action} with an unexpected body", "check --api-url"
        ) from None


def _issue(data: Any, action: str) -> Issue:
    try:
        state = data["state"]
        if state not in ("opened", "closed"):
            raise ValueError(state)
        return Issue(
            iid=int(data["iid"]),
            state=state,
            title=str(data.get("title") or ""),
            description=str(data.get("description") or ""),
            web_url=str(data.get("web_url") or ""),
        )
    except (KeyError, TypeError, ValueError):
        raise GitLabError(
            f"GitLab answered {action} with an unexpected body", "check --api-url"
        ) from None


def redirect_error(resp: requests.Response, api_url: str, action: str) -> GitLabError:
    """The error for a redirect answer (never followed with a token in the headers)."""
    location = resp.headers.get("Location", "")
    resp.close()
    return GitLabError(
        f"the GitLab API at {api_url} redirected the request to {action} "
        f"(HTTP {resp.status_code} to {location or 'nowhere'}); a token is never sent on",
        "point --api-url (CI_API_V4_URL) at the API itself (https://<gitlab>/api/v4)",
    )


def _message(resp: requests.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text.strip()[:200]
    if isinstance(data, dict):
        msg = data.get("message") or data.get("error") or ""
        return msg if isinstance(msg, str) else str(msg)
    return ""


def _release(resp: requests.Response, action: str) -> GitLabRelease:
    try:
        data = resp.json()
        commit = data.get("commit") or {}
        return GitLabRelease(
            tag_name=str(data["tag_name"]),
            commit=commit.get("id") if isinstance(commit, dict) else None,
            name=data.get("name"),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise GitLabError(
            f"GitLab answered {action} with an unexpected body", "check --api-url"
        ) from None

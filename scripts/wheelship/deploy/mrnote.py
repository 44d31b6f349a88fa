"""Post the plan as a note on the merge request (``wheelship plan --mr-note``).

One note per target and merge request: a later pipeline edits it instead of adding another, so
the MR shows the plan of its latest commit. The token comes from the CI/CD variable *named* by
``--note-token-var`` (never from a flag), and is registered as a secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from wheelship import log
from wheelship.errors import ConfigurationError, GitLabError
from wheelship.gitlab import CiEnv, GitLabClient, token_header

MAX_NOTE = 1_000_000  # GitLab's note body limit


def marker(target: str) -> str:
    return f"<!-- wheelship-plan:{target} -->"


def post_plan_note(
    markdown: str,
    target: str,
    token_var: str,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """Create or update the note; returns ``created``/``updated``, or None outside an MR."""
    env = os.environ if environ is None else environ
    ci = CiEnv.from_env(env)
    if ci.mr_iid is None or not ci.api_url or not ci.project_id:
        log.warn("--mr-note: not a merge request pipeline, so no note was posted")
        return None
    token = env.get(token_var, "")
    if not token:
        raise ConfigurationError(
            f"--mr-note needs a GitLab token in the CI/CD variable {token_var}, which is empty",
            "add a project access token with api scope as a masked variable of that name",
        )
    client = GitLabClient(
        ci.api_url,
        ci.project_id,
        token,
        token_header(token_var),
        token_name=f"the token in {token_var}",
    )
    notes = f"/merge_requests/{ci.mr_iid}/notes"
    action = "post the plan note"
    body = f"{marker(target)}\n{markdown}"
    if len(body) > MAX_NOTE:
        body = body[: MAX_NOTE - 200] + "\n\n… (truncated: see the plan.md artifact)"

    existing = None
    resp = client.request("GET", f"{notes}?per_page=100&sort=desc&order_by=updated_at", action)
    found = resp.json() if resp.ok else []
    if isinstance(found, list):
        for note in found:
            if isinstance(note, dict) and str(note.get("body", "")).startswith(marker(target)):
                existing = note.get("id")
                break
    if existing is not None:
        resp = client.request("PUT", f"{notes}/{existing}", action, {"body": body})
        outcome = "updated"
    else:
        resp = client.request("POST", notes, action, {"body": body})
        outcome = "created"
    if resp.status_code not in (200, 201):
        fix = (
            f"the token in {token_var} is invalid or expired: renew it"
            if resp.status_code == 401
            else f"the token in {token_var} needs the api scope and at least the Reporter role"
        )
        raise GitLabError(f"GitLab refused the plan note (HTTP {resp.status_code})", fix)
    log.info(f"plan note {outcome} on merge request !{ci.mr_iid}")
    return outcome

"""The manual path as a hand-off: one GitLab issue per target for the cluster admins.

Where the pipeline may not install libraries on all-purpose clusters, ``wheelship runbook``
opens (or updates) one issue: the release, the file's path and sha256, a checklist with one box
per cluster, and the runbook's exact UI and API steps. A scheduled ``wheelship status`` follows
it up: it comments with what is live when that changed, ticks the boxes of the clusters that run
the release, closes the issue when every one of them does, and reopens it on drift.

The issue carries its own state in a hidden first line (target, package, version, clusters), so
``status`` needs nothing but the issue to know what was asked. The Issues API does not accept the
CI job token: a project access token (api scope, Reporter role) in a masked CI/CD variable does.
Without one, the commands warn with the fix and carry on: the runbook artifact is the fallback.

The deciders (:func:`describe`, :func:`assess`, :func:`decide`) are pure; :func:`open_or_update`
and :func:`follow_up` are the I/O around them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from wheelship import log
from wheelship.deploy import runbook
from wheelship.deploy.plan import ClusterChange, Plan, Status
from wheelship.deploy.references import library_ref
from wheelship.errors import ConfigurationError
from wheelship.gitlab import CiEnv, GitLabClient, Issue, token_header
from wheelship.options import Resolved

#: The label every hand-off issue has (the issues are found by it and their hidden state line).
LABEL = "wheelship-handoff"
#: GitLab refuses descriptions and notes over 1,048,576 characters.
MAX_TEXT = 1_000_000

_STATE = re.compile(r"\A<!-- wheelship-handoff (\{.*\}) -->")
_STATUS_NOTE = re.compile(r"\A<!-- wheelship-handoff-status ([0-9a-f]{16}) -->")
_BOX = re.compile(r"^- \[[ xX]\] (.*<!-- cluster:(\S+) -->)$", re.MULTILINE)

SETUP_FIX = (
    "create a project access token with the api scope and the Reporter role (Settings → Access "
    "tokens) and add it as a masked CI/CD variable named {var}; the CI job token cannot use the "
    "Issues API"
)


@dataclass(frozen=True)
class Handoff:
    """What an issue asks for, as written in its hidden first line."""

    target: str
    package: str
    version: str
    clusters: tuple[str, ...]

    def line(self) -> str:
        data = {
            "target": self.target,
            "package": self.package,
            "version": self.version,
            "clusters": list(self.clusters),
        }
        return f"<!-- wheelship-handoff {json.dumps(data, sort_keys=True)} -->"


def read_state(description: str) -> Handoff | None:
    """The hand-off an issue description asks for; None for anything else."""
    found = _STATE.match(description)
    if not found:
        return None
    try:
        data = json.loads(found.group(1))
        return Handoff(
            target=str(data["target"]),
            package=str(data["package"]),
            version=str(data["version"]),
            clusters=tuple(str(c) for c in data["clusters"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


# -- the issue (runbook) -----------------------------------------------------------------------


def title(plan: Plan) -> str:
    return (
        f"Install {plan.package} {plan.version} on the manually managed clusters of {plan.target}"
    )


def _versions(libs: Iterable[Mapping[str, object]], package: str) -> str:
    out = []
    for lib in libs:
        found = library_ref(lib, package)
        out.append(found.version if found and found.version else "another file")
    return ", ".join(out)


def _todo(c: ClusterChange, package: str) -> str:
    steps = []
    if c.uninstall:
        steps.append(f"uninstall {_versions(c.uninstall, package)}")
    if c.install:
        steps.append("install the new wheel")
    if c.needs_restart:
        steps.append(
            "restart" if c.state not in ("TERMINATED", "TERMINATING") else "applies at next start"
        )
    return "; ".join(steps) or "check the Libraries tab"


def describe(plan: Plan, pipeline_url: str | None = None) -> str:
    """The issue description: state line, summary, checklist, then the full runbook."""
    state = Handoff(
        plan.target, plan.package, plan.version, tuple(c.cluster_id for c in plan.manual_clusters)
    )
    lines = [
        state.line(),
        f"The deploy pipeline released **{plan.package} {plan.version}** to target "
        f"**{plan.target}** ({plan.host}) but may not change the clusters below. A cluster "
        "admin installs it by following the steps further down.",
        "",
        f"- file: `{plan.artifact}`",
        f"- sha256: `{plan.sha256 or 'unknown'}`"
        + (f" ({plan.size:,} bytes)" if plan.size is not None else ""),
    ]
    if pipeline_url:
        lines.append(f"- pipeline: {pipeline_url}")
    lines += ["", "## Checklist", ""]
    for c in plan.manual_clusters:
        lines.append(
            f"- [ ] **{c.name}** (`{c.cluster_id}`): {_todo(c, plan.package)} "
            f"<!-- cluster:{c.cluster_id} -->"
        )
    lines += [
        "",
        "The scheduled `wheelship status` job ticks a box when it sees the cluster run "
        f"{plan.version} and nothing else, comments with what is live, closes this issue when "
        "every cluster is done and reopens it if one drifts away again.",
        "",
        "---",
        "",
        runbook.runbook_markdown(plan),
    ]
    text = "\n".join(lines)
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 200] + "\n\n… (truncated: see the runbook.md artifact)"
    return text


def tick(description: str, done: Iterable[str]) -> str:
    """The description with the checklist boxes of ``done`` ticked and all others cleared."""
    finished = set(done)

    def box(m: re.Match[str]) -> str:
        return f"- [{'x' if m.group(2) in finished else ' '}] {m.group(1)}"

    return _BOX.sub(box, description)


# -- the follow-up (status) --------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterLive:
    cluster_id: str
    name: str
    versions: tuple[str, ...]
    detail: str

    def runs(self, version: str) -> bool:
        return self.versions == (version,)


@dataclass(frozen=True)
class Assessment:
    handoff: Handoff
    clusters: tuple[ClusterLive, ...]
    missing: tuple[str, ...]  # asked for, but no longer selected or gone from the workspace

    @property
    def done(self) -> tuple[str, ...]:
        return tuple(c.cluster_id for c in self.clusters if c.runs(self.handoff.version))

    @property
    def complete(self) -> bool:
        return len(self.done) == len(self.clusters)

    def digest(self) -> str:
        """What the comment reports, so an unchanged state is not commented twice."""
        data = [[c.cluster_id, list(c.versions), c.detail] for c in self.clusters]
        data.append(["missing", list(self.missing), self.handoff.version])
        return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]


def assess(handoff: Handoff, st: Status) -> Assessment:
    """Every cluster the issue asked for, and every manual-mode cluster of the target (drift
    there reopens the issue too), with what it runs now."""
    clusters = {o.id: o for o in st.objects if o.kind == "cluster"}
    wanted = list(handoff.clusters) + sorted(
        o.id for o in clusters.values() if o.mode == "manual" and o.id not in handoff.clusters
    )
    live = tuple(
        ClusterLive(cid, clusters[cid].name, clusters[cid].versions, clusters[cid].detail)
        for cid in wanted
        if cid in clusters
    )
    missing = tuple(cid for cid in handoff.clusters if cid not in clusters)
    return Assessment(handoff, live, missing)


Outcome = Literal["complete", "pending", "drift", "unchanged"]


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    comment: str | None
    state_event: Literal["close", "reopen"] | None


def _status_note(a: Assessment, outcome: Outcome, pipeline_url: str | None) -> str:
    h = a.handoff
    lines = [
        f"<!-- wheelship-handoff-status {a.digest()} -->",
        "**wheelship status**"
        + (f" ([pipeline]({pipeline_url}))" if pipeline_url else "")
        + f": {len(a.done)} of {len(a.clusters)} cluster(s) run {h.package} {h.version}.",
        "",
        "| Cluster | Live | State | Done |",
        "| --- | --- | --- | --- |",
    ]
    for c in a.clusters:
        lines.append(
            f"| {c.name} (`{c.cluster_id}`) | {', '.join(c.versions) or '—'} | "
            f"{c.detail or '—'} | {'yes' if c.runs(h.version) else 'no'} |"
        )
    if a.missing:
        lines += ["", f"No longer selected or gone from the workspace: {', '.join(a.missing)}."]
    lines.append("")
    if outcome == "complete":
        lines.append(f"Every cluster runs {h.version} and nothing else: closing this issue.")
    elif outcome == "drift":
        lines.append(
            f"Drift: a cluster no longer runs {h.version} alone, so this issue is reopened. "
            "Follow the steps in the description for the clusters marked `no`."
        )
    else:
        lines.append("Still to do: the clusters marked `no` (steps in the description).")
    return "\n".join(lines)


def decide(
    state: Literal["opened", "closed"],
    a: Assessment,
    last_digest: str | None,
    pipeline_url: str | None = None,
) -> Decision:
    """What ``status`` does to the issue: close it when every cluster runs the release, reopen
    it on drift, and otherwise comment only when what is live changed since the last comment."""
    if a.complete:
        if state == "opened":
            return Decision("complete", _status_note(a, "complete", pipeline_url), "close")
        return Decision("unchanged", None, None)
    if state == "closed":
        return Decision("drift", _status_note(a, "drift", pipeline_url), "reopen")
    if last_digest == a.digest():
        return Decision("unchanged", None, None)
    return Decision("pending", _status_note(a, "pending", pipeline_url), None)


# -- I/O ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueSettings:
    token_var: str = "WHEELSHIP_GITLAB_TOKEN"
    labels: tuple[str, ...] = ()

    @classmethod
    def from_options(cls, r: Resolved) -> IssueSettings:
        """The one constructor from resolved options (``runbook --issue``, ``status --issue``)."""
        return cls(token_var=r["issue_token_var"], labels=tuple(r["issue_labels"]))


def _client(
    settings: IssueSettings, env: Mapping[str, str], *, warn_if_missing: bool
) -> GitLabClient | None:
    """The Issues API client, or None (with the warning that says how to set it up)."""
    var = settings.token_var
    if var == "CI_JOB_TOKEN":
        raise ConfigurationError(
            "the CI job token cannot use the GitLab Issues API (the hand-off issue)",
            SETUP_FIX.format(var="WHEELSHIP_GITLAB_TOKEN")
            + ", and name it in issue-token-variable",
        )
    ci = CiEnv.from_env(env)
    if not ci.api_url or not ci.project_id:
        if warn_if_missing:
            log.warn(
                "no hand-off issue: not in a GitLab pipeline (CI_API_V4_URL and CI_PROJECT_ID "
                "are unset) — run the job in GitLab CI, or use the runbook.md artifact"
            )
        return None
    token = env.get(var, "")
    if not token:
        if warn_if_missing:
            log.warn(
                f"no hand-off issue for the cluster admins: the CI/CD variable {var} is empty — "
                + SETUP_FIX.format(var=var)
            )
        return None
    return GitLabClient(
        ci.api_url, ci.project_id, token, token_header(var), token_name=f"the token in {var}"
    )


def _labels(settings: IssueSettings) -> str:
    return ",".join(dict.fromkeys([LABEL, *settings.labels]))


def find(client: GitLabClient, target: str) -> tuple[Issue, Handoff] | None:
    """The newest hand-off issue of ``target``, open or closed."""
    for issue in client.find_issues(LABEL):
        state = read_state(issue.description)
        if state is not None and state.target == target:
            return issue, state
    return None


def open_or_update(
    plan: Plan, settings: IssueSettings, environ: Mapping[str, str] | None = None
) -> str | None:
    """Open the target's hand-off issue, or bring the existing one up to this release.
    Returns what was done (for the log and tests), None when no issue could be reached."""
    env = os.environ if environ is None else environ
    client = _client(settings, env, warn_if_missing=True)
    if client is None:
        return None
    found = find(client, plan.target)
    if not plan.manual_clusters:
        if found and found[0].state == "opened":
            issue = found[0]
            client.add_issue_note(
                issue.iid,
                f"No cluster needs a change for {plan.package} {plan.version}: every selected "
                "cluster runs it. Closing this issue.",
            )
            client.edit_issue(issue.iid, state_event="close")
            log.info(f"hand-off issue #{issue.iid} closed: no cluster needs a change")
            return "closed"
        log.info("no hand-off issue needed: every selected cluster runs this version")
        return "none"
    description = describe(plan, env.get("CI_PIPELINE_URL") or None)
    if found is None:
        issue = client.create_issue(
            title=title(plan), description=description, labels=_labels(settings)
        )
        log.info(f"hand-off issue #{issue.iid} opened for the cluster admins: {issue.web_url}")
        return "opened"
    issue, before = found
    if issue.state == "opened" and issue.description == description:
        log.info(f"hand-off issue #{issue.iid} is up to date: {issue.web_url}")
        return "unchanged"
    client.edit_issue(
        issue.iid,
        title=title(plan),
        description=description,
        state_event="reopen" if issue.state == "closed" else None,
    )
    if before.version != plan.version:
        client.add_issue_note(
            issue.iid,
            f"Updated for {plan.package} {plan.version} (was {before.version}): the checklist "
            "and the steps in the description are new.",
        )
    log.info(f"hand-off issue #{issue.iid} updated for {plan.version}: {issue.web_url}")
    return "updated"


def follow_up(
    st: Status, settings: IssueSettings, environ: Mapping[str, str] | None = None
) -> Outcome | None:
    """Comment on, tick, close or reopen the target's hand-off issue after ``status``.
    None when there is no issue to follow (or no token to reach it)."""
    env = os.environ if environ is None else environ
    manual = any(o.kind == "cluster" and o.mode == "manual" for o in st.objects)
    client = _client(settings, env, warn_if_missing=manual)
    if client is None:
        return None
    found = find(client, st.target)
    if found is None:
        log.info(f"no hand-off issue for {st.target} to follow up")
        return None
    issue, handoff = found
    if handoff.package != st.package:
        log.warn(
            f"hand-off issue #{issue.iid} is about {handoff.package}, not {st.package}: "
            "left alone — close it by hand if it is obsolete"
        )
        return None
    a = assess(handoff, st)
    last = None
    for note in client.issue_notes(issue.iid):
        m = _STATUS_NOTE.match(str(note.get("body", "")))
        if m:
            last = m.group(1)
            break
    decision = decide(issue.state, a, last, env.get("CI_PIPELINE_URL") or None)
    ticked = tick(issue.description, a.done)
    if decision.comment is not None:
        client.add_issue_note(issue.iid, decision.comment)
    if decision.state_event is not None or ticked != issue.description:
        client.edit_issue(
            issue.iid,
            description=ticked if ticked != issue.description else None,
            state_event=decision.state_event,
        )
    done = f"{len(a.done)} of {len(a.clusters)} cluster(s) run {handoff.version}"
    verb = {
        "complete": "closed",
        "drift": "reopened (drift)",
        "pending": "commented",
        "unchanged": "unchanged",
    }[decision.outcome]
    log.info(f"hand-off issue #{issue.iid} {verb}: {done}")
    return decision.outcome

"""The tag flow: read the repository, decide, check, create.

:func:`tag_release` is what ``wheelship tag`` calls. It keeps the steps apart so a check can sit
between the decision and the creation (the API compatibility check refuses a breaking patch):

1. read the repository into a :class:`~wheelship.release.decide.RepoState` (after fetching the tags and
   history from the remote, so a shallow CI clone decides on the same data as the server);
2. :func:`wheelship.release.decide.decide` — pure;
3. every :data:`PreTagCheck` — may raise (nothing has been created yet) or add release-note lines;
4. create the tag: the Releases API (``POST /projects/:id/releases``, which creates the annotated
   tag and a release and starts the tag pipeline) or ``git push`` of an annotated tag with an
   access token read from a named variable.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from wheelship import git, log
from wheelship.building.version import compile_pattern
from wheelship.errors import ConfigurationError, GitError, TagPolicyError
from wheelship.gitlab import CiEnv, GitLabClient, token_header
from wheelship.net import check_url
from wheelship.options import Resolved
from wheelship.release.decide import (
    Bump,
    RepoState,
    TagDecision,
    TagPolicy,
    TagRequest,
    compile_branch_pattern,
    decide,
    release_notes,
    with_releases,
)

Method = Literal["release-api", "git-push"]


@dataclass(frozen=True)
class TagSettings:
    project: Path = Path(".")
    branch: str | None = None
    default_branch: str | None = None
    release_branch_pattern: str | None = None
    tag_pattern: str | None = None
    prefix: str = "v"
    support_old_lines: bool = False
    bump: Bump | None = None
    version: str | None = None
    method: Method = "release-api"
    token_var: str = "CI_JOB_TOKEN"
    token_kind: Literal["auto", "job", "private"] = "auto"
    api_url: str | None = None
    project_id: str | None = None
    remote: str = "origin"
    push_user: str = "oauth2"
    fetch: bool = True
    dry_run: bool = False
    #: For the API compatibility check (compat_gate): allow a breaking change in a patch release
    #: (recorded in the release notes by the check).
    allow_breaking: bool = False

    @classmethod
    def from_options(cls, r: Resolved) -> TagSettings:
        """The one constructor from resolved options (``wheelship tag``)."""
        return cls(
            project=r["project"],
            branch=r["branch"],
            default_branch=r["default_branch"],
            release_branch_pattern=r["release_branch_pattern"],
            tag_pattern=r["tag_pattern"],
            prefix=r["prefix"],
            support_old_lines=r["support_old_lines"],
            bump=r["bump"],
            version=r["version"],
            method=r["method"],
            token_var=r["token_var"],
            token_kind=r["token_kind"],
            api_url=r["api_url"],
            project_id=r["project_id"],
            remote=r["remote"],
            push_user=r["push_user"],
            fetch=not r["no_fetch"],
            dry_run=r["dry_run"],
            allow_breaking=r["allow_breaking"],
        )


#: A check between decision and creation: raise a WheelshipError to refuse (nothing has been
#: created), or return lines to add to the release notes.
PreTagCheck = Callable[[TagDecision, TagSettings, Path], list[str]]


@dataclass(frozen=True)
class TagOutcome:
    decision: TagDecision
    created: bool
    notes: str | None = None


def policy_of(settings: TagSettings) -> TagPolicy:
    return TagPolicy(
        tag_pattern=compile_pattern(settings.tag_pattern),
        release_branch_pattern=compile_branch_pattern(settings.release_branch_pattern),
        prefix=settings.prefix,
        single_production=not settings.support_old_lines,
    )


def tag_release(
    settings: TagSettings,
    *,
    checks: Sequence[PreTagCheck] = (),
    environ: Mapping[str, str] | None = None,
) -> TagOutcome:
    env = os.environ if environ is None else environ
    ci = CiEnv.from_env(env)
    policy = policy_of(settings)
    repo = git.toplevel(settings.project.resolve())
    if repo is None:
        raise ConfigurationError(
            f"{settings.project} is not in a git repository", "run in the project's clone"
        )
    api: _ApiTarget | None = None
    api_problem: str | None = None
    if settings.method == "release-api":
        try:
            api = _api_target(settings, ci)
        except ConfigurationError as exc:
            if not settings.dry_run:
                raise
            api_problem = str(exc)  # a dry run on a laptop still shows the decision
    has_remote = git.has_remote(repo, settings.remote)
    if settings.method == "git-push" and not has_remote:
        raise ConfigurationError(
            f"the repository has no remote {settings.remote!r} to push the tag to",
            "add it, or pass --remote",
        )

    if settings.fetch and has_remote:
        _fetch(repo, settings.remote)
    state = read_state(repo, settings, ci, policy)
    decision = decide(state, policy, TagRequest(settings.bump, settings.version))

    if decision.action == "skip":
        log.info(f"no tag: {decision.reason}")
        return TagOutcome(decision, created=False)
    if decision.action == "exists":
        log.info(f"{decision.reason}; nothing to do")
        log.result(str(decision.tag))
        return TagOutcome(decision, created=False)

    extra: list[str] = []
    for check in checks:
        extra += check(decision, settings, repo)
    since = decision.previous.name if decision.previous else None
    notes = release_notes(decision, git.commits_between(repo, since), extra)
    assert decision.tag is not None
    what = (
        f"tag {decision.tag} at {decision.commit[:8]} on {decision.branch}"
        f" ({_level_text(decision)})"
    )

    if settings.dry_run:
        _print_dry_run(settings, what, notes, api, api_problem, repo, env)
        return TagOutcome(decision, created=False, notes=notes)

    token = _token(settings, env, required=settings.method == "release-api")
    if settings.method == "release-api":
        assert api is not None and token is not None
        created = _create_with_api(settings, decision, notes, api, token)
    else:
        created = _create_with_push(settings, decision, notes, repo, token, env)
    if created:
        log.info(f"created {what} via {_method_text(settings)}")
    log.result(decision.tag)
    return TagOutcome(decision, created=created, notes=notes)


def read_state(repo: Path, settings: TagSettings, ci: CiEnv, policy: TagPolicy) -> RepoState:
    head = git.head(repo)
    branch = settings.branch or ci.commit_branch or git.current_branch(repo)
    default = (
        settings.default_branch
        or ci.default_branch
        or git.remote_default_branch(repo, settings.remote)
        or "main"
    )
    return RepoState(
        head=head,
        branch=branch,
        default_branch=default,
        tags=with_releases(git.tag_targets(repo), policy.tag_pattern),
        merged=frozenset(git.merged_tags(repo, head)),
        dirty_files=tuple(git.dirty_files(repo)),
    )


def _fetch(repo: Path, remote: str) -> None:
    """Fetch every tag and, in a shallow clone, the full history: the next patch number and the
    release notes depend on tags a CI clone does not have."""
    args = ["fetch", "--tags", remote]
    if git.is_shallow(repo):
        args.insert(2, "--unshallow")
    try:
        git.run(repo, *args)
    except GitError as exc:
        raise GitError(
            f"cannot fetch tags from {remote}: {exc.what}",
            "check the remote and its credentials; a local tag that differs from the remote's "
            "must be deleted first (git tag -d NAME)",
        ) from None


@dataclass(frozen=True)
class _ApiTarget:
    api_url: str
    project_id: str


def _api_target(settings: TagSettings, ci: CiEnv) -> _ApiTarget:
    api_url = settings.api_url or ci.api_url
    project_id = settings.project_id or ci.project_id
    if not api_url or not project_id:
        missing = "--api-url (CI_API_V4_URL)" if not api_url else "--project-id (CI_PROJECT_ID)"
        raise ConfigurationError(
            f"the Releases API method needs {missing}",
            "run in GitLab CI, pass it, or use --method git-push",
        )
    return _ApiTarget(check_url(api_url, "GitLab API URL", "fix --api-url"), project_id)


def _token(settings: TagSettings, env: Mapping[str, str], *, required: bool) -> str | None:
    token = env.get(settings.token_var) or None
    if token is None and required:
        raise ConfigurationError(
            f"environment variable {settings.token_var} (named by --token-var) is not set",
            "set it to a token that may create tags (a CI/CD variable; protected variables "
            "reach protected branches only)",
        )
    log.register_secret(token)
    return token


def _level_text(decision: TagDecision) -> str:
    if decision.previous is None:
        return "first release"
    return f"{decision.level} after {decision.previous.name}"


def _method_text(settings: TagSettings) -> str:
    if settings.method == "release-api":
        header = token_header(settings.token_var, settings.token_kind)
        return f"the GitLab Releases API ({header} from ${settings.token_var})"
    return f"git push to {settings.remote}"


def _print_dry_run(
    settings: TagSettings,
    what: str,
    notes: str,
    api: _ApiTarget | None,
    api_problem: str | None,
    repo: Path,
    env: Mapping[str, str],
) -> None:
    log.result(f"would create {what}")
    header = f"({token_header(settings.token_var, settings.token_kind)} from ${settings.token_var})"
    if api is not None:
        client_url = f"{api.api_url}/projects/{api.project_id}/releases"
        log.result(f"via: POST {client_url} {header}")
    elif api_problem is not None:
        log.result(f"via: POST <CI_API_V4_URL>/projects/<CI_PROJECT_ID>/releases {header}")
        log.warn(f"the real run would fail here: {api_problem}")
    needs_token = settings.method == "release-api"
    if settings.method == "git-push":
        url = _strip_userinfo(git.remote_url(repo, settings.remote) or settings.remote)
        needs_token = urlsplit(url).scheme in ("http", "https")
        auth = f" (Authorization header from ${settings.token_var})" if needs_token else ""
        log.result(f"via: git push {url} refs/tags/… (annotated tag){auth}")
    if needs_token and not env.get(settings.token_var):
        log.warn(
            f"{settings.token_var} is not set here: the real run needs it "
            "(protected variables reach protected branches only)"
        )
    log.result("release notes:")
    for line in notes.splitlines():
        log.result(f"  {line}" if line else "")


def _create_with_api(
    settings: TagSettings, decision: TagDecision, notes: str, api: _ApiTarget, token: str
) -> bool:
    assert decision.tag is not None
    client = GitLabClient(
        api.api_url,
        api.project_id,
        token,
        token_header(settings.token_var, settings.token_kind),
        token_name=f"the token in {settings.token_var}",
    )
    release = client.create_release(
        tag_name=decision.tag,
        ref=decision.commit,
        name=decision.tag,
        description=notes,
        tag_message=notes,
    )
    if release is None:  # 409: a release for this tag exists already
        release = client.get_release(decision.tag)
        if release is not None and release.commit == decision.commit:
            log.info(f"GitLab already has release {decision.tag} at this commit; nothing to do")
            return False
        where = release.commit[:8] if release and release.commit else "another commit"
        raise TagPolicyError(
            f"GitLab already has a release {decision.tag} at {where}, not at "
            f"{decision.commit[:8]}; a release tag never moves",
            "fetch the tags (git fetch --tags) and run again to tag the next version",
        )
    if release.commit and release.commit != decision.commit:
        raise TagPolicyError(
            f"GitLab attached release {decision.tag} to the existing tag at "
            f"{release.commit[:8]}, not {decision.commit[:8]}",
            "delete that release in GitLab and run again with tags fetched",
        )
    return True


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def push_invocation(
    remote: str,
    remote_url: str | None,
    tag: str,
    user: str,
    token: str | None,
    environ: Mapping[str, str],
) -> tuple[list[str], dict[str, str]]:
    """The ``git push`` arguments and extra environment for pushing ``tag``.

    Over http(s) the token travels in an ``Authorization`` header set through ``GIT_CONFIG_*``
    environment variables — never on the command line (visible in process lists and CI logs)
    nor in the remote URL (the job token in a CI clone's URL may not push).
    """
    refspec = f"refs/tags/{tag}:refs/tags/{tag}"
    url = remote_url or remote
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return ["push", "--quiet", remote, refspec], {}
    if parts.password:
        log.register_secret(parts.password)
    clean = check_url(_strip_userinfo(url), f"remote {remote} URL", "fix the remote URL")
    if not token:
        raise ConfigurationError(
            "the token for pushing the tag over HTTPS is not set",
            "set the variable named by --token-var to a project access token with "
            "write_repository scope",
        )
    basic = base64.b64encode(f"{user}:{token}".encode()).decode()
    log.register_secret(basic)
    index = int(environ.get("GIT_CONFIG_COUNT", "0") or "0")
    # The header is scoped to the remote's URL (a redirect or a submodule elsewhere does not get
    # it), and no hook runs during this push: a hook inherits the GIT_CONFIG_* variables, so it
    # could read the header. The environment variables count only for this one git process.
    env = {
        "GIT_CONFIG_COUNT": str(index + 2),
        f"GIT_CONFIG_KEY_{index}": f"http.{clean}.extraHeader",
        f"GIT_CONFIG_VALUE_{index}": f"Authorization: Basic {basic}",
        f"GIT_CONFIG_KEY_{index + 1}": "core.hooksPath",
        f"GIT_CONFIG_VALUE_{index + 1}": os.devnull,
    }
    return ["push", "--quiet", "--no-verify", clean, refspec], env


def _identity(repo: Path, env: Mapping[str, str]) -> dict[str, str]:
    """A committer identity for the annotated tag when git has none (CI runners)."""
    if git.config_value(repo, "user.email") or env.get("GIT_COMMITTER_EMAIL"):
        return {}
    return {
        "GIT_COMMITTER_NAME": env.get("GITLAB_USER_NAME") or "wheelship",
        "GIT_COMMITTER_EMAIL": env.get("GITLAB_USER_EMAIL") or "wheelship@localhost",
    }


def _create_with_push(
    settings: TagSettings,
    decision: TagDecision,
    notes: str,
    repo: Path,
    token: str | None,
    env: Mapping[str, str],
) -> bool:
    assert decision.tag is not None
    url = git.remote_url(repo, settings.remote)
    args, push_env = push_invocation(
        settings.remote, url, decision.tag, settings.push_user, token, env
    )
    with tempfile.TemporaryDirectory(prefix="wheelship-tag-") as tmp:
        message = Path(tmp) / "message.md"
        message.write_text(notes, encoding="utf-8")
        git.run(
            repo,
            "tag",
            "--annotate",
            "--cleanup=verbatim",
            f"--file={message}",
            decision.tag,
            decision.commit,
            env=_identity(repo, env),
        )
    try:
        git.run(repo, *args, env=push_env)
    except GitError as exc:
        # Leave the repository as it was: the tag exists nowhere else.
        git.run(repo, "tag", "--delete", decision.tag, check=False)
        raise GitError(
            f"pushing tag {decision.tag} to {settings.remote} failed: {exc.what}",
            "check that the token may push tags (write_repository scope, protected tag rules); "
            "nothing was created",
        ) from None
    return True

"""JobSettings fields that say who manages a job and where its code and identity come from:
``deployment`` (Databricks Asset Bundles), ``edit_mode``, ``git_source`` and ``run_as``.

They round-trip through create/get/update/reset like any other setting; these checks refuse
what the service refuses. Sources: the Jobs API reference (JobSettings) and the SDK's enums
``JobDeploymentKind``, ``JobEditMode`` and ``GitProvider``. ``edit_mode: UI_LOCKED`` locks the
UI only — the API still updates such a job, which is how a bundle redeploys it.
"""

from __future__ import annotations

from typing import Any

from wheelship.emulator.auth import Principal
from wheelship.emulator.wire import ApiError, bad_request, malformed

DEPLOYMENT_KINDS = ("BUNDLE", "SYSTEM_MANAGED")
EDIT_MODES = ("EDITABLE", "UI_LOCKED")
GIT_PROVIDERS = (
    "gitHub",
    "bitbucketCloud",
    "azureDevOpsServices",
    "gitHubEnterprise",
    "bitbucketServer",
    "gitLab",
    "gitLabEnterpriseEdition",
    "awsCodeCommit",
)
GIT_REFS = ("git_branch", "git_tag", "git_commit")
RUN_AS_KEYS = ("user_name", "service_principal_name")


def _object(settings: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = settings.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise malformed(f"expected an object for field '{name}'")
    return value


def validate(settings: dict[str, Any]) -> None:
    deployment = _object(settings, "deployment")
    if deployment is not None:
        if deployment.get("kind") not in DEPLOYMENT_KINDS:
            raise bad_request(
                f"deployment.kind must be one of {', '.join(DEPLOYMENT_KINDS)}, got "
                f"{deployment.get('kind')!r}"
            )
        path = deployment.get("metadata_file_path")
        if path is not None and not isinstance(path, str):
            raise malformed("expected a string for field 'deployment.metadata_file_path'")
    edit_mode = settings.get("edit_mode")
    if edit_mode is not None and edit_mode not in EDIT_MODES:
        raise bad_request(f"edit_mode must be one of {', '.join(EDIT_MODES)}, got {edit_mode!r}")
    git = _object(settings, "git_source")
    if git is not None:
        if not isinstance(git.get("git_url"), str) or not git["git_url"]:
            raise bad_request("Missing required field: git_source.git_url")
        if git.get("git_provider") not in GIT_PROVIDERS:
            raise bad_request(
                f"git_source.git_provider must be one of {', '.join(GIT_PROVIDERS)}, got "
                f"{git.get('git_provider')!r}"
            )
        refs = [k for k in GIT_REFS if git.get(k)]
        if len(refs) != 1:
            raise bad_request(
                "git_source must name exactly one of git_branch, git_tag, git_commit; got "
                f"{', '.join(refs) or 'none'}"
            )
    run_as = _object(settings, "run_as")
    if run_as is not None:
        named = [k for k in RUN_AS_KEYS if run_as.get(k)]
        if len(named) != 1 or not isinstance(run_as[named[0]], str):
            raise bad_request("run_as must name exactly one of user_name, service_principal_name")


def check_run_as(principal: Principal | None, settings: dict[str, Any]) -> None:
    """Jobs docs ("Run a job as a service principal"): only workspace admins may make a job run
    as another *user*; setting a service principal needs that principal's "user" role, which
    the emulator assumes every caller holds."""
    run_as = settings.get("run_as")
    if principal is None or principal.is_admin or not isinstance(run_as, dict):
        return
    user = run_as.get("user_name")
    if user and user != principal.name:
        raise ApiError(
            403,
            "PERMISSION_DENIED",
            f"User {principal.name} is not a workspace admin: only admins can set run_as to "
            f"another user ({user}).",
        )

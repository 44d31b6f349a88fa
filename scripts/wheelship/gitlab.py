"""The GitLab CI environment (predefined variables) as plain data.

The Releases/Tags API client and MR notes build on this (see the tag and plan commands).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class CiEnv:
    """What a job knows about its pipeline. Empty strings in the environment count as unset."""

    in_ci: bool
    in_gitlab: bool
    commit_tag: str | None
    commit_branch: str | None
    ref_name: str | None
    default_branch: str | None
    pipeline_iid: int | None
    pipeline_source: str | None
    mr_iid: int | None
    mr_target_branch: str | None
    project_id: str | None
    api_url: str | None
    server_url: str | None
    project_path: str | None
    commit_sha: str | None

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
            in_gitlab=(get("GITLAB_CI") or "").lower() == "true",
            commit_tag=get("CI_COMMIT_TAG"),
            commit_branch=get("CI_COMMIT_BRANCH"),
            ref_name=get("CI_COMMIT_REF_NAME"),
            default_branch=get("CI_DEFAULT_BRANCH"),
            pipeline_iid=num("CI_PIPELINE_IID"),
            pipeline_source=get("CI_PIPELINE_SOURCE"),
            mr_iid=num("CI_MERGE_REQUEST_IID"),
            mr_target_branch=get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
            project_id=get("CI_PROJECT_ID"),
            api_url=get("CI_API_V4_URL"),
            server_url=get("CI_SERVER_URL"),
            project_path=get("CI_PROJECT_PATH"),
            commit_sha=get("CI_COMMIT_SHA"),
        )

    @property
    def in_pipeline(self) -> bool:
        """Running in a GitLab pipeline (or gitlab-ci-local, which sets CI but not GITLAB_CI)."""
        return self.in_ci and self.pipeline_iid is not None

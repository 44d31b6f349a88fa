"""Workspace files and DBFS behind the same deploy; big jobs and many jobs; every auth method."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from support.deployws import JOB_CLUSTER, Workspace, other_teams_jobs, seed_clusters, seed_jobs, whl
from wheelship.databricks import auth
from wheelship.databricks.client import Client, RetryPolicy
from wheelship.deploy import references, workflow
from wheelship.errors import DatabricksError


@pytest.mark.parametrize("folder", ["/Workspace/Shared/wheels", "dbfs:/FileStore/wheels"])
def test_deploy_to_workspace_files_and_dbfs(
    workspace_factory: Callable[..., Workspace], folder: str
) -> None:
    extra: dict[str, Any] = {}
    if folder.startswith("dbfs:"):
        # DBFS library sources end with Databricks Runtime 14.3 LTS (refused from 15, as the
        # service refuses them: see the next test)
        extra["clusters"] = [
            {**c, "spark_version": "14.3.x-scala2.12"} for c in seed_clusters(folder=folder)
        ]
    ws = workspace_factory(folder=folder, **extra)
    ws.config(
        artifacts=folder,
        keep=1,
        clusters={"mode": "automated", "tags": {"tsff": "prod"}, "restart": "always", "wait": 600},
    )
    plan, _result = workflow.run_deploy(ws.settings("1.3.0"), ws.knobs())
    assert ws.emu.invariants() == []
    new = whl("1.3.0", folder)
    assert plan.artifact == new
    assert ws.emu.file_sha256(new) == plan.sha256
    for job_id in (101, 102, 103, 105):
        assert references.referenced_versions(ws.emu.job_settings(job_id), "tsff") == {"1.3.0"}
    assert not ws.emu.file_exists(whl("1.1.0", folder))  # retention works there too
    # rerun: nothing to change
    again, _ = workflow.run_deploy(ws.settings("1.3.0"), ws.knobs())
    assert not again.changes_anything
    if folder.startswith("dbfs:"):
        assert not any(".partial" in p for p in ws.emu.files("dbfs:/FileStore"))


def test_dbfs_wheels_on_runtime_15_fail_with_the_services_message(
    workspace_factory: Callable[..., Workspace],
) -> None:
    folder = "dbfs:/FileStore/wheels"
    ws = workspace_factory(folder=folder)  # the seed's clusters run 15.4
    ws.allow_violations = True
    ws.config(
        artifacts=folder,
        clusters={"mode": "automated", "tags": {"tsff": "prod"}, "restart": "always", "wait": 600},
    )
    with pytest.raises(DatabricksError, match="FAILED") as info:
        workflow.run_deploy(ws.settings("1.3.0"), ws.knobs())
    assert "DBFS library installations are not supported on DBR 15 or above." in str(info.value)


def big_job(job_id: int, tasks: int) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "settings": {
            "name": f"tsff-fanout-{tasks}",
            "job_clusters": JOB_CLUSTER,
            "tasks": [
                {
                    "task_key": f"t{i:03d}",
                    "job_cluster_key": "main",
                    "python_wheel_task": {
                        "package_name": "tsff",
                        "entry_point": "tsff",
                        "parameters": [str(i)],
                    },
                    "libraries": [{"whl": whl("1.2.0")}],
                }
                for i in range(tasks)
            ],
        },
    }


def test_jobs_with_more_than_100_tasks_and_workspaces_with_many_jobs(
    workspace_factory: Callable[..., Workspace],
) -> None:
    filler = other_teams_jobs(230)
    ws = workspace_factory(jobs=[*seed_jobs(), big_job(900, 150), *filler])
    ws.config(clusters={"mode": "off"})
    plan, _ = workflow.run_deploy(ws.settings("1.3.0"), ws.knobs())
    assert 900 in [j.job_id for j in plan.jobs]
    after = ws.emu.job_settings(900)
    assert len(after["tasks"]) == 150
    assert references.referenced_versions(after, "tsff") == {"1.3.0"}
    assert [t["python_wheel_task"]["parameters"] for t in after["tasks"]] == [
        [str(i)] for i in range(150)
    ]
    gets = [r for r in ws.emu.requests if r.path == "/api/2.2/jobs/get"]
    # the plan's read: only the truncated job is read again (two pages); right before the
    # updates the changed jobs are read once more: the 4 seed jobs through their list page,
    # job 900 (truncated there) with jobs/get (two pages); the check after the changes reads
    # the truncated job again (two pages)
    assert len(gets) == 2 + 2 + 2
    pages = [r for r in ws.emu.requests if r.path == "/api/2.2/jobs/list"]
    # 237 jobs, 100 per page: the plan's read (3 pages); the one page that holds the jobs to
    # change, read again right before their updates, and once more after them
    assert len(pages) == 3 + 1 + 1
    assert pages[3].query == pages[4].query
    assert ws.emu.invariants() == []


def client_for(ws: Workspace, env: dict[str, str]) -> Client:
    creds = auth.resolve(ws.emu.url, None, env)
    from wheelship.databricks.client import pooled_session

    session = pooled_session(2)
    return Client(creds.host, auth.build(creds, session, env), session=session)


SP = {
    "application_id": "5f1c6a2e-0000-4000-8000-000000000001",
    "secret": "dose-sp-secret",
    "permission": "admin",
}


def test_oauth_m2m_against_the_workspace(
    workspace_factory: Callable[..., Workspace], tmp_path: Any
) -> None:
    ws = workspace_factory(service_principals=[SP])
    env = {
        "DATABRICKS_HOST": ws.emu.url,
        "DATABRICKS_CLIENT_ID": SP["application_id"],
        "DATABRICKS_CLIENT_SECRET": SP["secret"],
        "DATABRICKS_CONFIG_FILE": str(tmp_path / "x"),
    }
    client = client_for(ws, env)
    assert client.auth.name == "oauth-m2m"
    assert client.get("/api/2.2/jobs/get", {"job_id": 101})["settings"]["name"] == "tsff-train"
    plan, _ = workflow.run_deploy(ws.settings("1.3.0"), ws.knobs(environ=env))
    assert plan.jobs


def test_gitlab_oidc_token_exchange_against_the_workspace(
    workspace_factory: Callable[..., Workspace], tmp_path: Any
) -> None:
    import base64
    import hashlib
    import hmac
    import json
    import time

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    claims = {
        "iss": "https://gitlab.example.com",
        "aud": "databricks-account",
        "sub": "project_path:ml/tsff:ref_type:tag:ref:v1.3.0",
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
    }
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(b"gitlab-shared", f"{header}.{body}".encode(), hashlib.sha256).digest())
    jwt = f"{header}.{body}.{sig}"
    ws = workspace_factory(
        service_principals=[SP],
        oidc_federation=[
            {
                "issuer": "https://gitlab.example.com",
                "audiences": ["databricks-account"],
                "subject": "project_path:ml/tsff:ref_type:tag:ref:v1.3.0",
                "service_principal": SP["application_id"],
                "hs256_secret": "gitlab-shared",
            }
        ],
    )
    env = {
        "DATABRICKS_HOST": ws.emu.url,
        "DATABRICKS_AUTH_TYPE": "env-oidc",
        "DATABRICKS_CLIENT_ID": SP["application_id"],
        "DATABRICKS_OIDC_TOKEN_ENV": "WHEELSHIP_ID_TOKEN",
        "WHEELSHIP_ID_TOKEN": jwt,
        "DATABRICKS_CONFIG_FILE": str(tmp_path / "x"),
    }
    plan, _ = workflow.run_deploy(ws.settings("1.3.0"), ws.knobs(environ=env))
    assert plan.jobs
    assert ws.emu.invariants() == []
    # a token for another ref is refused by the federation policy: one clear error
    wrong = dict(env, WHEELSHIP_ID_TOKEN=jwt[:-4] + "AAAA")
    from wheelship.errors import DatabricksError

    with pytest.raises(DatabricksError, match="authenticate: env-oidc: the token endpoint refused"):
        workflow.run_status(ws.settings("1.3.0"), ws.knobs(environ=wrong))


def test_profiles_file(ws: Workspace, tmp_path: Any) -> None:
    cfg = tmp_path / "databrickscfg"
    cfg.write_text(f"[PROD]\nhost = {ws.emu.url}\ntoken = {ws.emu.token}\n")
    ws.config(profile="PROD")
    st = workflow.run_status(
        ws.settings("1.3.0"), ws.knobs(environ={"DATABRICKS_CONFIG_FILE": str(cfg)})
    )
    assert st.live == ("1.2.0",)


def test_other_auth_types_are_delegated_to_the_sdk(
    workspace_factory: Callable[..., Workspace], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace_factory(service_principals=[SP])
    # The SDK reads its own environment; give it the M2M credentials through it.
    monkeypatch.setenv("DATABRICKS_HOST", ws.emu.url)
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", SP["application_id"])
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", SP["secret"])
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("DATABRICKS_TOKEN", raising=False)
    sdk = auth.SdkAuth("oauth-m2m", ws.emu.url, None)
    assert sdk.name == "sdk:oauth-m2m"
    headers = sdk.headers()
    assert headers["Authorization"].startswith("Bearer ")
    from wheelship import log

    assert headers["Authorization"].split(" ", 1)[1] not in log.redact(headers["Authorization"])


@pytest.mark.parametrize("kind", ["429", "429-no-retry-after", "503", "reset"])
def test_token_requests_are_retried_and_counted_like_workspace_calls(
    workspace_factory: Callable[..., Workspace], tmp_path: Any, kind: str
) -> None:
    """The OAuth token endpoint answers 429 (with and without Retry-After), 503 or resets the
    connection twice: the deploy retries as for any call, and counts the requests."""
    ws = workspace_factory(service_principals=[SP])
    ws.emu.add_fault(kind, endpoint="POST /oidc/v1/token", count=2)
    env = {
        "DATABRICKS_HOST": ws.emu.url,
        "DATABRICKS_CLIENT_ID": SP["application_id"],
        "DATABRICKS_CLIENT_SECRET": SP["secret"],
        "DATABRICKS_CONFIG_FILE": str(tmp_path / "x"),
    }
    plan, result = workflow.run_deploy(
        ws.settings("1.3.0", retry=RetryPolicy(base=0.05, cap=0.2)), ws.knobs(environ=env)
    )
    assert plan.jobs and result.problems == []
    tokens = [r for r in ws.emu.requests if r.path == "/oidc/v1/token"]
    assert len(tokens) == 3  # two faults, then the token
    assert result.request_counts["POST /oidc/v1/token"] == 3

"""No credential anywhere: the full stdout/stderr (debug logging on) and every file written by
representative runs of every deploy command, with each auth method, successful and failing.

Scanned for: the PAT, the OAuth client secret (and its Basic form), the CI ID token, every
access token the workspace issued during the run, and the GitLab token of ``--mr-note``.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from support.deployws import Workspace
from support.fake_gitlab import run_fake_gitlab
from wheelship.cli import main
from wheelship.emulator.auth import make_jwt

SP = {
    "application_id": "5f1c6a2e-0000-4000-8000-00000000beef",
    "secret": "dose-client-secret-9f8e7d",
    "permission": "admin",
}
ISSUER = "https://gitlab.example.com"
SUBJECT = "project_path:ml/tsff:ref_type:tag:ref:v1.3.0"
SIGNING = "gitlab-signing-key-secret"


def id_token() -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "acct", "sub": SUBJECT, "iat": now, "exp": now + 600}
    return make_jwt(claims, SIGNING)


def scan(texts: Iterable[str], roots: Iterable[Path], secrets: Iterable[str]) -> list[str]:
    """Where any secret shows up: in a text, or in any file under the roots (bytes compared,
    so binary files count too)."""
    found = []
    secrets = [s for s in secrets if s]
    for i, text in enumerate(texts):
        for secret in secrets:
            if secret in text:
                found.append(f"output #{i} contains {secret[:6]}…")
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            data = path.read_bytes()
            for secret in secrets:
                if secret.encode() in data:
                    found.append(f"{path} contains {secret[:6]}…")
    return found


def issued_tokens(ws: Workspace) -> list[str]:
    with ws.emu.state() as state:
        return list(state.auth._issued)


@pytest.fixture
def secure_ws(
    workspace_factory: Callable[..., Workspace], monkeypatch: pytest.MonkeyPatch
) -> Workspace:
    ws = workspace_factory(
        service_principals=[SP],
        oidc_federation=[
            {
                "issuer": ISSUER,
                "audiences": ["acct"],
                "subject": SUBJECT,
                "service_principal": SP["application_id"],
                "hs256_secret": SIGNING,
            }
        ],
    )
    # automated and manual clusters, a smoke run: every artifact kind gets written
    ws.config(
        keep=1,
        smoke={"job": "tsff-smoke", "timeout": 600},
        clusters=[
            {"mode": "automated", "tags": {"tsff": "prod"}, "restart": "always", "wait": 600},
            {"mode": "manual", "tags": {"tsff": "manual"}},
        ],
    )
    for key in list(os.environ):
        if key.startswith(("DATABRICKS_", "WHEELSHIP_", "CI_", "GITLAB")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("WHEELSHIP_VERBOSE", "1")
    monkeypatch.setenv("DATABRICKS_HOST", ws.emu.url)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(ws.root / "no-databrickscfg"))
    monkeypatch.setenv("WHEELSHIP_CONFIG", str(ws.root / "wheelship.yml"))
    monkeypatch.setenv("WHEELSHIP_TARGET", "prod")
    monkeypatch.setenv("WHEELSHIP_OUT", str(ws.root / "out"))
    monkeypatch.setenv("WHEELSHIP_PROJECT", str(ws.root))
    return ws


def run_all(ws: Workspace, capsys: pytest.CaptureFixture[str], version: str) -> list[str]:
    """Every deploy command once; returns their stdout and stderr."""
    dist = str(ws.dist(version))
    outputs = []
    for argv, code in (
        (["config", "--check"], 0),
        (["plan", "--dist", dist], 0),
        (["deploy", "--dist", dist], 0),
        (["deploy", "--dist", dist], 0),  # nothing to change
        (["status"], 0),
        (["status", "--format", "json"], 0),
        (["runbook", "--dist", dist], 0),
        (["rollback"], 0),
        (["status", "--fail-on-drift"], 0),
    ):
        got = main(argv)
        captured = capsys.readouterr()
        assert got == code, (argv, captured.err)
        outputs += [captured.out, captured.err]
    return outputs


def test_pat_never_leaks(
    secure_ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = secure_ws
    # pasted with a trailing newline, as CI variables often are: it works, and stays masked
    monkeypatch.setenv("DATABRICKS_TOKEN", ws.emu.token + "\n")
    outputs = run_all(ws, capsys, "1.3.0")
    assert "debug: databricks: " in "".join(outputs)  # the debug log was on
    assert (ws.root / "out" / "runbook.md").is_file()
    assert (ws.root / "out" / "deploy-report.json").is_file()
    assert scan(outputs, [ws.root], [ws.emu.token]) == []


def test_oauth_m2m_secret_and_access_tokens_never_leak(
    secure_ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = secure_ws
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", SP["application_id"])
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", SP["secret"])
    outputs = run_all(ws, capsys, "1.3.0")
    issued = issued_tokens(ws)
    assert issued  # the runs really used OAuth
    basic = base64.b64encode(f"{SP['application_id']}:{SP['secret']}".encode()).decode()
    assert scan(outputs, [ws.root], [SP["secret"], basic, *issued]) == []
    # a wrong secret: one line naming the refusal, no secret
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", "wrong-secret-value-1234")
    assert main(["status"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1] == (
        "error: authenticate: oauth-m2m: the token endpoint refused: invalid_client: Client "
        "authentication failed — check the client id/secret or the federation policy (issuer, "
        "audience, subject)"
    )
    assert scan([captured.out, captured.err], [], ["wrong-secret-value-1234", SP["secret"]]) == []


def test_oidc_id_token_and_exchanged_tokens_never_leak(
    secure_ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = secure_ws
    jwt = id_token()
    monkeypatch.setenv("DATABRICKS_AUTH_TYPE", "env-oidc")
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", SP["application_id"])
    monkeypatch.setenv("DATABRICKS_OIDC_TOKEN_ENV", "WHEELSHIP_ID_TOKEN")
    monkeypatch.setenv("WHEELSHIP_ID_TOKEN", jwt)
    outputs = run_all(ws, capsys, "1.3.0")
    issued = issued_tokens(ws)
    assert issued
    # the signature alone is what makes the ID token usable: it must not show either
    assert scan(outputs, [ws.root], [jwt, jwt.rsplit(".", 1)[1], *issued]) == []


def test_failing_runs_never_leak(
    secure_ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = secure_ws
    bad = "dapi-not-a-valid-token-0001"
    cases = [
        ({"DATABRICKS_TOKEN": bad}, ["status"], 1),
        ({"DATABRICKS_TOKEN": "dapi-reader-token"}, ["deploy", "--dist", str(ws.dist("1.3.0"))], 2),
        ({"DATABRICKS_TOKEN": "dapi-ctl\x01char-0002"}, ["status"], 1),
        (
            {"DATABRICKS_TOKEN": ws.emu.token, "DATABRICKS_CLIENT_SECRET": "x-secret-0003"},
            ["status"],
            2,
        ),
    ]
    outputs = []
    for env, argv, code in cases:
        with monkeypatch.context() as m:
            for key, value in env.items():
                m.setenv(key, value)
            assert main(argv) == code
        captured = capsys.readouterr()
        lines = [ln for ln in captured.err.splitlines() if ln.startswith("error:")]
        assert len(lines) == 1 and lines[0] == captured.err.splitlines()[-1], captured.err
        assert "Traceback" not in captured.err
        outputs += [captured.out, captured.err]
    secrets = [bad, "dapi-reader-token", "dapi-ctl\x01char-0002", "x-secret-0003", ws.emu.token]
    assert scan(outputs, [ws.root], secrets) == []


def test_mr_note_token_never_leaks(
    secure_ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = secure_ws
    monkeypatch.setenv("DATABRICKS_TOKEN", ws.emu.token)
    with run_fake_gitlab() as gitlab:
        monkeypatch.setenv("CI_API_V4_URL", gitlab.api_url)
        monkeypatch.setenv("CI_PROJECT_ID", gitlab.project_id)
        monkeypatch.setenv("CI_MERGE_REQUEST_IID", "7")
        monkeypatch.setenv("NOTE_TOKEN", gitlab.tokens["PRIVATE-TOKEN"])
        argv = ["plan", "--dist", str(ws.dist("1.3.0")), "--mr-note", "--note-token-var"]
        assert main([*argv, "NOTE_TOKEN"]) == 0
        captured = capsys.readouterr()
        assert gitlab.notes[7]
        note = gitlab.notes[7][0]["body"]
    secrets = [gitlab.tokens["PRIVATE-TOKEN"], ws.emu.token]
    assert scan([captured.out, captured.err, note], [ws.root], secrets) == []

"""A FAKE of GitLab's project Releases API, on loopback — not GitLab.

GitLab itself cannot run here, so this small server stands in for the two endpoints
``wheelship tag`` calls, with the behaviour documented at docs.gitlab.com/api/releases:

* ``POST /api/v4/projects/:id/releases`` (JSON ``tag_name``, ``ref``, ``name``, ``description``,
  ``tag_message``): 201 with the release; 409 ``Release already exists``; 401 without a valid
  ``JOB-TOKEN``/``PRIVATE-TOKEN`` header; 404 for another project; 400 when ``ref`` is missing
  and the tag does not exist. With ``bare_repo`` set it creates the tag there as GitLab would
  (annotated when ``tag_message`` is given), so a later ``git fetch --tags`` sees it.
* ``GET /api/v4/projects/:id/releases/:tag_name``: 200 or 404.

Every request is recorded (method, path, headers, JSON body) so tests check exactly what wheelship
sent. ``fail_next`` injects one canned response for a ``"METHOD /path"`` key.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGitLab:
    project_id: str = "42"
    project_path: str = "group/project"
    tokens: dict[str, str] = field(
        default_factory=lambda: {"JOB-TOKEN": "job-token-value", "PRIVATE-TOKEN": "glpat-value"}
    )
    bare_repo: Path | None = None
    requests: list[Recorded] = field(default_factory=list)
    releases: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: dict[str, tuple[int, Any]] = field(default_factory=dict)
    port: int = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v4"

    # --- behaviour -----------------------------------------------------------------------------

    def _authorised(self, headers: dict[str, str]) -> bool:
        lowered = {k.lower(): v for k, v in headers.items()}
        return any(lowered.get(h.lower()) == v for h, v in self.tokens.items())

    def _resolve(self, ref: str) -> str | None:
        if self.bare_repo is None:
            return ref if len(ref) == 40 else None
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            cwd=self.bare_repo,
            capture_output=True,
            text=True,
            check=False,
        )
        return proc.stdout.strip() or None

    def _tag_commit(self, tag: str) -> str | None:
        return self._resolve(f"refs/tags/{tag}") if self.bare_repo is not None else None

    def handle(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        self.requests.append(Recorded(method, path, headers, body))
        key = f"{method} {path}"
        if key in self.fail_next:
            return self.fail_next.pop(key)
        prefix = "/api/v4/projects/"
        if not path.startswith(prefix):
            return 404, {"error": "404 Not Found"}
        rest = path[len(prefix) :]
        project, _, sub = rest.partition("/")
        if unquote(project) not in (self.project_id, self.project_path):
            return 404, {"message": "404 Project Not Found"}
        if not self._authorised(headers):
            return 401, {"message": "401 Unauthorized"}
        if method == "POST" and sub == "releases":
            return self._create(body)
        if method == "GET" and sub.startswith("releases/"):
            tag = unquote(sub[len("releases/") :])
            if tag in self.releases:
                return 200, self.releases[tag]
            return 404, {"message": "404 Not Found"}
        return 404, {"error": "404 Not Found"}

    def _create(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not body.get("tag_name"):
            return 400, {"error": "tag_name is missing"}
        tag = str(body["tag_name"])
        if tag in self.releases:
            return 409, {"message": "Release already exists"}
        commit = self._tag_commit(tag)
        if commit is None:
            ref = body.get("ref")
            if not ref:
                return 400, {"message": "Ref is not specified"}
            commit = self._resolve(str(ref))
            if commit is None:
                return 400, {"message": "Ref is invalid"}
            if self.bare_repo is not None:
                args = ["git", "tag"]
                if body.get("tag_message"):
                    args += ["-a", "-m", str(body["tag_message"])]
                subprocess.run(
                    [*args, tag, commit],
                    cwd=self.bare_repo,
                    check=True,
                    capture_output=True,
                    env={
                        **os.environ,
                        "GIT_COMMITTER_NAME": "GitLab",
                        "GIT_COMMITTER_EMAIL": "gitlab@example.com",
                    },
                )
        release = {
            "tag_name": tag,
            "name": body.get("name") or tag,
            "description": body.get("description") or "",
            "commit": {"id": commit},
        }
        self.releases[tag] = release
        return 201, release


def _handler(fake: FakeGitLab) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1  # one send per response (avoids Nagle/delayed-ACK stalls)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            status, obj = fake.handle(
                self.command, urlsplit(self.path).path, dict(self.headers.items()), body
            )
            payload = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def run_fake_gitlab(fake: FakeGitLab | None = None) -> Iterator[FakeGitLab]:
    fake = fake or FakeGitLab()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

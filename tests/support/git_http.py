"""Real git over smart HTTP on loopback: ``git http-backend`` behind a tiny server with Basic auth.

Lets tests push tags over ``http://127.0.0.1:PORT/<repo>.git`` exactly as a runner pushes to
GitLab over HTTPS, and check the credentials git sent (the server records every request's
``Authorization`` header). Requests without the right ``user:token`` get 401.
"""

from __future__ import annotations

import base64
import gzip
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from support.net import serving


@dataclass
class GitHttpServer:
    root: Path  # directory holding bare repositories
    token: str
    user: str | None = None  # None: any user name
    port: int = 0
    authorizations: list[str | None] = field(default_factory=list)

    def url(self, repo: str) -> str:
        return f"http://127.0.0.1:{self.port}/{repo}"

    def allowed(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        user, _, token = base64.b64decode(header[6:]).decode().partition(":")
        return token == self.token and (self.user is None or user == self.user)


def _handler(srv: GitHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                data = b"".join(chunks)
            else:
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                data = gzip.decompress(data)
            return data

        def _serve(self) -> None:
            auth = self.headers.get("Authorization")
            srv.authorizations.append(auth)
            body = self._body() if self.command == "POST" else b""
            if not srv.allowed(auth):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            parts = urlsplit(self.path)
            env = {
                **os.environ,
                "GIT_PROJECT_ROOT": str(srv.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": parts.path,
                "QUERY_STRING": parts.query,
                "REQUEST_METHOD": self.command,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": "tester",
                "REMOTE_ADDR": "127.0.0.1",
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            }
            proc = subprocess.run(
                ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
            )
            head, _, payload = proc.stdout.partition(b"\r\n\r\n")
            status = 200
            headers = []
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def run_git_http(root: Path, token: str, user: str | None = None) -> Iterator[GitHttpServer]:
    srv = GitHttpServer(root, token, user)
    with serving(_handler(srv)) as port:
        srv.port = port
        yield srv

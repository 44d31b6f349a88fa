"""Two tiny loopback servers for credential-leak tests: a redirector and a trap.

The redirector answers every request with a redirect (status and ``Location`` chosen by the
test) to the trap, which records whatever reaches it. A client that keeps its credentials to
itself never lets a request reach the trap. The trap listens on ``localhost`` and the redirector
on ``127.0.0.1``: two host names, as a redirect to another host would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from support.net import serving


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Trap:
    url: str = ""
    seen: list[Seen] = field(default_factory=list)

    def text(self) -> str:
        """Everything that reached the trap, for ``secret not in trap.text()`` checks."""
        return "\n".join(
            f"{s.method} {s.path} {s.headers} {s.body.decode('latin-1')}" for s in self.seen
        )


@dataclass
class Redirector:
    url: str = ""
    status: int = 307
    location: str = ""
    seen: list[Seen] = field(default_factory=list)


def _recording_handler(record: list[Seen], answer: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            record.append(Seen(self.command, self.path, dict(self.headers), body))
            status, headers, payload = answer(self)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _any

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def redirect_to_trap(status: int = 307) -> Iterator[tuple[Redirector, Trap]]:
    """A redirector on 127.0.0.1 whose every answer points at the trap on ``localhost``."""
    trap = Trap()
    red = Redirector(status=status)

    def trap_answer(_h: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        body = (
            b'{"access_token": "stolen", "token_type": "Bearer", "expires_in": 3600, '
            b'"token_endpoint": "' + trap.url.encode() + b'/token"}'
        )
        return 200, {"Content-Type": "application/json"}, body

    def red_answer(h: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return red.status, {"Location": red.location or trap.url + h.path}, b""

    with (
        serving(_recording_handler(trap.seen, trap_answer)) as trap_port,
        serving(_recording_handler(red.seen, red_answer)) as red_port,
    ):
        trap.url = f"http://localhost:{trap_port}"
        red.url = f"http://127.0.0.1:{red_port}"
        yield red, trap

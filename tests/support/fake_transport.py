"""A scripted ``requests`` transport adapter for unit tests of HTTP clients (no sockets).

Mount it on a session; each request is answered by the first matching rule (a callable or a
queue of canned answers). Every request is recorded. Integration tests never use this: they talk
to the workspace emulator over real HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


Answer = tuple[int, Any] | tuple[int, Any, dict[str, str]] | Exception


@dataclass
class FakeTransport(BaseAdapter):
    routes: list[tuple[str, str, Callable[[Call], Answer] | list[Answer]]] = field(
        default_factory=list
    )
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def on(
        self, method: str, path: str, *answers: Answer | Callable[[Call], Answer]
    ) -> FakeTransport:
        """Answer ``method path`` (path prefix) with a function, or canned answers in turn (the
        last one repeats)."""
        if len(answers) == 1 and callable(answers[0]) and not isinstance(answers[0], Exception):
            self.routes.append((method, path, answers[0]))
        else:
            self.routes.append((method, path, list(answers)))  # type: ignore[arg-type]
        return self

    def session(self) -> requests.Session:
        """A wheelship session (User-Agent, TLS policy) that talks to this fake."""
        from wheelship.net import new_session

        s = new_session()
        s.mount("https://", self)
        s.mount("http://", self)
        return s

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        body = request.body
        if hasattr(body, "read"):
            body = body.read()  # type: ignore[union-attr]
        if isinstance(body, str):
            body = body.encode()
        call = Call(
            method=request.method or "GET",
            path=parts.path,
            query=parse_qs(parts.query),
            headers=dict(request.headers),
            body=body or b"",
        )
        self.calls.append(call)
        for method, prefix, answer in self.routes:
            if method == call.method and call.path.startswith(prefix):
                if callable(answer):
                    result = answer(call)
                else:
                    result = answer.pop(0) if len(answer) > 1 else answer[0]
                break
        else:
            result = (
                404,
                {
                    "error_code": "ENDPOINT_NOT_FOUND",
                    "message": f"No API found for '{call.method} {call.path}'",
                },
            )
        if isinstance(result, Exception):
            raise result
        status, payload, *rest = result
        headers = rest[0] if rest else {}
        resp = requests.Response()
        resp.status_code = status
        resp.reason = {200: "OK", 404: "Not Found"}.get(status, "")
        if isinstance(payload, bytes):
            content = payload
        elif payload is None:
            content = b""
        else:
            content = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json", **headers}
        resp._content = content
        resp._content_consumed = True
        resp.headers = CaseInsensitiveDict({"Content-Length": str(len(content)), **headers})
        resp.url = request.url or ""
        resp.request = request
        resp.raw = None
        return resp

    def close(self) -> None:
        pass

    def paths(self, method: str | None = None) -> list[str]:
        return [c.path for c in self.calls if method is None or c.method == method]

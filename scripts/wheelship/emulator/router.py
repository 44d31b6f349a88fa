"""The route table: exact API paths per version, and prefix routes for path-addressed APIs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from wheelship.emulator.state import Workspace
from wheelship.emulator.wire import Request, Response

Handler = Callable[[Workspace, Request], "Response | dict[str, Any] | None"]

MAX_JSON_BODY = 32 * 1024 * 1024


#: how a request body is read: raw streams it into a blob; form is JSON or multipart
Body = Literal["json", "raw", "form", "none"]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # exact path, or the prefix for prefix routes
    handler: Handler
    version: str = ""
    prefix: bool = False
    auth: bool = True
    body: Body = "json"
    mutation: bool = True
    max_body: int = MAX_JSON_BODY

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"


class Router:
    def __init__(self) -> None:
        self._exact: dict[tuple[str, str], Route] = {}
        self._prefixes: list[Route] = []

    def add(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        versions: Iterable[str] = ("2.0",),
        prefix: bool = False,
        auth: bool = True,
        body: Body = "json",
        mutation: bool | None = None,
        max_body: int = MAX_JSON_BODY,
    ) -> None:
        """``path`` may contain ``{v}`` for the API version (one route per version)."""
        is_mutation = method not in {"GET", "HEAD"} if mutation is None else mutation
        for version in versions if "{v}" in path else [""]:
            route = Route(
                method=method,
                path=path.replace("{v}", version),
                handler=handler,
                version=version or _version_of(path),
                prefix=prefix,
                auth=auth,
                body=body,
                mutation=is_mutation,
                max_body=max_body,
            )
            if prefix:
                self._prefixes.append(route)
                self._prefixes.sort(key=lambda r: len(r.path), reverse=True)
            else:
                self._exact[(method, route.path)] = route

    def match(self, method: str, path: str) -> tuple[Route, str] | None:
        route = self._exact.get((method, path))
        if route is not None:
            return route, ""
        for route in self._prefixes:
            if route.method == method and (path.startswith(route.path + "/") or path == route.path):
                return route, path[len(route.path) :]
        return None

    def endpoints(self) -> list[str]:
        return sorted({r.endpoint for r in [*self._exact.values(), *self._prefixes]})


def _version_of(path: str) -> str:
    parts = path.split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "api" else ""

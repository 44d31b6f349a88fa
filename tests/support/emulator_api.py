"""A plain ``requests`` client for the workspace emulator (no SDK): what is on the wire is what
tests assert. Used by the emulator's own integration tests; other tests may use it too."""

from __future__ import annotations

from typing import Any

import requests

from wheelship.emulator import Emulator


class Api:
    """Raw HTTP against the emulator (no SDK): what is on the wire is what is asserted."""

    def __init__(self, emu: Emulator, token: str | None) -> None:
        self.emu = emu
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        return self.emu.url + path

    def get(self, endpoint: str, /, **params: Any) -> requests.Response:
        return self.session.get(self.url(endpoint), params=params, timeout=30)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        if body is not None:
            kwargs["json"] = body
        return self.session.post(self.url(path), timeout=30, **kwargs)

    def put(self, path: str, data: Any = b"", **kwargs: Any) -> requests.Response:
        return self.session.put(self.url(path), data=data, timeout=30, **kwargs)

    def head(self, path: str) -> requests.Response:
        return self.session.head(self.url(path), timeout=30)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.url(path), timeout=30)

    def close(self) -> None:
        self.session.close()


def error_of(response: requests.Response) -> tuple[int, Any, str]:
    body = response.json()
    return response.status_code, body.get("error_code"), body.get("message", "")

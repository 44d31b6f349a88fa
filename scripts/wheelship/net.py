"""What every HTTP client in wheelship shares: the URL policy and the session defaults.

TLS verification is always on; plain ``http://`` is accepted only for loopback hosts (the
workspace emulator, a local pypiserver in tests). Sessions carry a ``wheelship/<version>``
User-Agent. Databricks calls go through :mod:`wheelship.databricks.client`, which builds on this.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.auth

from wheelship import __version__, log
from wheelship.errors import ConfigurationError

USER_AGENT = f"wheelship/{__version__}"
DEFAULT_TIMEOUT = (10.0, 60.0)  # connect, read (seconds)


def is_loopback(host: str) -> bool:
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str, fix_hint: str) -> str:
    """Return ``url`` without a trailing slash, or refuse a URL that is not safe to send a
    credential to: the scheme must be https, or http to a loopback host."""
    parts = urlsplit(url)
    if parts.password:
        # A credential in a URL ends up in logs, reports and command lines: refuse it, and
        # never repeat it (the error shows the URL without it).
        log.register_secret(parts.password)
        shown = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()
        raise ConfigurationError(
            f"{what} {shown!r} carries a password (user:password@)",
            f"{fix_hint}: take it out of the URL; wheelship reads credentials from environment "
            "variables",
        )
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ConfigurationError(
            f"{what} {url!r} is not an http(s) URL", f"{fix_hint} (e.g. https://host.example.com)"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"{what} {url!r} uses plain http to a non-loopback host",
            f"{fix_hint}: use https:// (plain http is allowed only for 127.0.0.1/localhost)",
        )
    return url.rstrip("/")


class _NoNetrc(requests.auth.AuthBase):
    """Session-level auth that adds nothing. With no auth set, requests looks the host up in
    ``~/.netrc`` (or ``$NETRC``) and *replaces* the Authorization header a client set itself
    with the entry's Basic credentials — a ``default`` entry would go to every host. wheelship
    sends only the credentials it was told about; an explicit per-request auth still wins."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


def bypasses_proxy(url: str) -> bool:
    """A request that must go direct, whatever the proxy variables say: loopback (a proxy
    cannot reach it, and would see the request) and plain http (its credentials would cross the
    proxy in clear text; plain http is allowed only to loopback anyway)."""
    parts = urlsplit(url)
    return parts.scheme != "https" or is_loopback(parts.hostname or "")


class _Session(requests.Session):
    """A session that honours the proxy variables for https only, never for loopback or plain
    http (``trust_env`` would send a loopback call with its ``Authorization`` header to
    ``HTTP_PROXY``). Redirects pass through :meth:`send` as well."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if bypasses_proxy(request.url or ""):
            kwargs["proxies"] = {}  # select_proxy finds nothing: a direct connection
        return super().send(request, **kwargs)


def new_session() -> requests.Session:
    session = _Session()
    session.headers["User-Agent"] = USER_AGENT
    session.verify = True
    # honour HTTPS_PROXY/NO_PROXY and REQUESTS_CA_BUNDLE, never disable TLS checks; proxies
    # only for https to non-loopback hosts (see _Session)
    session.trust_env = True
    session.auth = _NoNetrc()
    return session


def with_retries(session: requests.Session, *, attempts: int = 3) -> requests.Session:
    """Retry transient failures (connection errors, 429, 502-504; Retry-After honoured) on
    every method. Only for calls that are idempotent or made so by the caller (the Releases API
    POST answers 409 to a repeat, which the tag flow checks)."""
    from urllib3.util.retry import Retry

    retry = Retry(
        total=attempts - 1,
        connect=attempts - 1,
        read=attempts - 1,
        status=attempts - 1,
        backoff_factor=0.5,
        status_forcelist=(429, 502, 503, 504),
        allowed_methods=None,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    adapter = requests.adapters.HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session

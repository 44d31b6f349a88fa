"""What every HTTP client in wheelship shares: the URL policy and the session defaults.

TLS verification is always on; plain ``http://`` is accepted only for loopback hosts (the
workspace emulator, a local pypiserver in tests). Sessions carry a ``wheelship/<version>``
User-Agent. Databricks calls go through :mod:`wheelship.databricks.client`, which builds on this.
"""

from __future__ import annotations

import ipaddress
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
import requests.auth

from wheelship import __version__, log
from wheelship.errors import ConfigurationError

USER_AGENT = f"wheelship/{__version__}"
#: connect, read (seconds). A host that accepts the connection and never answers costs one read
#: timeout per attempt; clients retry a timed-out call at most once (TIMEOUT_ATTEMPTS), so an
#: unresponsive host is given up within a minute — with a progress line every PROGRESS_EVERY.
DEFAULT_TIMEOUT = (10.0, 25.0)
TIMEOUT_ATTEMPTS = 2
#: what one call may spend in read timeouts across its attempts: a client that retries a read
#: timeout more often (the Databricks client, whose short per-test timeouts meet slow answers
#: now and then) stops retrying before the next timeout would pass this
TIMEOUT_BUDGET = 55.0
PROGRESS_EVERY = 10.0


class _Waits:
    """Calls in flight per host, and one thread that says so while any waits long: "waiting for
    <host>, 20 s" once per host and interval, however many calls (deploy runs 16 at once)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: dict[int, tuple[str, float]] = {}
        self.said: dict[str, int] = {}
        self.thread: threading.Thread | None = None
        self.every = PROGRESS_EVERY

    def enter(self, host: str) -> int:
        with self.lock:
            key = next(_keys)
            self.started[key] = (host, time.monotonic())
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.run, name="wheelship-waits", daemon=True)
                self.thread.start()
            return key

    def leave(self, key: int) -> None:
        with self.lock:
            host, _ = self.started.pop(key)
            if all(h != host for h, _ in self.started.values()):
                self.said.pop(host, None)

    def run(self) -> None:
        while True:
            time.sleep(min(1.0, self.every / 4))
            with self.lock:
                if not self.started:
                    self.thread = None
                    return
                now = time.monotonic()
                oldest: dict[str, float] = {}
                for host, start in self.started.values():
                    oldest[host] = min(start, oldest.get(host, start))
                due = []
                for host, start in oldest.items():
                    step = int((now - start) // self.every)
                    if step >= 1 and step > self.said.get(host, 0):
                        self.said[host] = step
                        due.append((host, step * self.every))
            for host, waited in due:
                log.info(f"waiting for {host}, {waited:g} s")


_keys = itertools.count()
WAITS = _Waits()


@contextmanager
def waiting(host: str) -> Iterator[None]:
    """Around a blocking call to ``host``: progress lines while it takes long."""
    key = WAITS.enter(host)
    try:
        yield
    finally:
        WAITS.leave(key)


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1] or url


def describe_failure(exc: BaseException, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> str:
    """What a connection error means, for "cannot reach <host>: <this>"; a timeout says
    "timed out" and how long was waited."""
    text = str(exc)
    if isinstance(exc, requests.ConnectTimeout) or "connect timeout" in text:
        return f"timed out (no connection within {timeout[0]:g} s)"
    if isinstance(exc, requests.Timeout) or "Read timed out" in text:
        return f"timed out (no answer within {timeout[1]:g} s)"
    for marker, short in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "unknown host name"),
        ("nodename nor servname", "unknown host name"),
        ("Temporary failure in name resolution", "unknown host name"),
        ("CERTIFICATE_VERIFY_FAILED", "TLS certificate verification failed"),
        ("timed out", "timed out"),
        ("Connection reset", "connection reset"),
        ("RemoteDisconnected", "connection closed by the server"),
    ):
        if marker in text:
            return short
    return type(exc).__name__


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


if TYPE_CHECKING:
    from requests.sessions import _Settings


class _Session(requests.Session):
    """A session that honours the proxy variables for https only, never for loopback or plain
    http (``trust_env`` would send a loopback call with its ``Authorization`` header to
    ``HTTP_PROXY``). Redirects pass through :meth:`send` as well."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if bypasses_proxy(request.url or ""):
            kwargs["proxies"] = {}  # select_proxy finds nothing: a direct connection
        return super().send(request, **kwargs)

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        """requests' answer, read from the environment once per host and arguments.

        requests walks every environment variable twice per request to find proxy settings
        (``get_environ_proxies``): 0.1 ms per request with 35 variables, several times that in a
        CI job with its hundred-odd ``CI_*`` variables, at thousands of requests per deploy. A
        session lives for one command, whose environment does not change meanwhile."""
        text = url.decode() if isinstance(url, bytes) else url or ""
        parts = urlsplit(text)
        key = (
            parts.scheme,
            parts.netloc,
            repr((proxies, stream, verify, cert)),
            # what requests merges in from the session itself
            repr((self.proxies, self.stream, self.verify, self.cert, self.trust_env)),
        )
        cache: dict[tuple[str, ...], _Settings] = self.__dict__.setdefault("_env_settings", {})
        found = cache.get(key)
        if found is None:
            found = super().merge_environment_settings(url, proxies, stream, verify, cert)
            cache[key] = found
        out = found.copy()
        out["proxies"] = dict(found["proxies"])  # send() may be handed it; never share it
        return out


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
        read=min(attempts, TIMEOUT_ATTEMPTS) - 1,  # a read timeout is retried once
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

"""The one HTTP door to a Databricks workspace.

Every Databricks call in wheelship goes through :class:`Client`: one connection-pooling session,
per-request timeouts, retries with exponential backoff and jitter on 429 (honouring
``Retry-After``), 503 and connection errors, pagination helpers, mapping of error responses to
:class:`~wheelship.errors.DatabricksError`, request counting per endpoint, and bounded
concurrency for per-job and per-cluster calls (:meth:`Client.map`).

Errors carry the step and the object they happened in via :func:`in_step`, so the CLI prints
``deploy: repoint job 123 (tsff-train): PERMISSION_DENIED: ...``.
"""

from __future__ import annotations

import email.utils
import fnmatch
import json
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, NamedTuple, Protocol, TypeVar
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from wheelship import log, net
from wheelship.errors import DatabricksError

T = TypeVar("T")
R = TypeVar("R")

#: Statuses retried for every method: the server did not act on the request.
RETRY_ALWAYS = frozenset({429, 503})
#: Statuses retried a few times: transient server trouble. Every write wheelship makes is
#: idempotent (update with the same settings, install of an installed library, PUT with
#: overwrite=false, run-now with an idempotency token), so retrying them is safe.
RETRY_SOME = frozenset({500, 502, 504})
#: Answers retried whatever their status because the message says the trouble is passing — the
#: list the official SDKs retry on (databricks-sdk-py ``_base_client.py`` ``_is_retryable``,
#: databricks-sdk-go ``apierr/errors.go``): throttling and cluster-manager hiccups that arrive
#: as 400/409/500 with these words.
TRANSIENT_MESSAGES = (
    "com.databricks.backend.manager.util.UnknownWorkerEnvironmentException",
    "does not have any associated worker environments",
    "There is no worker environment with id",
    "Unknown worker environment",
    "ClusterNotReadyException",
    "Unexpected error",
    "Please try again later or try a faster operation.",
    "RPC token bucket limit has been exceeded",
)


class Auth(Protocol):
    """What the client needs from a credential (see :mod:`wheelship.databricks.auth`)."""

    name: str

    def headers(self) -> dict[str, str]: ...

    def invalidate(self) -> bool:
        """Drop a cached token; True when fetching a new one may help."""
        ...


#: Requests per second per endpoint, from Databricks' published per-workspace limits
#: (resource-limits page). The client paces itself a little under them, so a wide deploy is not
#: answered with 429s (each costs at least a second). Endpoints without a published limit are
#: not paced until the workspace throttles them; then they get a pace learned from the rate
#: that was just too fast.
PUBLISHED_RATE_LIMITS: dict[str, float] = {
    "POST /api/*/jobs/create": 20,
    "POST /api/*/jobs/run-now": 20,
    "POST /api/*/jobs/runs/submit": 35,
    "GET /api/*/jobs/runs/get": 100,
    "* /api/2.0/dbfs/*": 30,
    "POST /api/2.0/workspace/import": 30,
    "POST /api/2.0/workspace-files/import-file": 30,
    "GET /api/2.0/workspace/export": 60,
    "* /api/2.0/fs/*": 100,
}
#: More pages than any listing of a workspace needs (10,000 jobs are 100 pages of jobs/list):
#: beyond it a server that keeps inventing page tokens is stopped.
MAX_PAGES = 10_000
PACING = 0.95  # fraction of a published rate the client uses
BACKOFF = 0.7  # a 429 multiplies the endpoint's pace by this
_WINDOW = 2.0  # seconds of history to measure the rate that was throttled
_COOLDOWN = 1.0  # 429s this soon after a decrease do not decrease again


class RateLimiter:
    """Token buckets per endpoint (``METHOD /path``): published limits from the start, learned
    ones after a 429 (multiplicative decrease on every further 429)."""

    def __init__(
        self,
        limits: Mapping[str, float] | None = None,
        *,
        pacing: float = PACING,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = dict(PUBLISHED_RATE_LIMITS if limits is None else limits)
        self.pacing = pacing
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # key -> [rate, tokens, stamp, capacity]. A published limit allows a second's burst; a
        # learned one allows none: the workspace has just shown how little burst it tolerates,
        # and a full bucket released at once when the Retry-After gate opens earns another
        # round of 429s.
        self._buckets: dict[str, list[float]] = {}
        self._recent: dict[str, deque[float]] = {}  # unpaced keys -> send times
        self._decreased: dict[str, float] = {}  # key -> when its pace was last lowered
        self.throttled: Counter[str] = Counter()

    def _published(self, key: str) -> float | None:
        for pattern, rate in self.limits.items():
            if fnmatch.fnmatchcase(key, pattern):
                return float(rate) * self.pacing
        return None

    def _bucket(self, key: str) -> list[float] | None:
        bucket = self._buckets.get(key)
        if bucket is None:
            rate = self._published(key)
            if rate is None:
                return None
            bucket = self._buckets[key] = [rate, rate, self._clock(), rate]
        return bucket

    def acquire(self, key: str) -> None:
        while True:
            with self._lock:
                now = self._clock()
                bucket = self._bucket(key)
                if bucket is None:
                    recent = self._recent.setdefault(key, deque())
                    recent.append(now)
                    while recent and recent[0] < now - _WINDOW:
                        recent.popleft()
                    return
                rate, tokens, stamp, capacity = bucket
                tokens = min(capacity, tokens + (now - stamp) * rate)
                if tokens >= 1.0 - 1e-9:  # float slack: a sleep of exactly the gap must suffice
                    bucket[1], bucket[2] = max(0.0, tokens - 1.0), now
                    return
                bucket[1], bucket[2] = tokens, now
                wait_for = (1.0 - tokens) / rate
            self._sleep(wait_for)

    def throttle(self, key: str) -> None:
        with self._lock:
            now = self._clock()
            self.throttled[key] += 1
            bucket = self._buckets.get(key)
            if bucket is None:
                recent = self._recent.pop(key, deque())
                seen = [t for t in recent if t >= now - _WINDOW]
                span = max(now - seen[0], 0.5) if seen else 1.0
                observed = len(seen) / span
                rate = self._published(key) or observed
                bucket = self._buckets[key] = [rate, 0.0, now, 1.0]
            elif now - self._decreased.get(key, -_COOLDOWN) < _COOLDOWN:
                # The other calls that were in flight with the first 429 get theirs too: one
                # burst of 429s is one signal, not many.
                return
            self._decreased[key] = now
            bucket[0] = max(1.0, bucket[0] * BACKOFF)
            bucket[1] = min(bucket[1], 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    budget: float = 300.0  # seconds per call, across all attempts
    base: float = 0.5  # first backoff
    cap: float = 10.0  # longest backoff
    server_error_attempts: int = 3  # for RETRY_SOME
    transient_attempts: int = 5  # for answers whose message is one of TRANSIENT_MESSAGES
    connect_attempts: int = 4  # connection refused/reset, connect timeouts
    #: read timeouts: a slow answer now and then is retried like a reset, but a host that
    #: accepts and never answers is given up once the next read timeout would take the call's
    #: time in timeouts past net.TIMEOUT_BUDGET (two attempts at the default 25 s)
    timeout_attempts: int = 5


def _read_timeout(timeout: float | tuple[float, float]) -> float:
    return timeout[1] if isinstance(timeout, tuple) else timeout


@contextmanager
def in_step(step: str, obj: str | None = None) -> Iterator[None]:
    """Name the step (and object) in any DatabricksError raised inside, unless a deeper step
    already did."""
    try:
        yield
    except DatabricksError as exc:
        if exc.step is None:
            exc.step, exc.obj = step, obj
        raise


_ENDPOINT_PREFIXES = (
    "/api/2.0/fs/files",
    "/api/2.0/fs/directories",
    "/api/2.0/workspace-files/import-file",
)


def endpoint(path: str) -> str:
    """The endpoint a path belongs to, without file paths (for counters and rate limits)."""
    for prefix in _ENDPOINT_PREFIXES:
        if path.startswith(prefix):
            return prefix
    return path


def _parse_error(resp: requests.Response) -> tuple[str, str]:
    """``(error_code, message)`` from any error body the service sends (JSON, ``CODE: msg``
    text, an HTML error page)."""
    text = resp.text or ""
    code, message = "", ""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        raw_code = body.get("error_code")
        code = str(raw_code) if raw_code is not None else ""
        message = str(body.get("message") or body.get("error") or body.get("detail") or "")
        if isinstance(body.get("error"), str) and not body.get("message"):
            code = code or str(body.get("error"))
            message = str(body.get("error_description") or body.get("error"))
    elif text:
        m = re.match(r"^([A-Z][A-Z_]+): (.*)$", text.strip(), re.S)
        if m:
            code, message = m.group(1), m.group(2)
        else:
            m = re.search(r"<pre>(.*?)</pre>", text, re.S) or re.search(
                r"<title>(.*?)</title>", text, re.S
            )
            message = (m.group(1) if m else text).strip()
    if not message:
        message = resp.headers.get("X-Databricks-Reason-Phrase") or resp.reason or "no message"
    if not code or code.isdigit():
        code = {
            400: "BAD_REQUEST",
            401: "UNAUTHENTICATED",
            403: "PERMISSION_DENIED",
            404: "NOT_FOUND",
            409: "RESOURCE_CONFLICT",
            429: "REQUEST_LIMIT_EXCEEDED",
            503: "TEMPORARILY_UNAVAILABLE",
        }.get(resp.status_code, f"HTTP_{resp.status_code}")
    return code, " ".join(message.split())[:500]


def _transient(resp: requests.Response) -> bool:
    """Whether an error answer's message is one the SDKs retry (see TRANSIENT_MESSAGES)."""
    if resp.status_code < 400:
        return False
    _, message = _parse_error(resp)
    return any(text in message for text in TRANSIENT_MESSAGES)


def _fix_for(status: int, code: str, message: str, host: str) -> str:
    if status == 401 or "access token" in message.lower():
        return f"check the credentials for {host} (DATABRICKS_TOKEN, OAuth client or OIDC token)"
    if code == "PERMISSION_DENIED" or status == 403:
        return "grant the deploy identity the permission named above, or use another identity"
    if status == 429:
        return "the workspace is rate limiting; run again later or lower --concurrency"
    if status >= 500:
        return "the workspace had a server error; run again (every step is idempotent)"
    if "does not exist" in message.lower() or code in {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}:
        return "the object is gone or the id is wrong; check wheelship.yml and the workspace"
    return "see the message from the workspace"


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Client:
    """A workspace client. Thread-safe: :meth:`map` runs calls on a bounded pool."""

    def __init__(
        self,
        host: str,
        auth: Auth,
        *,
        concurrency: int = 8,
        timeout: tuple[float, float] = net.DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.host = host.rstrip("/")
        self.auth = auth
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self.session = session or pooled_session(self.concurrency)
        self.limiter = limiter if limiter is not None else RateLimiter(clock=clock, sleep=sleep)
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self._gates: dict[str, float] = {}  # endpoint -> clock time before which not to send
        bind = getattr(auth, "bind", None)
        if callable(bind):
            bind(self)  # an OAuth credential fetches its tokens through this client

    # -- accounting ----------------------------------------------------------------------------

    @property
    def requests_sent(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def _count(self, method: str, path: str, retried: bool) -> None:
        key = f"{method} {endpoint(path)}"
        with self._lock:
            self.counts[key] += 1
            if retried:
                self.retries[key] += 1

    def _wait_gate(self, ep: str) -> None:
        with self._lock:
            until = self._gates.get(ep, 0.0)
        delay = until - self._clock()
        if delay > 0:
            self._sleep(delay)

    def _close_gate(self, ep: str, seconds: float) -> None:
        # Every thread holds back from a throttled endpoint until Retry-After has passed, so
        # a burst of parallel calls does not earn a burst of 429s.
        with self._lock:
            self._gates[ep] = max(self._gates.get(ep, 0.0), self._clock() + seconds)

    # -- requests ------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.retry.cap, self.retry.base * (2.0**attempt))
        return ceiling / 2 + self._rng() * ceiling / 2

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        body: Callable[[], IO[bytes] | bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: tuple[float, float] | None = None,
        idempotent: bool = True,
        url: str | None = None,
        authenticate: bool = True,
        raise_errors: bool = True,
    ) -> requests.Response:
        """Send one logical request (with retries) and return the 2xx response; any other
        answer raises :class:`DatabricksError`. ``body`` is a factory, so a retry re-opens a
        streamed upload from the start. A call that is not ``idempotent`` (DBFS add-block
        appends) is retried only when the workspace surely did not act (429, 503): after a
        lost answer or a server error the caller decides."""
        if url is None:
            url = self.host + path
        else:
            # another URL of the workspace's identity provider (the OAuth token endpoint):
            # the same retries, pacing and counting, under its own path
            path = urlsplit(url).path
        ep = endpoint(path)
        started = self._clock()
        attempt = 0
        server_errors = 0
        transient_errors = 0
        connect_errors = 0
        timeouts = 0
        last_problem = ""
        refreshed = False
        while True:
            self._wait_gate(ep)
            hdrs = {"Accept": "application/json"}
            if authenticate:
                hdrs.update(self.auth.headers())
            if headers:
                hdrs.update(headers)
            data: Any = None
            opened: IO[bytes] | None = None
            if body is not None:
                produced = body()
                if isinstance(produced, bytes):
                    data = produced
                else:
                    opened = data = produced
            elif json_body is not None:
                data = json.dumps(json_body)
                hdrs["Content-Type"] = "application/json"
            self.limiter.acquire(f"{method} {ep}")
            self._count(method, path, attempt > 0)
            try:
                with net.waiting(net.host_of(self.host)):
                    resp = self.session.request(
                        method,
                        url,
                        params=_query(params),
                        data=data,
                        headers=hdrs,
                        timeout=timeout or self.timeout,
                        stream=stream,
                        allow_redirects=False,
                    )
            except requests.exceptions.InvalidHeader:
                # requests quotes the offending header value (the credential) in its message.
                raise DatabricksError(
                    f"the credential for {self.host} contains characters that cannot be sent "
                    "in an HTTP header (a line break or a control character)",
                    "check the token or OAuth client settings (DATABRICKS_TOKEN, profile)",
                ) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                read_timeout = isinstance(exc, requests.Timeout) and not isinstance(
                    exc, requests.ConnectTimeout
                )
                timeouts += read_timeout
                connect_errors += not read_timeout
                last_problem = net.describe_failure(exc, timeout or self.timeout)
                read_limit = _read_timeout(timeout or self.timeout)
                if (
                    not idempotent
                    or connect_errors >= self.retry.connect_attempts
                    or timeouts >= self.retry.timeout_attempts
                    or (read_timeout and (timeouts + 1) * read_limit > net.TIMEOUT_BUDGET)
                    or self._out_of_budget(started, 0)
                ):
                    raise DatabricksError(
                        f"cannot reach {self.host}: {last_problem}",
                        "check the workspace URL (host: / DATABRICKS_HOST) and the network",
                    ) from None
                delay = self._backoff(attempt)
                log.debug(f"{method} {ep}: {last_problem}; retrying in {delay:.1f}s")
                self._sleep(delay)
                attempt += 1
                continue
            finally:
                if opened is not None:
                    opened.close()
            status = resp.status_code
            if 200 <= status < 300:
                return resp
            if status == 401 and authenticate and not refreshed and self.auth.invalidate():
                # An OAuth token can expire between two calls: fetch a fresh one once.
                refreshed = True
                resp.close()
                attempt += 1
                continue
            retryable = status in RETRY_ALWAYS or (
                idempotent
                and status in RETRY_SOME
                and server_errors + 1 < self.retry.server_error_attempts
            )
            if (
                not retryable
                and idempotent
                and transient_errors + 1 < self.retry.transient_attempts
                and _transient(resp)
            ):
                transient_errors += 1
                retryable = True
            if retryable:
                if status in RETRY_SOME:
                    server_errors += 1
                hinted = _retry_after(resp) if status in RETRY_ALWAYS else None
                delay = hinted + self._rng() * 0.1 if hinted is not None else self._backoff(attempt)
                if status == 429:
                    self._close_gate(ep, delay)
                    self.limiter.throttle(f"{method} {ep}")
                if not self._out_of_budget(started, delay):
                    log.debug(f"{method} {ep}: HTTP {status}; retrying in {delay:.1f}s")
                    resp.close()
                    self._sleep(delay)
                    attempt += 1
                    continue
            if not raise_errors:
                return resp
            raise self.error(resp)

    def _out_of_budget(self, started: float, delay: float) -> bool:
        return self._clock() + delay - started > self.retry.budget

    def error(self, resp: requests.Response) -> DatabricksError:
        code, message = _parse_error(resp)
        status = resp.status_code
        resp.close()
        return DatabricksError(
            f"{code}: {message}",
            _fix_for(status, code, message, self.host),
            status=status,
            error_code=code,
        )

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return _json(self.request("GET", path, params=params))

    def post(
        self, path: str, body: Mapping[str, Any] | None = None, *, idempotent: bool = True
    ) -> dict[str, Any]:
        return _json(self.request("POST", path, json_body=dict(body or {}), idempotent=idempotent))

    def paginate(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        items: str,
        *,
        token_param: str = "page_token",  # noqa: S107 - a query parameter name
        token_field: str = "next_page_token",  # noqa: S107
    ) -> Iterator[dict[str, Any]]:
        """Every item of a token-paginated list (see :meth:`pages`)."""
        for page in self.pages(
            path, params, items, token_param=token_param, token_field=token_field
        ):
            yield from page.items

    def pages(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        items: str,
        *,
        token_param: str = "page_token",  # noqa: S107 - a query parameter name
        token_field: str = "next_page_token",  # noqa: S107
    ) -> Iterator[Page]:
        """The items of a token-paginated list, a page at a time with the token that asked for
        it (None: the first page); the next page is asked for only when the caller wants it. Stops on an absent or empty token, and refuses a token
        that repeats or a listing longer than ``MAX_PAGES`` pages (a server bug would otherwise
        loop forever)."""
        query = dict(params or {})
        seen: set[str] = set()
        asked: str | None = None
        while True:
            page = self.get(path, query)
            yield Page(asked, list(page.get(items) or []))
            token = page.get(token_field)
            if not token:
                return
            if token in seen or len(seen) >= MAX_PAGES:
                what = f"the page token {token!r} twice" if token in seen else "endless pages"
                raise DatabricksError(
                    f"{path} returned {what}",
                    "report this to Databricks support; the listing cannot be completed",
                )
            seen.add(token)
            query[token_param] = asked = token

    # -- bounded concurrency -------------------------------------------------------------------

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(item) ...]`` with at most ``concurrency`` calls in flight, results in input
        order. On the first error no new call starts; running ones finish; the error raises."""
        work = list(items)
        if len(work) <= 1 or self.concurrency == 1:
            return [fn(item) for item in work]
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(work)))
        try:
            futures: list[Future[R]] = [pool.submit(fn, item) for item in work]
            done, _pending = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in futures if f in done and f.exception() is not None]
            if failed:
                exc = failed[0].exception()
                assert exc is not None
                raise exc
            return [f.result() for f in futures]
        finally:
            # On an error or Ctrl-C nothing new starts; calls in flight finish (each is a whole
            # step, so the workspace is left between steps).
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        self.session.close()


class Page(NamedTuple):
    """One page of a token-paginated list: the token that asked for it (None: the first)."""

    token: str | None
    items: list[dict[str, Any]]


def pooled_session(concurrency: int) -> requests.Session:
    """A wheelship session whose pool keeps a connection per concurrent call alive."""
    session = net.new_session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(1, concurrency) + 4, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _query(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not params:
        return None
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = value
    return out


def _json(resp: requests.Response) -> dict[str, Any]:
    if not resp.content:
        return {}
    try:
        data = resp.json()
    except ValueError:
        raise DatabricksError(
            f"{resp.request.method} {resp.url}: the answer is not JSON ({resp.text[:80]!r})",
            "check that host: points at a Databricks workspace",
        ) from None
    return data if isinstance(data, dict) else {"value": data}


def quote_path(path: str) -> str:
    """Percent-encode a file path for the Files API, keeping ``/``."""
    return quote(path, safe="/")

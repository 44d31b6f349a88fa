"""The HTTP side: one thread per connection, HTTP/1.1 keep-alive, one lock around the state.

``wbufsize = -1`` buffers each response so headers and body leave in one send: with the default
unbuffered writer every keep-alive request stalls ~40 ms (Nagle + delayed ACK). Each request goes:
latency → injected fault → rate limit → authentication → body (JSON in memory, capped; uploads
streamed to a blob) → handler under the state lock → response (JSON, or a blob streamed from
disk) → request log and counters.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import io
import json
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from wheelship.emulator import invariants, multipart
from wheelship.emulator.auth import OAuthError, Principal
from wheelship.emulator.blobs import CHUNK
from wheelship.emulator.faults import STATUS_CODES, Fault, FaultPlan, Latency, RateLimits
from wheelship.emulator.router import MAX_JSON_BODY, Route, Router
from wheelship.emulator.state import Workspace
from wheelship.emulator.wire import ApiError, Request, Response

_FILE_FIELDS = frozenset({"content", "file", "contents"})
_LOG_LIMIT = 200_000
_LOG_BODY_LIMIT = 64 * 1024
_LOG_BODIES_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class RequestRecord:
    """One request as the emulator saw it — never a credential."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    token: str | None  # the token's *name* from the seed ("admin", "reader", "oauth:<app id>")
    endpoint: str
    duration_ms: float
    fault: str | None = None
    #: The JSON body of an authenticated API call (up to 64 KiB; empty otherwise), to compare
    #: clients by what they send. Credentials travel in headers and token-endpoint forms,
    #: neither of which is kept.
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None


@dataclass
class RequestLog:
    records: collections.deque[RequestRecord] = field(
        default_factory=lambda: collections.deque(maxlen=_LOG_LIMIT)
    )
    counters: collections.Counter[str] = field(default_factory=collections.Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    body_bytes: int = 0  # bodies kept since the last clear (bounded by _LOG_BODIES_LIMIT)

    def add(self, record: RequestRecord) -> None:
        with self.lock:
            if record.body:
                if self.body_bytes + len(record.body) > _LOG_BODIES_LIMIT:
                    record = dataclasses.replace(record, body=b"")
                else:
                    self.body_bytes += len(record.body)
            self.records.append(record)
            self.counters[record.endpoint] += 1

    def snapshot(self) -> list[RequestRecord]:
        with self.lock:
            return list(self.records)

    def counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self.counters)

    def clear(self) -> None:
        with self.lock:
            self.records.clear()
            self.counters.clear()
            self.body_bytes = 0


@dataclass
class Engine:
    """Everything a request needs, shared by all handler threads."""

    ws: Workspace
    router: Router
    faults: FaultPlan
    limits: RateLimits
    latency: Latency
    log: RequestLog = field(default_factory=RequestLog)
    persist: Callable[[], None] | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    internal_errors: list[str] = field(default_factory=list)
    saved_version: int = -1
    #: check the deploy invariants after every state-changing request (tests of clients that
    #: promise "no job ever references a missing file"); violations are kept here
    watch_invariants: bool = False
    violations: list[str] = field(default_factory=list)


class BodyReader:
    """The request body, from Content-Length or chunked transfer coding."""

    def __init__(self, rfile: Any, length: int | None, chunked: bool) -> None:
        self._rfile = rfile
        self.declared_length = None if chunked else length
        self._left = length or 0
        self._chunked = chunked
        self._chunk_left = 0
        self._done = not chunked and not length

    def read(self, size: int = CHUNK) -> bytes:
        if self._done:
            return b""
        if not self._chunked:
            data = self._rfile.read(min(size, self._left))
            if not data:
                raise ConnectionError("the client closed the connection mid-body")
            self._left -= len(data)
            self._done = self._left <= 0
            return bytes(data)
        if self._chunk_left == 0:
            line = self._rfile.readline(1024)
            if not line:
                raise ConnectionError("the client closed the connection mid-body")
            try:
                self._chunk_left = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise ApiError(400, "MALFORMED_REQUEST", "Malformed chunked body") from None
            if self._chunk_left == 0:
                while self._rfile.readline(1024).strip():  # trailers
                    pass
                self._done = True
                return b""
        data = self._rfile.read(min(size, self._chunk_left))
        if not data:
            raise ConnectionError("the client closed the connection mid-body")
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self._rfile.readline(16)  # CRLF after the chunk
        return bytes(data)

    def read_all(self, limit: int) -> bytes:
        out = bytearray()
        while chunk := self.read():
            out += chunk
            if len(out) > limit:
                self.drain()
                raise ApiError(
                    400, "INVALID_PARAMETER_VALUE", f"Request body is larger than {limit} bytes"
                )
        return bytes(out)

    def drain(self) -> None:
        while self.read():
            pass

    def abandon(self) -> None:
        """Stop reading: the connection closes after the answer."""
        self._done = True


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], engine: Engine) -> None:
        self.engine = engine
        self._conn_lock = threading.Lock()
        self._conns: dict[socket.socket, threading.Thread] = {}
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="wheelship-emulator-conn",
            daemon=True,
        )
        with self._conn_lock:
            self._conns[request] = thread
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            with self._conn_lock:
                self._conns.pop(request, None)
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | ConnectionError):
            return  # client went away
        self.engine.internal_errors.append(traceback.format_exc())

    def close_connections(self, timeout: float = 5.0) -> None:
        """Unblock keep-alive connections and join their threads."""
        with self._conn_lock:
            conns = list(self._conns.items())
        for sock, _ in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for _, thread in conns:
            thread.join(max(0.0, deadline - time.monotonic()))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # one send per response: avoids the ~40 ms Nagle/delayed-ACK stall
    server_version = "wheelship-emulator"

    def version_string(self) -> str:
        return self.server_version

    timeout = 300  # idle keep-alive connections close after 5 minutes
    server: EmulatorHTTPServer

    tcp_nodelay = True

    def setup(self) -> None:
        super().setup()
        # a response larger than the write buffer still leaves in two sends; without TCP_NODELAY
        # the second waits for the client's delayed ACK (~40 ms) — see bench_emulator
        if self.tcp_nodelay:
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log is the record."""

    def handle_expect_100(self) -> bool:
        self.send_response_only(100)
        self.end_headers()
        self.wfile.flush()  # the buffered writer would otherwise hold the interim response
        return True

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, headers too long) as JSON error bodies."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"  # always send a status line
        error_code = {400: "MALFORMED_REQUEST", 501: "NOT_IMPLEMENTED"}.get(code, "BAD_REQUEST")
        text = message or explain or "Bad request"
        payload = json.dumps({"error_code": error_code, "message": text}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(payload)

    # -- the pipeline ------------------------------------------------------------------------
    def _handle(self) -> None:
        engine = self.server.engine
        started = time.perf_counter()
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = parse_qs(split.query, keep_blank_values=True)
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        body = BodyReader(self.rfile, max(length, 0), chunked)
        match = engine.router.match(self.command, path)
        route, rest = match if match else (None, "")
        endpoint = route.endpoint if route else f"{self.command} {path}"
        token_name: str | None = None
        fault_kind: str | None = None
        req: Request | None = None
        status = 500
        try:
            if length < 0:
                self.close_connection = True
                raise ApiError(400, "MALFORMED_REQUEST", "Invalid Content-Length header")
            delay = engine.latency.for_endpoint(endpoint)
            if delay > 0:
                engine.stopping.wait(delay)
            fault = engine.faults.pick(endpoint)
            if fault is not None:
                fault_kind = fault.kind
                if fault.kind == "reset":
                    status = 0
                    self._reset()
                    return
                if fault.kind == "slow":
                    engine.stopping.wait(fault.delay)
                else:
                    raise _fault_error(fault)
            retry_after = engine.limits.check(endpoint)
            if retry_after is not None:
                raise ApiError(
                    429,
                    "REQUEST_LIMIT_EXCEEDED",
                    f"Rate limit exceeded for {endpoint}. Please try again later.",
                    headers={"Retry-After": str(retry_after)}
                    if engine.limits.sends_retry_after(endpoint)
                    else {},
                )
            if route is None:
                raise ApiError(404, "ENDPOINT_NOT_FOUND", _no_api(self.command, path))
            req = Request(
                method=self.command,
                path=path,
                query=query,
                headers=self.headers,  # type: ignore[arg-type]
                endpoint=endpoint,
                version=route.version,
                rest=rest,
            )
            if route.auth:
                token_name, principal = engine.ws.auth.authenticate(
                    self.headers.get("Authorization")
                )
                _authorize(principal, route)
                req.principal = principal
            self._read_body(route, body, req)
            response = self._dispatch(route, req)
        except ApiError as err:
            response = _error_response(err, req.request_id if req else "")
        except OAuthError as err:
            response = Response(
                status=err.status,
                json={"error": err.error, "error_description": err.description},
            )
        except ConnectionError:
            self.close_connection = True
            status = 0
            return
        except Exception:
            engine.internal_errors.append(traceback.format_exc())
            response = _error_response(
                ApiError(500, "INTERNAL_ERROR", "Internal error in the emulator"), ""
            )
        finally:
            if req is not None:
                _cleanup_uploads(req)
            if status == 0:
                engine.log.add(
                    RequestRecord(
                        self.command,
                        path,
                        query,
                        0,
                        token_name,
                        endpoint,
                        (time.perf_counter() - started) * 1000,
                        fault_kind,
                    )
                )
        try:
            body.drain()  # keep the connection usable when we answered before reading it
        except (ConnectionError, ApiError):
            self.close_connection = True  # unreadable framing: answer, then hang up
        status = response.status
        logged = b""
        if (
            req is not None
            and route is not None
            and route.auth
            and route.body == "json"
            and len(req.raw_body) <= _LOG_BODY_LIMIT
        ):
            logged = req.raw_body
        try:
            self._write(response)
        finally:
            engine.log.add(
                RequestRecord(
                    self.command,
                    path,
                    query,
                    status,
                    token_name,
                    endpoint,
                    (time.perf_counter() - started) * 1000,
                    fault_kind,
                    logged,
                )
            )

    def _read_body(self, route: Route, body: BodyReader, req: Request) -> None:
        engine = self.server.engine
        ctype = self.headers.get("Content-Type", "")
        boundary = multipart.boundary_of(ctype)
        declared = body.declared_length
        limit = route.max_body
        if route.body == "form" and boundary is None:
            limit = min(limit, MAX_JSON_BODY)  # the JSON form of an upload endpoint
        if declared is not None and declared > limit:
            # refuse before reading: draining gigabytes would only delay the same answer
            body.abandon()
            self.close_connection = True
            raise ApiError(
                400,
                "INVALID_PARAMETER_VALUE",
                f"The request body ({declared} bytes) is larger than the maximum of "
                f"{limit} bytes for {route.endpoint}.",
            )
        if route.body == "raw":
            pending = engine.ws.blobs.new()
            req.upload = pending
            while chunk := body.read():
                pending.write(chunk)
                if pending.size > route.max_body:
                    body.drain()
                    raise ApiError(
                        400,
                        "INVALID_PARAMETER_VALUE",
                        f"The file is larger than the maximum size of {route.max_body} bytes.",
                    )
            pending.finish()
        elif route.body == "form" and boundary is not None:
            seen = 0

            def read(size: int) -> bytes:
                nonlocal seen
                data = body.read(size)
                seen += len(data)
                if seen > limit:  # chunked bodies declare no length up front
                    body.abandon()
                    self.close_connection = True
                    raise ApiError(
                        400,
                        "INVALID_PARAMETER_VALUE",
                        f"The request body is larger than the maximum of {limit} bytes for "
                        f"{route.endpoint}.",
                    )
                return data

            try:
                req.form = multipart.parse(
                    read, boundary, engine.ws.blobs, file_fields=_FILE_FIELDS
                )
            except multipart.MultipartError as exc:
                raise ApiError(400, "MALFORMED_REQUEST", f"Invalid multipart body: {exc}") from None
        elif route.body != "none":
            req.raw_body = body.read_all(limit)

    def _dispatch(self, route: Route, req: Request) -> Response:
        engine = self.server.engine
        ws = engine.ws
        with ws.lock:
            ws.tick()
            before = ws.version
            result = route.handler(ws, req)
            if engine.watch_invariants and ws.version != before:
                engine.violations += [
                    f"after {req.endpoint}: {problem}" for problem in invariants.check(ws)
                ]
            if engine.persist is not None and ws.version != engine.saved_version:
                engine.persist()
                engine.saved_version = ws.version
            response = (
                result
                if isinstance(result, Response)
                else Response(json={} if result is None else result)
            )
            if response.json is not None and response.body is None and response.stream is None:
                # encoded under the lock: answers share dicts with the live workspace, so the
                # handlers need not deep-copy what they return
                response.body = _encode(response.json)
        return response

    # -- writing -----------------------------------------------------------------------------
    def _write(self, response: Response) -> None:
        payload = b""
        if response.stream is None:
            if response.body is not None:
                payload = response.body
            elif response.json is not None:
                payload = _encode(response.json)
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            length = response.length if response.stream is not None else len(payload)
            if "Content-Length" not in response.headers:
                self.send_header("Content-Length", str(length))
            for key, value in response.headers.items():
                self.send_header(key, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command == "HEAD":
                return
            if response.stream is not None:
                left = response.length
                while left > 0:
                    chunk = response.stream.read(min(CHUNK, left))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    left -= len(chunk)
            elif payload:
                self.wfile.write(payload)
        finally:
            if response.stream is not None:
                response.stream.close()

    def _reset(self) -> None:
        """Drop the connection with a TCP RST, the way an overloaded proxy does."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        old = self.wfile
        self.wfile = io.BytesIO()  # handle_one_request flushes it afterwards
        with contextlib.suppress(OSError):
            old.close()
        with contextlib.suppress(OSError):
            self.connection.close()


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _authorize(principal: Principal, route: Route) -> None:
    """The workspace-wide standing; ``user`` callers pass here and meet the object's access
    list in the handler."""
    if principal.permission == "none" or (route.mutation and principal.permission == "read-only"):
        raise ApiError(
            403,
            "PERMISSION_DENIED",
            f"User {principal.name} does not have permission to perform this action "
            f"({route.endpoint}).",
        )


def _fault_error(fault: Fault) -> ApiError:
    kind = fault.kind
    if kind == "429":
        return ApiError(
            429,
            "REQUEST_LIMIT_EXCEEDED",
            "Too many requests. Please try again later.",
            headers={} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)},
        )
    if kind == "transient":
        return ApiError(fault.status, STATUS_CODES[fault.status], fault.message)
    if kind == "503":
        return ApiError(503, "TEMPORARILY_UNAVAILABLE", "The service is temporarily unavailable.")
    if kind == "403":
        # a caller that may read but lacks the permission this call needs (e.g. CAN_MANAGE on
        # a job): the body the workspace sends for a missing permission
        return ApiError(
            403,
            "PERMISSION_DENIED",
            "User does not have permission to perform this action (injected fault).",
        )
    return ApiError(500, "INTERNAL_ERROR", "Internal server error (injected fault).")


def _no_api(method: str, path: str) -> str:
    parts = path.split("/")
    if len(parts) > 3 and parts[1] == "api":
        path = "/" + "/".join(parts[3:])
    return f"No API found for '{method} {path}'"


def _error_response(err: ApiError, request_id: str) -> Response:
    headers = dict(err.headers)
    content_type = "application/json"
    if err.status in (401, 403) and isinstance(err.error_code, int):
        content_type = "application/json; charset=utf-8"
    return Response(
        status=err.status, json=err.body(request_id), headers=headers, content_type=content_type
    )


def _cleanup_uploads(req: Request) -> None:
    if req.upload is not None:
        req.upload.discard()
    if req.form is not None:
        req.form.discard()

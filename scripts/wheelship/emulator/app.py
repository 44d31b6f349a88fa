"""The :class:`Emulator`: start, stop, knobs, and read-back of state for test assertions."""

from __future__ import annotations

import copy
import hashlib
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from wheelship.emulator import invariants as _invariants
from wheelship.emulator import persistence
from wheelship.emulator.auth import Principal
from wheelship.emulator.blobs import BlobStore
from wheelship.emulator.clock import SimClock
from wheelship.emulator.faults import FaultPlan, Latency, RateLimits
from wheelship.emulator.lifecycle import ordered_statuses
from wheelship.emulator.router import Router
from wheelship.emulator.seed import apply_seed, load_seed
from wheelship.emulator.server import EmulatorHTTPServer, Engine, RequestRecord
from wheelship.emulator.services import control, register_all
from wheelship.emulator.state import Durations, Workspace
from wheelship.errors import ConfigurationError

ADMIN = "admin"


class _IPv6Server(EmulatorHTTPServer):
    address_family = socket.AF_INET6


def new_token() -> str:
    return "dapi" + secrets.token_hex(16)


class Emulator:
    """A Databricks workspace on loopback. Use as a context manager (or ``start()``/``stop()``)."""

    def __init__(
        self,
        seed: Mapping[str, Any] | str | Path | None = None,
        token: str | None = None,
        state_dir: str | Path | None = None,
        clock_speed: float = 1.0,
        latency: float | Mapping[str, float] | None = None,
        rate_limits: Mapping[str, Any] | str | None = None,
        faults: Iterable[Any] = (),
        fault_seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        durations: Durations | Mapping[str, float] | None = None,
        jobs_list_omits: Iterable[str] = (),
        watch_invariants: bool = False,
    ) -> None:
        try:
            self.clock = SimClock(clock_speed)
            self.faults = FaultPlan(faults, seed=fault_seed)
            self.rate_limits = RateLimits(rate_limits)
            self.latency = Latency(latency)
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigurationError(f"emulator: {exc}", "fix the emulator settings") from None
        self._seed = seed
        self._token = token
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.host = host
        self._port = port
        self._durations = durations
        #: settings fields jobs/list leaves out (e.g. ``environments``): the stricter reading of
        #: the documentation, for testing clients against both
        self.jobs_list_omits = frozenset(jobs_list_omits)
        self.watch_invariants = watch_invariants
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._engine: Engine | None = None
        self.resumed = False
        self.startup_seconds = 0.0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Emulator:
        if self._server is not None:
            return self
        started = time.perf_counter()
        blobs = BlobStore(persistence.blob_dir(self.state_dir) if self.state_dir else None)
        ws = Workspace(clock=self.clock, blobs=blobs)
        ws.jobs_list_omits = self.jobs_list_omits
        try:
            self._populate(ws)
        except BaseException:
            blobs.close()
            raise
        router = Router()
        register_all(router)
        engine = Engine(
            ws=ws,
            router=router,
            faults=self.faults,
            limits=self.rate_limits,
            latency=self.latency,
            watch_invariants=self.watch_invariants,
        )
        if self.state_dir is not None:
            state_dir = self.state_dir

            def persist() -> None:
                persistence.save(ws, state_dir)

            engine.persist = persist
        server_cls: type[EmulatorHTTPServer] = EmulatorHTTPServer
        if ":" in self.host:
            server_cls = _IPv6Server
        try:
            server = server_cls((self.host, self._port), engine)
        except OSError as exc:
            blobs.close()
            raise ConfigurationError(
                f"emulator: cannot listen on {self.host}:{self._port}: {exc.strerror or exc}",
                "choose another --port (0 picks a free one) or --host",
            ) from None
        self._engine = engine
        self._server = server
        host = f"[{self.host}]" if ":" in self.host else self.host
        ws.base_url = f"http://{host}:{self.port}"
        if engine.persist is not None:
            with ws.lock:
                engine.persist()
                engine.saved_version = ws.version
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="wheelship-emulator",
            daemon=True,
        )
        self._thread.start()
        self.startup_seconds = time.perf_counter() - started
        return self

    def _populate(self, ws: Workspace) -> None:
        if self._durations is not None:
            values = (
                self._durations.__dict__
                if isinstance(self._durations, Durations)
                else dict(self._durations)
            )
            for key, value in values.items():
                if not hasattr(ws.durations, key):
                    raise ConfigurationError(f"emulator: unknown duration {key!r}", "see Durations")
                setattr(ws.durations, key, float(value))
        if self.state_dir is not None and persistence.exists(self.state_dir):
            try:
                persistence.load(ws, self.state_dir)
            except (ValueError, KeyError, TypeError, OSError) as exc:
                raise ConfigurationError(
                    f"emulator: cannot resume from {self.state_dir}: {exc}",
                    "remove the state directory to start a fresh workspace",
                ) from None
            self.resumed = True
            referenced = {
                node.blob_id
                for tree in (ws.volumes, ws.workspace, ws.dbfs)
                for node in tree.nodes.values()
                if node.blob_id
            }
            for orphan in ws.blobs.ids() - referenced:
                ws.blobs.delete(orphan)
        else:
            data, base = load_seed(self._seed)
            apply_seed(ws, data, base)
        ws.auth.users.setdefault(ws.admin_user, Principal(ws.admin_user, "admin"))
        if self._token is not None:
            for value in [v for v, (n, _) in ws.auth.tokens.items() if n == ADMIN]:
                del ws.auth.tokens[value]
            ws.auth.add_token(ADMIN, self._token, Principal(ws.admin_user, "admin"))
        elif not any(n == ADMIN for n, _ in ws.auth.tokens.values()):
            ws.auth.add_token(ADMIN, new_token(), Principal(ws.admin_user, "admin"))

    def stop(self) -> None:
        server, engine = self._server, self._engine
        if server is None or engine is None:
            return
        engine.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join()
        ws = engine.ws
        if engine.persist is not None:
            with ws.lock:
                ws.tick()
                engine.persist()
        with ws.lock:
            # DBFS uploads a client abandoned (their handles would expire after 10 minutes)
            for _path, _overwrite, entry in ws.dbfs_handles.values():
                entry["blob"].discard()
            ws.dbfs_handles.clear()
        ws.blobs.close()
        self._server = None
        self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses and credentials -----------------------------------------------------------
    @property
    def _ws(self) -> Workspace:
        if self._engine is None:
            raise RuntimeError("the emulator is not running: use it as a context manager")
        return self._engine.ws

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return self._ws.base_url

    @property
    def token(self) -> str:
        """The admin token."""
        return self._ws.auth.token_value(ADMIN)

    @property
    def tokens(self) -> dict[str, str]:
        """Token name -> value, for every PAT (the admin token is ``"admin"``)."""
        return {name: value for value, (name, _) in self._ws.auth.tokens.items()}

    @property
    def workspace_id(self) -> int:
        return self._ws.workspace_id

    # -- knobs -------------------------------------------------------------------------------
    def set_latency(self, seconds: float | None, endpoint: str | None = None) -> None:
        """Answer every request (or those matching ``endpoint``) ``seconds`` late."""
        self.latency.set(seconds, endpoint)

    def set_rate_limit(
        self,
        endpoint: str,
        per_second: float | None,
        burst: float | None = None,
        retry_after: bool = True,
    ) -> None:
        """Answer 429 (+ Retry-After unless ``retry_after=False``) above ``per_second`` (None
        removes the limit)."""
        if per_second is None:
            self.rate_limits.set(endpoint, None)
        else:
            self.rate_limits.set(
                endpoint,
                {
                    "rate": per_second,
                    "burst": burst or max(1.0, per_second),
                    "retry_after": retry_after,
                },
            )

    def add_fault(self, kind: str, rate: float = 1.0, endpoint: str = "*", **kwargs: Any) -> Any:
        """Inject ``kind`` (500, 503, 429, 429-no-retry-after, 403, transient, reset, slow)
        into matching requests; ``count=N`` stops after N injections; ``transient`` takes
        ``message=`` (one the SDK retries) and ``status=``."""
        return self.faults.add(kind, rate, endpoint, **kwargs)

    def clear_faults(self) -> None:
        self.faults.clear()

    @property
    def durations(self) -> Durations:
        return self._ws.durations

    def advance(self, seconds: float) -> None:
        """Move simulated time forward and apply every transition due by then."""
        self.clock.advance(seconds)
        with self.state():
            pass

    def settle(self, limit: float = 24 * 3600.0) -> float:
        """Advance simulated time until nothing is in motion (clusters, libraries, runs);
        returns the simulated seconds it took."""
        with self.state() as ws:
            return control.settle(ws, limit)

    # -- request log -------------------------------------------------------------------------
    @property
    def requests(self) -> list[RequestRecord]:
        assert self._engine is not None
        return self._engine.log.snapshot()

    @property
    def counters(self) -> dict[str, int]:
        """Requests per endpoint (``"METHOD /api/x.y/service/verb"``)."""
        assert self._engine is not None
        return self._engine.log.counts()

    def clear_log(self) -> None:
        assert self._engine is not None
        self._engine.log.clear()

    @property
    def internal_errors(self) -> list[str]:
        """Tracebacks of handler crashes (answered 500); tests assert this stays empty."""
        assert self._engine is not None
        return list(self._engine.internal_errors)

    def invariants(self) -> list[str]:
        with self.state() as ws:
            return _invariants.check(ws)

    @property
    def violations(self) -> list[str]:
        """With ``watch_invariants=True``: every invariant violation seen right after a
        state-changing request, named by that request's endpoint (empty when all held)."""
        assert self._engine is not None
        with self._engine.ws.lock:
            return list(self._engine.violations)

    # -- state read-back ---------------------------------------------------------------------
    @contextmanager
    def state(self) -> Iterator[Workspace]:
        """The live workspace under its lock, for anything the helpers below do not cover.
        Changes are saved to the state directory (if any) on exit; call ``ws.changed()`` after
        changing objects directly."""
        ws = self._ws
        with ws.lock:
            ws.tick()
            try:
                yield ws
            finally:
                self._persist()

    def _persist(self) -> None:
        engine = self._engine
        if (
            engine is not None
            and engine.persist is not None
            and engine.ws.version != engine.saved_version
        ):
            engine.persist()
            engine.saved_version = engine.ws.version

    def job_settings(self, job_id: int) -> dict[str, Any]:
        with self.state() as ws:
            return copy.deepcopy(ws.jobs[int(job_id)].settings)

    def jobs(self) -> dict[int, dict[str, Any]]:
        """job id -> settings."""
        with self.state() as ws:
            return {jid: copy.deepcopy(j.settings) for jid, j in ws.jobs.items()}

    def cluster(self, cluster_id: str) -> dict[str, Any]:
        from wheelship.emulator.services.clusters import cluster_json

        with self.state() as ws:
            return copy.deepcopy(cluster_json(ws, ws.clusters[cluster_id]))

    def cluster_state(self, cluster_id: str) -> str:
        with self.state() as ws:
            return ws.clusters[cluster_id].state

    def cluster_libraries(self, cluster_id: str) -> list[dict[str, Any]]:
        """``[{"library": {...}, "status": "INSTALLED", "messages": [...]}, ...]``."""
        with self.state() as ws:
            return copy.deepcopy(ordered_statuses(ws.clusters[cluster_id]))

    def runs(self, job_id: int | None = None) -> list[dict[str, Any]]:
        from wheelship.emulator.services.jobs import run_json

        with self.state() as ws:
            return copy.deepcopy(
                [
                    run_json(ws, r)
                    for r in sorted(ws.runs.values(), key=lambda r: r.run_id)
                    if job_id is None or r.job_id == job_id
                ]
            )

    def file_exists(self, path: str) -> bool:
        with self.state() as ws:
            return _blob_of(ws, path) is not None

    def read_file(self, path: str) -> bytes:
        """A file's bytes (``/Volumes/..``, ``/Workspace/..`` or ``dbfs:/..``)."""
        with self.state() as ws:
            return ws.blobs.read(_existing_blob(ws, path))

    def file_sha256(self, path: str) -> str:
        with self.state() as ws:
            return ws.blobs.sha256(_existing_blob(ws, path))

    def files(self, prefix: str = "/") -> dict[str, int]:
        """Every file path under ``prefix`` (any store form) -> size."""
        out: dict[str, int] = {}
        with self.state() as ws:
            stores = ((ws.volumes, ""), (ws.workspace, "/Workspace"), (ws.dbfs, "dbfs:"))
            for tree, shown in stores:
                for node in tree.walk_files():
                    name = shown + node.path
                    if prefix == "/" or name.startswith(prefix):
                        out[name] = node.size
        return out

    def put_file(self, path: str, data: bytes) -> None:
        """Create or replace a file directly (test setup), creating parent folders."""
        with self.state() as ws:
            ws.put_bytes(path, data)

    def delete_file(self, path: str) -> None:
        with self.state() as ws:
            ws.delete_path(path)

    def blob_digest(self, data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()


def _blob_of(ws: Workspace, path: str) -> str | None:
    """The blob of the file at a user-facing path, or None when no file is there."""
    tree, clean = ws.lookup(path)
    node = tree.get(clean)
    return None if node is None or node.is_dir else node.blob_id


def _existing_blob(ws: Workspace, path: str) -> str:
    blob_id = _blob_of(ws, path)
    if blob_id is None:
        raise FileNotFoundError(path)
    return blob_id

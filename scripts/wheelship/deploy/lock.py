"""The workspace lock of a target: one deploy (or rollback) at a time, whoever starts it.

Like the lock of ``databricks bundle deploy``: a small JSON file created *without overwrite* in
the artifacts folder, so two deploys racing for it cannot both create it — whichever request the
workspace takes first wins, the other gets "already exists". The file names its holder (pipeline
URL or user, host, process, start time). It is deleted when the deploy ends, however it ends.

A lock is stale, and taken over, when it is older than its TTL, or when its holder ran on this
host and its process is gone (a deploy killed with ``kill -9`` and rerun on the same machine).
``--force-unlock`` removes any lock first: for an admin who knows the holder is gone.

Creating the lock is also the first write of a deploy, so an identity that may not write to the
artifacts folder is refused here, before anything changes.

The GitLab ``resource_group`` still serialises the pipelines of one project; this lock also
covers deploys from other projects, laptops and schedules.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from wheelship import log
from wheelship.databricks.storage import AlreadyExists, Storage
from wheelship.errors import AccessDenied, DatabricksError, WheelshipError

#: This process, among all processes with the same pid over time (a lock outlives its process).
PROCESS = uuid.uuid4().hex
#: The tokens of the locks this process holds right now (several threads may deploy).
_held_here: set[str] = set()
_held_lock = threading.Lock()


class LockHeld(WheelshipError):
    """Another deploy holds the target's lock (and did not let go within the wait)."""


def lock_name(target: str) -> str:
    """The lock file of a target in its artifacts folder (not a wheel: retention ignores it)."""
    return f".wheelship-{target}.lock"


@dataclass(frozen=True)
class LockInfo:
    """What the lock file says about its holder."""

    target: str
    holder: str  # the pipeline or job URL, else user@host
    host: str
    pid: int
    started: float  # epoch seconds (the holder's clock)
    ttl: int
    token: str  # unique per deploy: a holder releases only its own lock
    command: str = "deploy"
    version: str = ""
    process: str = ""

    @classmethod
    def parse(cls, data: bytes) -> LockInfo | None:
        """The lock's holder; None for a file that is not a lock (a half-written one is
        treated as held by nobody, so it goes stale by age only through ``force``)."""
        try:
            raw = json.loads(data.decode("utf-8"))
            return cls(
                target=str(raw["target"]),
                holder=str(raw["holder"]),
                host=str(raw["host"]),
                pid=int(raw["pid"]),
                started=float(raw["started"]),
                ttl=int(raw["ttl"]),
                token=str(raw["token"]),
                command=str(raw.get("command") or "deploy"),
                version=str(raw.get("version") or ""),
                process=str(raw.get("process") or ""),
            )
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return None

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode("utf-8")

    def age(self, now: float) -> float:
        return max(0.0, now - self.started)

    def describe(self, now: float) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.started))
        what = f"{self.command} {self.version}".strip()
        return f"{self.holder} ({what}, host {self.host}, since {when}, {int(self.age(now))} s ago)"

    def stale(self, now: float, *, host: str, alive: Callable[[int], bool]) -> str | None:
        """Why the lock no longer protects anything, or None while it does."""
        if self.age(now) > self.ttl:
            return f"older than its TTL ({self.ttl} s)"
        if self.host == host and not alive(self.pid):
            return f"its process {self.pid} on this host is gone"
        if self.process == PROCESS:
            with _held_lock:
                if self.token not in _held_here:
                    return "an earlier deploy of this process ended without releasing it"
        return None


def holder_name(environ: Mapping[str, str]) -> str:
    """Who deploys: the CI job (or pipeline) URL, else the user on this host."""
    for key in ("CI_JOB_URL", "CI_PIPELINE_URL"):
        if environ.get(key):
            return environ[key]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


@dataclass(frozen=True)
class LockPolicy:
    ttl: int
    wait: float
    force: bool = False  # --force-unlock


def read(storage: Storage, target: str) -> LockInfo | None:
    data = storage.read_bytes(lock_name(target))
    if data is None:
        return None
    info = LockInfo.parse(data)
    if info is None:
        # an unreadable lock file still holds the lock: say so rather than ignore it
        return LockInfo(target, "an unreadable lock file", "?", 0, 0.0, 0, "?")
    return info


class Lock:
    """Acquire with :meth:`acquire`, release with :meth:`release` (a context manager does both)."""

    def __init__(
        self,
        storage: Storage,
        target: str,
        policy: LockPolicy,
        *,
        command: str,
        version: str,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        poll: float = 2.0,
        progress_every: float = 30.0,
    ) -> None:
        env = os.environ if environ is None else environ
        self.storage = storage
        self.target = target
        self.policy = policy
        self.clock = clock
        self.sleep = sleep
        self.poll = poll
        self.progress_every = progress_every
        self.host = socket.gethostname()
        self.info = LockInfo(
            target=target,
            holder=holder_name(env),
            host=self.host,
            pid=os.getpid(),
            started=clock(),
            ttl=policy.ttl,
            token=uuid.uuid4().hex,
            command=command,
            version=version,
            process=PROCESS,
        )
        self.held = False
        self.waited = 0.0
        self.took_over: str | None = None

    @property
    def name(self) -> str:
        return lock_name(self.target)

    def _create(self) -> bool:
        info = LockInfo(**{**asdict(self.info), "started": self.clock()})
        try:
            try:
                self.storage.create(self.name, info.to_bytes())
            except DatabricksError as exc:
                if not (exc.status == 404 or exc.error_code == "RESOURCE_DOES_NOT_EXIST"):
                    raise
                # the first deploy to a new folder: the folder comes first
                self.storage.make_folder()
                self.storage.create(self.name, info.to_bytes())
        except AlreadyExists:
            return False
        except DatabricksError as exc:
            if exc.status == 403 or exc.error_code == "PERMISSION_DENIED":
                raise AccessDenied(
                    f"the deploy identity may not write to {self.storage.folder} "
                    f"(creating the lock file {self.name}): {exc.what}",
                    "grant it write access to the artifacts folder (WRITE VOLUME, or CAN_MANAGE "
                    "on the workspace folder); nothing was changed",
                ) from None
            raise
        self.info = info
        # Read it back: a takeover racing ours may have replaced the file between our delete
        # and our create; only the holder whose token is in the file goes on.
        current = read(self.storage, self.target)
        return current is not None and current.token == self.info.token

    def acquire(self) -> None:
        # Registered before the file exists: another thread of this process that reads our
        # fresh lock must never find it "left by an earlier deploy of this process".
        with _held_lock:
            _held_here.add(self.info.token)
        try:
            self._acquire()
        except BaseException:
            with _held_lock:
                _held_here.discard(self.info.token)
            raise

    def _acquire(self) -> None:
        started = time.monotonic()
        if self.policy.force:
            current = read(self.storage, self.target)
            if current is not None:
                log.warn(f"--force-unlock: removing the lock of {current.describe(self.clock())}")
                self.storage.delete(self.name)
        last_progress = started
        shown: str | None = None  # the holder the last progress line named
        while True:
            created = self._create()
            current = None if created else read(self.storage, self.target)
            if created or (current is not None and current.token == self.info.token):
                # (a create whose answer was lost and whose retry found the file: ours)
                self.held = True
                self.waited = time.monotonic() - started
                return
            if current is None:
                continue  # released between our create and our read: try again at once
            now = self.clock()
            why = current.stale(now, host=self.host, alive=pid_alive)
            if why is not None:
                again = read(self.storage, self.target)
                if again is not None and again.token == current.token:
                    log.warn(f"taking over a stale lock ({why}): {current.describe(now)}")
                    self.took_over = why
                    self.storage.delete(self.name)
                continue
            waited = time.monotonic() - started
            if waited >= self.policy.wait:
                raise LockHeld(
                    f"target {self.target} is locked by {current.describe(now)}; "
                    f"waited {int(waited)} s",
                    "wait for that deploy to finish and run again (raise lock.wait to wait "
                    "longer); if it is gone, 'wheelship deploy --force-unlock' removes the lock",
                )
            if shown is None or time.monotonic() - last_progress >= self.progress_every:
                shown = current.token
                log.info(
                    f"  waiting for the lock of {self.target}: held by {current.describe(now)}"
                )
                last_progress = time.monotonic()
            self.sleep(min(self.poll, max(0.05, self.policy.wait - waited)))

    def still_held(self) -> bool:
        current = read(self.storage, self.target)
        return current is not None and current.token == self.info.token

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        with _held_lock:
            _held_here.discard(self.info.token)
        try:
            if self.still_held():
                self.storage.delete(self.name)
        except WheelshipError as exc:
            # the deploy's own outcome matters more; the lock goes stale after its TTL
            log.warn(f"could not release the lock {self.name}: {exc}")

    def __enter__(self) -> Lock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def describe_held(info: LockInfo | None, now: float | None = None) -> str | None:
    """A line for plan and status when the target is locked."""
    if info is None:
        return None
    return f"target {info.target} is locked by {info.describe(now or time.time())}"


def as_json(info: LockInfo | None) -> dict[str, Any] | None:
    return asdict(info) if info else None

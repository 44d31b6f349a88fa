"""The workspace: every object the services read and change, under one lock.

Handlers run with :attr:`Workspace.lock` held and call :meth:`Workspace.tick` first, which plays
the time-driven state machines (clusters, libraries, runs — :mod:`wheelship.emulator.lifecycle`)
forward to the simulated "now". Nothing here does network I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from wheelship.emulator import uc
from wheelship.emulator.auth import AuthRegistry, Principal
from wheelship.emulator.blobs import BlobStore
from wheelship.emulator.clock import SimClock
from wheelship.emulator.filetree import FileTree, normalize
from wheelship.emulator.libspec import FileRef, file_ref
from wheelship.emulator.uc import VolumeAccess


@dataclass
class Durations:
    """Simulated seconds each transition takes (scale them all with the clock speed)."""

    cluster_start: float = 60.0  # PENDING -> RUNNING
    cluster_restart: float = 40.0  # RESTARTING -> RUNNING
    cluster_terminate: float = 10.0  # TERMINATING -> TERMINATED
    library_resolve: float = 2.0  # PENDING -> INSTALLING (on a running cluster)
    library_install: float = 8.0  # INSTALLING -> INSTALLED | FAILED
    run_setup: float = 10.0  # PENDING -> RUNNING (after its cluster is running)
    run_execute: float = 20.0  # RUNNING -> TERMINATING
    run_cleanup: float = 3.0  # TERMINATING -> TERMINATED


@dataclass
class LibraryEntry:
    spec: dict[str, Any]
    status: str = "PENDING"
    messages: list[str] = field(default_factory=list)
    due: float | None = None  # simulated time of the next transition
    loaded: bool = False  # installed into the running cluster's environment
    installer: str | None = None  # who asked for it (reads the file on standard compute)

    def to_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "library": self.spec,
            "status": self.status,
            "is_library_for_all_clusters": False,
        }
        if self.messages:
            out["messages"] = list(self.messages)
        return out


@dataclass
class Cluster:
    cluster_id: str
    spec: dict[str, Any]  # the requested spec (cluster_name, spark_version, custom_tags, ...)
    state: str = "TERMINATED"
    state_message: str = ""
    due: float | None = None
    start_time: int = 0
    terminated_time: int | None = None
    last_restarted_time: int | None = None
    last_state_loss_time: int | None = None
    termination_reason: dict[str, Any] | None = None
    creator_user_name: str = ""
    cluster_source: str = "UI"
    pinned: bool = False
    libraries: list[LibraryEntry] = field(default_factory=list)
    acl: dict[str, str] = field(default_factory=dict)  # direct grants, see emulator.acl

    @property
    def name(self) -> str:
        return str(self.spec.get("cluster_name", ""))


@dataclass
class Job:
    job_id: int
    settings: dict[str, Any]
    created_time: int
    creator_user_name: str
    run_as_user_name: str  # the owner's name when settings name no run_as (see jobs.run_as)
    acl: dict[str, str] = field(default_factory=dict)  # direct grants incl. IS_OWNER


@dataclass
class RunTask:
    task_key: str
    run_id: int
    settings: dict[str, Any]
    life_cycle_state: str = "PENDING"
    result_state: str | None = None
    state_message: str = ""
    code: str | None = None  # termination code once decided
    message: str = ""
    cluster_id: str | None = None  # existing_cluster_id
    start_time: int = 0
    end_time: int = 0


@dataclass
class Run:
    run_id: int
    job_id: int
    number_in_job: int
    run_name: str
    creator_user_name: str
    settings: dict[str, Any]  # the job settings the run started with
    tasks: list[RunTask]
    job_parameters: list[dict[str, Any]] = field(default_factory=list)
    overriding: dict[str, Any] = field(default_factory=dict)
    trigger: str = "ONE_TIME"
    run_type: str = "JOB_RUN"
    life_cycle_state: str = "QUEUED"
    result_state: str | None = None
    state_message: str = ""
    queue_reason: str = ""
    user_cancelled_or_timedout: bool = False
    code: str | None = None
    code_type: str | None = None
    message: str = ""
    due: float | None = None
    created_at: float = 0.0  # simulated seconds
    start_time: int = 0
    setup_start: int = 0
    exec_start: int = 0
    cleanup_start: int = 0
    end_time: int = 0
    started_clusters: list[str] = field(default_factory=list)
    idempotency_token: str | None = None
    run_as: str = ""  # the job's run-as identity when the run started

    @property
    def active(self) -> bool:
        return self.life_cycle_state in {"QUEUED", "PENDING", "RUNNING", "TERMINATING", "BLOCKED"}


class Workspace:
    """All state; ``lock`` must be held for every read or change."""

    def __init__(
        self,
        *,
        clock: SimClock,
        blobs: BlobStore,
        durations: Durations | None = None,
        workspace_id: int = 1234567890123456,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.blobs = blobs
        self.durations = durations or Durations()
        self.auth = AuthRegistry()
        self.workspace_id = workspace_id
        self.account_id = "a1b2c3d4-0000-4000-8000-00000000e0e0"
        self.admin_user = "admin@example.com"
        self.base_url = "http://127.0.0.1"
        self.next_object_id = 1000
        self.next_job_id = 100_000_000_000_001
        self.next_run_id = 700_000_000_000_001
        self.next_handle = 1
        self.volumes = FileTree(self._ids())
        self.workspace = FileTree(self._ids())
        self.dbfs = FileTree(self._ids())
        # Unity Catalog volumes that exist; None = any /Volumes/<c>/<s>/<v> exists on demand
        self.declared_volumes: set[str] | None = None
        # Unity Catalog grants (emulator.uc); None = not enforced (no grants in the seed)
        self.grants: dict[str, dict[str, set[str]]] | None = None
        # JAR paths / Maven coordinates allowed on standard access mode (emulator.libcompat)
        self.artifact_allowlist: frozenset[str] = frozenset()
        self.clusters: dict[str, Cluster] = {}
        self.jobs: dict[int, Job] = {}
        self.runs: dict[int, Run] = {}
        self.task_runs: dict[int, tuple[int, str]] = {}  # task run id -> (run id, task key)
        self.dbfs_handles: dict[
            int, tuple[str, bool, Any]
        ] = {}  # handle -> (path, overwrite, blob)
        self.version = 0  # bumped by every change; persistence saves when it moved
        # Settings fields ``jobs/list`` leaves out. The SDK documents only ``tasks`` and
        # ``job_clusters`` as the arrays list truncates; whether it returns ``environments`` is
        # not documented, so clients can be tested against the stricter reading too.
        self.jobs_list_omits: frozenset[str] = frozenset()
        now_ms = clock.now_ms()
        self.volumes.mkdirs("/Volumes", now_ms)
        self.dbfs.mkdirs("/", now_ms)
        for path in ("/Shared", f"/Users/{self.admin_user}"):
            self.workspace.mkdirs(path, now_ms)

    def _ids(self) -> Iterator[int]:
        while True:
            self.next_object_id += 1
            yield self.next_object_id

    def changed(self) -> None:
        self.version += 1

    def now(self) -> float:
        return self.clock.now()

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def tick(self) -> None:
        from wheelship.emulator import lifecycle

        lifecycle.advance(self, self.clock.now())

    # -- files across the three stores -------------------------------------------------------
    def tree(self, store: str) -> FileTree:
        return {"volumes": self.volumes, "workspace": self.workspace, "dbfs": self.dbfs}[store]

    def volume_root(self, path: str) -> str | None:
        """``/Volumes/c/s/v`` for a path inside a volume, else None."""
        parts = path.split("/")
        if len(parts) < 5 or parts[1] != "Volumes" or not all(parts[2:5]):
            return None
        return "/".join(parts[:5])

    def volume_problem(
        self, principal: Principal | None, root: str, needed: VolumeAccess
    ) -> str | None:
        """Why ``principal`` may not read/write the volume at ``root`` (emulator.uc), or None."""
        return uc.volume_problem(self.grants, self.admin_user, principal, root, needed)

    def volume_exists(self, root: str) -> bool:
        return self.declared_volumes is None or root in self.declared_volumes

    def file_exists(self, ref: FileRef) -> bool:
        node = self.tree(ref.store).get(ref.path)
        return node is not None and not node.is_dir

    def lookup(self, path: str) -> tuple[FileTree, str]:
        """A tree and path for a user-facing path: ``/Volumes/..``, ``/Workspace/..``,
        ``dbfs:/..`` (test helpers)."""
        ref = file_ref(path)
        if ref is None:
            raise ValueError(f"{path!r} is not a /Volumes, /Workspace or dbfs:/ path")
        return self.tree(ref.store), normalize(ref.path)

    def put_bytes(self, path: str, data: bytes, *, overwrite: bool = True) -> None:
        tree, clean = self.lookup(path)
        blob_id, size = self.blobs.put_bytes(data)
        self._store(tree, clean, blob_id, size, overwrite)

    def put_blob(self, path: str, blob_id: str, size: int, *, overwrite: bool = True) -> None:
        tree, clean = self.lookup(path)
        self._store(tree, clean, blob_id, size, overwrite)

    def _store(self, tree: FileTree, path: str, blob_id: str, size: int, overwrite: bool) -> None:
        with self.blobs.owning(blob_id):
            if tree is self.volumes:
                root = self.volume_root(path)
                if root is None:
                    raise ValueError(
                        f"{path} is not inside a volume (/Volumes/<catalog>/<schema>/<volume>)"
                    )
                if self.declared_volumes is not None:
                    self.declared_volumes.add(root)
            self.store_file(tree, path, blob_id, size, overwrite=overwrite, create_parents=True)

    def store_file(
        self,
        tree: FileTree,
        path: str,
        blob_id: str,
        size: int,
        *,
        overwrite: bool,
        create_parents: bool,
        object_type: str = "FILE",
        language: str | None = None,
    ) -> None:
        """Point ``path`` at a committed blob and delete the blob it replaces. Call it inside
        ``blobs.owning(blob_id)`` with the API's own checks, so a refused write frees the blob."""
        replaced = tree.put_file(
            path,
            blob_id,
            size,
            self.now_ms(),
            overwrite=overwrite,
            create_parents=create_parents,
            object_type=object_type,
            language=language,
        )
        if replaced:
            self.blobs.delete(replaced)
        self.changed()

    def delete_path(self, path: str, *, recursive: bool = False) -> None:
        tree, clean = self.lookup(path)
        for blob in tree.delete(clean, recursive=recursive):
            self.blobs.delete(blob)
        self.changed()

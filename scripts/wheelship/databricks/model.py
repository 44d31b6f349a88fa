"""Plain data read from a workspace: what the pure planner works on.

:mod:`wheelship.databricks.snapshot` fills these from the REST API; tests build them by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

#: Library statuses after which nothing more happens without a restart.
SETTLED_STATUSES = frozenset({"INSTALLED", "FAILED", "SKIPPED", "RESTORED", "UNINSTALL_ON_RESTART"})
#: Clusters whose libraries are loaded right now.
ACTIVE_STATES = frozenset({"RUNNING", "RESIZING"})
#: Cluster sources that are all-purpose compute (the rest belong to jobs, pipelines, SQL).
ALL_PURPOSE_SOURCES = frozenset({"UI", "API", ""})
#: Run life-cycle states after which a run does nothing more (SKIPPED: a run not started because
#: the job already had ``max_concurrent_runs`` active runs and queueing was off).
FINISHED_RUN_STATES = frozenset({"TERMINATED", "SKIPPED", "INTERNAL_ERROR"})


@dataclass(frozen=True)
class Job:
    job_id: int
    name: str
    settings: Mapping[str, Any]
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LibraryStatus:
    library: Mapping[str, Any]
    status: str
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cluster:
    cluster_id: str
    name: str
    state: str
    source: str = "UI"
    tags: Mapping[str, str] = field(default_factory=dict)
    access_mode: str | None = None  # data_security_mode
    libraries: tuple[LibraryStatus, ...] = ()

    @property
    def is_all_purpose(self) -> bool:
        return self.source in ALL_PURPOSE_SOURCES

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    modified: float | None = None  # epoch seconds, as the workspace stamps it


@dataclass(frozen=True)
class ActiveRun:
    run_id: int
    job_id: int | None
    name: str
    cluster_ids: tuple[str, ...]


@dataclass(frozen=True)
class Run:
    """A job run as ``runs/get`` reports it."""

    run_id: int
    job_id: int | None
    life_cycle_state: str
    result_state: str | None
    message: str = ""
    url: str | None = None
    queued: bool = False

    @property
    def finished(self) -> bool:
        return self.life_cycle_state in FINISHED_RUN_STATES


@dataclass(frozen=True)
class Identity:
    """The deploy identity as SCIM ``Me`` describes it."""

    name: str  # user name, or a service principal's application id
    display: str
    groups: tuple[str, ...] = ()
    service_principal: bool = False

    @property
    def is_admin(self) -> bool:
        """Workspace admins see and manage every job and cluster."""
        return "admins" in self.groups


class JobPage(NamedTuple):
    """Which jobs one page of ``jobs/list`` held, and the token that asked for it (None: the
    first page): the deploy reads those pages again right before it writes their jobs."""

    token: str | None
    job_ids: tuple[int, ...]


@dataclass(frozen=True)
class Snapshot:
    """One read of the workspace. ``jobs`` and ``clusters`` hold the whole workspace (retention
    must see every reference, not only the selected ones); ``artifacts`` lists the wheel folder
    (``None`` when the folder does not exist yet); ``digests`` holds the sha256 of the files
    whose bytes the plan must compare."""

    host: str
    jobs: tuple[Job, ...] = ()
    clusters: tuple[Cluster, ...] = ()
    artifacts: tuple[RemoteFile, ...] | None = ()
    digests: Mapping[str, str] = field(default_factory=dict)
    active_runs: tuple[ActiveRun, ...] = ()
    #: the workspace's time of the read (epoch seconds), what file ages are measured against
    now: float = 0.0
    identity: Identity | None = None
    #: the pages ``jobs`` was listed in, in order (empty when the jobs did not come from a list)
    job_pages: tuple[JobPage, ...] = ()

    def artifact(self, name: str) -> RemoteFile | None:
        return next((f for f in self.artifacts or () if f.name == name), None)

    def runs_on(self, cluster_id: str) -> list[ActiveRun]:
        return [r for r in self.active_runs if cluster_id in r.cluster_ids]

"""The ``targets:`` section of ``wheelship.yml``: schema, validation with key paths, defaults.

Every unknown key, wrong type and bad value is refused with the path of the offending key
(``targets.prod.clusters.restart: expected one of never, if-idle, always, got 'sometimes'``), so
``wheelship config --check`` can validate a configuration without calling the workspace.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

from packaging.utils import canonicalize_name

from wheelship.databricks.storage import storage_class
from wheelship.errors import ConfigurationError

JobSelect = Literal["referencing", "listed"]
ClusterMode = Literal["automated", "manual"]
Restart = Literal["never", "if-idle", "always"]
JOB_SELECT: tuple[JobSelect, ...] = get_args(JobSelect)
CLUSTER_MODES: tuple[ClusterMode | Literal["off"], ...] = (*get_args(ClusterMode), "off")
RESTART_POLICIES: tuple[Restart, ...] = get_args(Restart)

_FIX = "see docs/configuration.md"
DEFAULT_LOCK_TTL = 2 * 3600  # a deploy not finished after this long is presumed dead
DEFAULT_LOCK_WAIT = 600  # how long a second deploy waits for the first
LOCK_MARGIN = 600  # the lock's TTL covers a deploy's waits plus its reads and writes
_PACKAGE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class JobSelection:
    """Which jobs deploy repoints. ``referencing``: every job that references the package,
    narrowed by the filters; ``listed``: exactly the jobs the filters name."""

    select: JobSelect = "referencing"
    ids: tuple[int, ...] = ()
    names: tuple[str, ...] = ()  # globs (fnmatch), case-sensitive like the Jobs UI
    tags: Mapping[str, str] = field(default_factory=dict)
    exclude: tuple[int | str, ...] = ()  # job ids, or name globs
    allow_empty: bool = False  # a selection that matches no job is not refused
    managed: Literal["skip", "rewrite"] = "skip"  # bundle-deployed and git-defined jobs

    @property
    def has_filters(self) -> bool:
        return bool(self.ids or self.names or self.tags)


@dataclass(frozen=True)
class ClusterSelection:
    """Which all-purpose clusters get the wheel, and how."""

    mode: ClusterMode | Literal["off"] = "off"
    ids: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()  # cluster ids, or name globs
    restart: Restart = "if-idle"
    wait: int = 900
    allow_empty: bool = False

    @property
    def has_filters(self) -> bool:
        return bool(self.ids or self.names or self.tags)


@dataclass(frozen=True)
class Smoke:
    job: int | str  # job id or exact job name
    timeout: int = 1800


@dataclass(frozen=True)
class Canary:
    """The first wave of a deploy: these jobs and clusters get the new version first, then the
    smoke job runs; only when it succeeds does the rest of the target follow. A failing canary
    is rolled back to the version it ran before."""

    jobs: tuple[int | str, ...] = ()  # job ids or exact names
    clusters: tuple[str, ...] = ()  # cluster ids or exact names
    smoke: int | str | None = None  # job id or exact name; None: the target's smoke job
    timeout: int = 1800


@dataclass(frozen=True)
class LockSettings:
    """The target's workspace lock: stale after ``ttl`` seconds; a second deploy waits up to
    ``wait`` seconds for it."""

    ttl: int = DEFAULT_LOCK_TTL
    wait: int = DEFAULT_LOCK_WAIT


@dataclass(frozen=True)
class Target:
    name: str
    host: str | None
    profile: str | None
    artifacts: str
    keep: int = 3
    min_age_days: int = 7  # retention deletes only wheels at least this old
    skip_denied: bool = False  # objects the identity may not change: skipped, not refused
    jobs: JobSelection = field(default_factory=JobSelection)
    #: one or more groups of clusters, each with its own mode (automated next to manual)
    clusters: tuple[ClusterSelection, ...] = ()
    smoke: Smoke | None = None
    canary: Canary | None = None
    lock: LockSettings = field(default_factory=LockSettings)

    @property
    def cluster_groups(self) -> tuple[ClusterSelection, ...]:
        return tuple(g for g in self.clusters if g.mode != "off")

    @property
    def cluster_modes(self) -> str:
        return ", ".join(g.mode for g in self.cluster_groups) or "off"

    @property
    def storage_kind(self) -> str:
        return storage_class(self.artifacts).kind


@dataclass(frozen=True)
class DeployConfig:
    package: str | None
    targets: Mapping[str, Target]
    #: named groups of targets that deploy together (``wheelship deploy --target <group>``)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def members(self, name: str | None) -> tuple[str, ...] | None:
        """The targets of group ``name``; None when ``name`` is not a group."""
        return self.groups.get(name) if name is not None else None

    def target(self, name: str | None) -> Target:
        if not self.targets:
            raise ConfigurationError(
                "the configuration has no targets:", f"add a targets: section ({_FIX})"
            )
        if name is None:
            if len(self.targets) == 1:
                return next(iter(self.targets.values()))
            raise ConfigurationError(
                "no target given",
                f"pass --target (or set WHEELSHIP_TARGET) to one of: {', '.join(self.targets)}",
            )
        if name in self.groups:
            raise ConfigurationError(
                f"{name!r} is a group of targets ({', '.join(self.groups[name])})",
                "this command works on one target: pass one of them with --target",
            )
        if name not in self.targets:
            raise ConfigurationError(
                f"unknown target {name!r}",
                f"use one of: {', '.join([*self.targets, *self.groups])}",
            )
        return self.targets[name]


# -- validation helpers ------------------------------------------------------------------------


def _err(path: str, what: str, fix: str = _FIX) -> ConfigurationError:
    return ConfigurationError(f"{path}: {what}", fix)


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
        type(None): "nothing",
    }.get(type(value), type(value).__name__)


def _mapping(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _err(path, f"expected a mapping, got {_type_name(value)}")
    for key in value:
        if not isinstance(key, str):
            raise _err(f"{path}.{key}", "keys must be strings")
    return value


def _known(data: Mapping[str, Any], path: str, allowed: tuple[str, ...]) -> None:
    for key in data:
        if key not in allowed:
            raise _err(f"{path}.{key}", "unknown key", f"use one of: {', '.join(allowed)}")


def _str(value: Any, path: str, *, empty: bool = False) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _err(path, f"expected a string, got {_type_name(value)}")
    text = str(value).strip()
    if not text and not empty:
        raise _err(path, "must not be empty")
    return text


def _int(value: Any, path: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise _err(path, f"expected an integer, got {_type_name(value)}")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())  # ${VAR} expansion always yields strings
    if not isinstance(value, int):
        raise _err(path, f"expected an integer, got {_type_name(value)}")
    if value < minimum:
        raise _err(path, f"must be at least {minimum}, got {value}")
    return value


def _bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"  # ${VAR} expansion always yields strings
    raise _err(path, f"expected true or false, got {_type_name(value)}")


def _choice(value: Any, path: str, choices: tuple[str, ...]) -> str:
    text = _str(value, path)
    if text not in choices:
        raise _err(path, f"expected one of {', '.join(choices)}, got {text!r}")
    return text


def _list(value: Any, path: str) -> list[Any]:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return [value]  # a single id reads naturally as a scalar
    if not isinstance(value, list):
        raise _err(path, f"expected a list, got {_type_name(value)}")
    return value


def _strs(data: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    """``data[key]``: a list of strings (or one string), each checked with its index."""
    items = _list(data.get(key, []), f"{path}.{key}")
    return tuple(_str(v, f"{path}.{key}[{i}]") for i, v in enumerate(items))


def _job_id(value: Any, path: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _err(path, f"expected a job id (a positive integer), got {value!r}")
    return value


def _job_ref(value: Any, path: str) -> int | str:
    """A job named by id (a number) or by name."""
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return _job_id(value, path)
    return _str(value, path)


def _tags(value: Any, path: str) -> dict[str, str]:
    data = _mapping(value, path)
    return {k: _str(v, f"{path}.{k}", empty=True) for k, v in data.items()}


def _artifacts(value: Any, path: str) -> str:
    text = _str(value, path).rstrip("/")
    if text.startswith("/Volumes/"):
        parts = [p for p in text.split("/") if p]
        if len(parts) < 4:
            raise _err(
                path,
                f"{text!r} is not inside a volume",
                "use /Volumes/<catalog>/<schema>/<volume>[/<dir>]",
            )
    elif text.startswith("/Workspace/"):
        if len([p for p in text.split("/") if p]) < 2:
            raise _err(
                path,
                f"{text!r} is the workspace root",
                "use a folder such as /Workspace/Shared/wheels",
            )
    elif text.startswith("dbfs:/"):
        if text == "dbfs:":
            raise _err(
                path, "the DBFS root is not a place for wheels", "use dbfs:/FileStore/wheels"
            )
    else:
        raise _err(
            path,
            f"expected a /Volumes/..., /Workspace/... or dbfs:/... path, got {text!r}",
            "Unity Catalog volumes are recommended: /Volumes/<catalog>/<schema>/<volume>/wheels",
        )
    if any(part in {".", ".."} for part in text.split("/")):
        raise _err(path, f"{text!r} contains '.' or '..'", "use a normalized absolute path")
    return text


def _host(value: Any, path: str) -> str:
    text = _str(value, path).rstrip("/")
    if "://" not in text:
        text = "https://" + text
    if not re.match(r"^https?://[^/\s]+$", text):
        raise _err(path, f"{text!r} is not a workspace URL", "use https://<workspace-host>")
    return text


def _jobs(value: Any, path: str) -> JobSelection:
    data = _mapping(value or {}, path)
    _known(data, path, ("select", "ids", "names", "tags", "exclude", "allow_empty", "managed"))
    select = cast(
        JobSelect, _choice(data.get("select", "referencing"), f"{path}.select", JOB_SELECT)
    )
    ids = tuple(
        _job_id(v, f"{path}.ids[{i}]")
        for i, v in enumerate(_list(data.get("ids", []), f"{path}.ids"))
    )
    names = _strs(data, "names", path)
    tags = _tags(data.get("tags", {}), f"{path}.tags")
    exclude = tuple(
        _job_ref(v, f"{path}.exclude[{i}]")
        for i, v in enumerate(_list(data.get("exclude", []), f"{path}.exclude"))
    )
    managed = cast(
        Literal["skip", "rewrite"],
        _choice(data.get("managed", "skip"), f"{path}.managed", ("skip", "rewrite")),
    )
    sel = JobSelection(
        select=select,
        ids=ids,
        names=names,
        tags=tags,
        exclude=exclude,
        allow_empty=_bool(data.get("allow_empty", False), f"{path}.allow_empty"),
        managed=managed,
    )
    if select == "listed" and not sel.has_filters:
        raise _err(
            f"{path}.select",
            "'listed' needs ids, names or tags to list the jobs",
            "add ids:/names:/tags:, or use select: referencing",
        )
    return sel


def _clusters(value: Any, path: str) -> ClusterSelection:
    data = _mapping(value or {}, path)
    _known(
        data, path, ("mode", "ids", "names", "tags", "exclude", "restart", "wait", "allow_empty")
    )
    raw_mode = data.get("mode", "off")
    if raw_mode is False:
        raw_mode = "off"  # YAML 1.1 reads a bare `off` as false
    mode = cast(ClusterMode | Literal["off"], _choice(raw_mode, f"{path}.mode", CLUSTER_MODES))
    ids = _strs(data, "ids", path)
    names = _strs(data, "names", path)
    tags = _tags(data.get("tags", {}), f"{path}.tags")
    exclude = _strs(data, "exclude", path)
    restart = cast(
        Restart, _choice(data.get("restart", "if-idle"), f"{path}.restart", RESTART_POLICIES)
    )
    wait = _int(data.get("wait", 900), f"{path}.wait")
    allow_empty = _bool(data.get("allow_empty", False), f"{path}.allow_empty")
    sel = ClusterSelection(mode, ids, names, tags, exclude, restart, wait, allow_empty)
    if mode != "off" and not sel.has_filters:
        # Installing on every all-purpose cluster of a workspace is never what a team means.
        raise _err(
            f"{path}.mode",
            f"mode {mode} needs ids, names or tags to select the clusters",
            "add ids:/names:/tags:, or set mode: off",
        )
    return sel


def _cluster_groups(value: Any, path: str) -> tuple[ClusterSelection, ...]:
    """``clusters:`` is one group (a mapping) or a list of groups."""
    if value is None:
        return ()
    if isinstance(value, list):
        if not value:
            return ()
        return tuple(_clusters(v, f"{path}[{i}]") for i, v in enumerate(value))
    return (_clusters(value, path),)


def _smoke(value: Any, path: str) -> Smoke | None:
    if value is None:
        return None
    data = _mapping(value, path)
    _known(data, path, ("job", "timeout"))
    if "job" not in data:
        raise _err(f"{path}.job", "missing", "name the job to run after the deploy (id or name)")
    job = _job_ref(data["job"], f"{path}.job")
    return Smoke(job=job, timeout=_int(data.get("timeout", 1800), f"{path}.timeout", minimum=1))


def _canary(value: Any, path: str) -> Canary | None:
    if value is None:
        return None
    data = _mapping(value, path)
    _known(data, path, ("jobs", "clusters", "smoke", "timeout"))
    jobs = tuple(
        _job_ref(v, f"{path}.jobs[{i}]")
        for i, v in enumerate(_list(data.get("jobs", []), f"{path}.jobs"))
    )
    clusters = _strs(data, "clusters", path)
    if not jobs and not clusters:
        raise _err(
            path,
            "a canary needs jobs or clusters",
            "name the jobs (ids or names) and/or clusters (ids or names) that go first",
        )
    smoke = _job_ref(data["smoke"], f"{path}.smoke") if data.get("smoke") is not None else None
    timeout = _int(data.get("timeout", 1800), f"{path}.timeout", minimum=1)
    return Canary(jobs, clusters, smoke, timeout)


def _lock(value: Any, path: str) -> LockSettings:
    data = _mapping(value or {}, path)
    _known(data, path, ("ttl", "wait"))
    return LockSettings(
        ttl=_int(data.get("ttl", DEFAULT_LOCK_TTL), f"{path}.ttl", minimum=60),
        wait=_int(data.get("wait", DEFAULT_LOCK_WAIT), f"{path}.wait"),
    )


def _target(name: str, value: Any, path: str) -> Target:
    data = _mapping(value, path)
    _known(
        data,
        path,
        (
            "host",
            "profile",
            "artifacts",
            "keep",
            "jobs",
            "clusters",
            "smoke",
            "canary",
            "lock",
            "min_age_days",
            "skip_denied",
        ),
    )
    if "artifacts" not in data:
        raise _err(
            f"{path}.artifacts",
            "missing",
            "set the folder for the wheels, e.g. /Volumes/<catalog>/<schema>/<volume>/wheels",
        )
    host = _host(data["host"], f"{path}.host") if data.get("host") not in (None, "") else None
    profile = _str(data["profile"], f"{path}.profile") if data.get("profile") else None
    target = Target(
        name=name,
        host=host,
        profile=profile,
        artifacts=_artifacts(data["artifacts"], f"{path}.artifacts"),
        keep=_int(data.get("keep", 3), f"{path}.keep"),
        min_age_days=_int(data.get("min_age_days", 7), f"{path}.min_age_days"),
        skip_denied=_bool(data.get("skip_denied", False), f"{path}.skip_denied"),
        jobs=_jobs(data.get("jobs"), f"{path}.jobs"),
        clusters=_cluster_groups(data.get("clusters"), f"{path}.clusters"),
        smoke=_smoke(data.get("smoke"), f"{path}.smoke"),
        canary=_canary(data.get("canary"), f"{path}.canary"),
        lock=_lock(data.get("lock"), f"{path}.lock"),
    )
    longest = longest_wait(target)
    if target.lock.ttl < longest + LOCK_MARGIN:
        # A deploy still waiting when its lock goes stale would let a second one take over.
        raise _err(
            f"{path}.lock.ttl",
            f"{target.lock.ttl} s is less than a deploy of this target may spend waiting "
            f"({longest} s for clusters and smoke runs) plus {LOCK_MARGIN} s",
            f"set lock.ttl to at least {longest + LOCK_MARGIN}, or shorten the clusters' wait "
            "and the smoke timeouts",
        )
    if target.canary is not None and target.canary.smoke is None and target.smoke is None:
        # Without a smoke run nothing decides whether the rest may follow.
        raise _err(
            f"{path}.canary.smoke",
            "missing, and the target has no smoke job either",
            "name the job that proves the canary works (canary.smoke: <job id or name>)",
        )
    return target


def longest_wait(target: Target) -> int:
    """The longest a deploy of the target may spend waiting: for its clusters, its smoke run
    and, with a canary, the canary's clusters and smoke run first."""
    clusters = max((g.wait for g in target.cluster_groups if g.mode == "automated"), default=0)
    total = clusters + (target.smoke.timeout if target.smoke else 0)
    if target.canary is not None:
        total += clusters + target.canary.timeout
    return total


def _groups(value: Any, targets: Mapping[str, Target]) -> dict[str, tuple[str, ...]]:
    """``groups:``: a name -> a list of targets that deploy the same release together."""
    if value is None:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for name, members in _mapping(value, "groups").items():
        path = f"groups.{name}"
        if name in targets:
            raise _err(path, f"{name!r} is also a target", "give the group a name of its own")
        items = tuple(_str(v, f"{path}[{i}]") for i, v in enumerate(_list(members, path)))
        if not items:
            raise _err(path, "an empty group", "list the targets that deploy together")
        for i, item in enumerate(items):
            if item not in targets:
                raise _err(
                    f"{path}[{i}]",
                    f"unknown target {item!r}",
                    f"use one of: {', '.join(targets)}",
                )
        if len(set(items)) != len(items):
            raise _err(path, "a target is listed twice", "list each target once")
        out[name] = items
    return out


def parse(data: Mapping[str, Any]) -> DeployConfig:
    """Validate the deploy part of a loaded ``wheelship.yml`` (package + targets)."""
    package = None
    if data.get("package") not in (None, ""):
        package = _str(data["package"], "package")
        if not _PACKAGE_NAME.match(package):
            raise _err("package", f"{package!r} is not a valid distribution name")
    raw_targets = data.get("targets")
    targets: dict[str, Target] = {}
    if raw_targets is not None:
        for name, value in _mapping(raw_targets, "targets").items():
            if not re.match(r"^[A-Za-z0-9_.-]+$", name):
                raise _err(f"targets.{name}", "target names use letters, digits, '.', '_' and '-'")
            targets[name] = _target(name, value, f"targets.{name}")
    return DeployConfig(
        package=package, targets=targets, groups=_groups(data.get("groups"), targets)
    )


def project_name(project_dir: Path) -> str | None:
    """``[project].name`` from ``pyproject.toml``, the default for ``package:``."""
    pyproject = project_dir / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{pyproject}: {exc}", "fix the TOML syntax") from None
    name = data.get("project", {}).get("name")
    return str(name) if isinstance(name, str) and name else None


def resolve_package(cfg: DeployConfig, project_dir: Path) -> str:
    name = cfg.package or project_name(project_dir)
    if not name:
        raise ConfigurationError(
            "the package to deploy is unknown",
            "set package: in wheelship.yml, or run in a project with [project].name in pyproject.toml",
        )
    return str(canonicalize_name(name))

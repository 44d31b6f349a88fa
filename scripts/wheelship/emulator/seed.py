"""Seed files: a YAML (or dict) description of a workspace to start from.

```yaml
workspace_id: 1234567890123456          # optional
admin_user: admin@example.com           # optional; owner of the admin token (in ``admins``)
volumes: [/Volumes/main/ops/artifacts]  # optional; when given, only these volumes exist
groups: [data-eng, deployers]           # workspace groups besides admins and users (optional:
                                        # groups named below exist anyway)
users:                                  # workspace users, each with its own PAT
  - user_name: alice@example.com
    display_name: Alice                 # optional
    groups: [data-eng]                  # ``admins`` makes a workspace admin
    token: dapi-alice                   # optional; the token's name is the user name
    permission: user                    # default ``user``: access comes from access lists
tokens:                                 # PATs besides the admin token
  - {name: reader, value: dapi-reader, permission: read-only, user: reader@example.com}
  - {name: nobody, value: dapi-nobody, permission: none}
  - {name: alice-2, value: dapi-alice-2, user: alice@example.com}  # a declared user's 2nd PAT
service_principals:                     # OAuth M2M (client credentials)
  - {application_id: 9f0c..., secret: s3cret, display_name: deployer, permission: admin,
     groups: [deployers], token: dapi-sp}                        # token: an optional PAT
oidc_federation:                        # OIDC token exchange (e.g. GitLab id_tokens)
  - issuer: https://gitlab.example.com
    audiences: [my-account-id]
    subject: project_path:group/project:ref_type:branch:ref:main
    service_principal: 9f0c...          # who the exchanged token acts as
    hs256_secret: shared-secret         # or jwks: [RS256 JWKs], or verify_signature: false
clusters:
  - cluster_id: 0101-000000-abcdefgh    # optional
    cluster_name: shared-etl
    state: RUNNING                      # RUNNING | TERMINATED | PENDING
    spark_version: 15.4.x-scala2.12     # the default; with data_security_mode (USER_ISOLATION,
    data_security_mode: USER_ISOLATION  # SINGLE_USER + single_user_name, NONE) it decides which
                                        # library sources install (emulator.libcompat)
    custom_tags: {deploy: wheelship}
    libraries: [{whl: /Volumes/main/ops/artifacts/pkg-1.0.0-py3-none-any.whl}]
    creator_user_name: admin@example.com  # optional; holds CAN_MANAGE
    access_control_list:                # optional: CAN_ATTACH_TO | CAN_RESTART | CAN_MANAGE
      - {group_name: data-eng, permission_level: CAN_RESTART}
jobs:
  - job_id: 101                         # optional
    settings: {name: etl, tasks: [...]} # full JobSettings
    creator_user_name: alice@example.com  # optional (admin_user); IS_OWNER unless the list
    access_control_list:                # names another: CAN_VIEW | CAN_MANAGE_RUN |
      - {user_name: bob@example.com, permission_level: CAN_VIEW}   # CAN_MANAGE | IS_OWNER
      - {service_principal_name: 9f0c..., permission_level: CAN_MANAGE}
grants:                                 # Unity Catalog privileges on volumes; declaring any
  - {on: catalog main, to: data-eng, privileges: [USE CATALOG]}   # turns the checks on
  - {on: schema main.ops, to: data-eng, privileges: [USE SCHEMA]}
  - {on: volume main.ops.artifacts, to: 9f0c..., privileges: [READ VOLUME, WRITE VOLUME]}
artifact_allowlist: [/Volumes/main/ops/jars/, com.acme:lib]  # JARs / Maven on standard access
files:                                  # Volumes, /Workspace/... or dbfs:/...
  - {path: /Volumes/main/ops/artifacts/pkg-1.0.0-py3-none-any.whl, source: dist/pkg.whl}
  - {path: /Workspace/Shared/readme.txt, content: hello}
  - {path: dbfs:/FileStore/blob.bin, content_base64: AAEC}
directories: [/Workspace/Shared/libs]
durations: {cluster_start: 30}          # simulated seconds, see Durations
```
``source`` paths are relative to the seed file. Errors name the key path.

Permissions (:mod:`wheelship.emulator.auth`, :mod:`wheelship.emulator.acl`): ``permission`` is
the workspace-wide standing — ``admin`` (the default for ``tokens`` and ``service_principals``,
so a seed without identities behaves as one admin workspace), ``user`` (the default for
``users``: per-object access lists decide), ``read-only`` (reads everything, changes nothing),
``none``. Access lists and grants name identities declared here (users, the users of
``tokens``, service principals by application id, groups). ``grants`` (:mod:`wheelship.emulator.uc`)
inherit downwards (a catalog grant covers its schemas and volumes); ``admin_user`` owns every
securable; without ``grants`` volumes are open to every caller, as before.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wheelship import config
from wheelship.emulator import acl, lifecycle, uc
from wheelship.emulator.acl import ObjectType
from wheelship.emulator.auth import (
    ADMINS,
    PERMISSIONS,
    FederationPolicy,
    Principal,
    ServicePrincipal,
)
from wheelship.emulator.filetree import normalize
from wheelship.emulator.libspec import file_ref
from wheelship.emulator.state import Cluster, Durations, LibraryEntry, Workspace
from wheelship.emulator.wire import ApiError
from wheelship.errors import ConfigurationError

TOP_KEYS = {
    "workspace_id",
    "admin_user",
    "volumes",
    "groups",
    "users",
    "grants",
    "artifact_allowlist",
    "tokens",
    "service_principals",
    "oidc_federation",
    "clusters",
    "jobs",
    "files",
    "directories",
    "durations",
}
LIB_STATUSES = {"PENDING", "INSTALLING", "INSTALLED", "FAILED", "UNINSTALL_ON_RESTART", "SKIPPED"}


class SeedError(ConfigurationError):
    pass


#: A seed describes a whole workspace: far bigger than a wheelship.yml, still bounded.
SEED_MAX_BYTES = 256 * 1024 * 1024
SEED_MAX_NODES = 20_000_000


def _fail(where: str, what: str) -> SeedError:
    return SeedError(f"seed {where}: {what}", "fix the seed file (see docs/emulator.md#seed-file)")


def load_seed(seed: Mapping[str, Any] | str | Path | None) -> tuple[dict[str, Any], Path]:
    """The seed as a dict and the directory ``source`` paths are relative to."""
    if seed is None:
        return {}, Path.cwd()
    if isinstance(seed, Mapping):
        return dict(seed), Path.cwd()
    path = Path(seed)
    if not path.is_file():
        raise SeedError(f"seed file {path} not found", "pass an existing YAML file (--seed-file)")
    # bounded like wheelship.yml (size, alias expansion, duplicate keys), with caps for a
    # workspace of thousands of jobs; libyaml's parser when it is built
    text = config.read_text(path, what="seed file", flag="--seed-file", max_bytes=SEED_MAX_BYTES)
    try:
        data = config.parse_yaml(text, str(path), max_nodes=SEED_MAX_NODES)
    except ConfigurationError as exc:
        raise SeedError(f"seed file {path} is not valid YAML: {exc.what}", exc.fix) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _fail(str(path), "the top level must be a mapping")
    return data, path.parent


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, f"expected a mapping, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(where, f"expected a list, got {type(value).__name__}")
    return value


def _str(item: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = item.get(key)
    if value is None:
        if required:
            raise _fail(f"{where}.{key}", "is required")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _fail(f"{where}.{key}", f"expected a string, got {type(value).__name__}")
    return str(value)


def _permission(item: Mapping[str, Any], where: str, default: str = "admin") -> str:
    value = item.get("permission", default)
    if value not in PERMISSIONS:
        raise _fail(
            f"{where}.permission", f"expected one of {', '.join(PERMISSIONS)}, got {value!r}"
        )
    return str(value)


def apply_seed(ws: Workspace, data: Mapping[str, Any], base: Path) -> None:
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise _fail(unknown[0], f"unknown key; use one of {', '.join(sorted(TOP_KEYS))}")
    if "workspace_id" in data:
        try:
            ws.workspace_id = int(data["workspace_id"])
        except (TypeError, ValueError):
            raise _fail("workspace_id", "expected an integer") from None
    if "admin_user" in data:
        ws.admin_user = _str(data, "admin_user", "") or ws.admin_user
        ws.workspace.mkdirs(f"/Users/{ws.admin_user}", ws.now_ms())
    ws.auth.users.setdefault(ws.admin_user, Principal(ws.admin_user, "admin"))
    if "durations" in data:
        durations = _mapping(data["durations"], "durations")
        for key, value in durations.items():
            if not hasattr(Durations, key):
                raise _fail(f"durations.{key}", "unknown duration")
            if not isinstance(value, int | float) or value < 0:
                raise _fail(f"durations.{key}", "expected a non-negative number of seconds")
            setattr(ws.durations, key, float(value))
    _volumes(ws, data)
    _auth(ws, data)
    _uc_grants(ws, data)
    allow = _list(data.get("artifact_allowlist"), "artifact_allowlist")
    if not all(isinstance(a, str) and a for a in allow):
        raise _fail("artifact_allowlist", "expected a list of JAR paths or Maven coordinates")
    ws.artifact_allowlist = frozenset(str(a) for a in allow)
    for i, path in enumerate(_list(data.get("directories"), "directories")):
        _directory(ws, path, f"directories[{i}]")
    for i, item in enumerate(_list(data.get("files"), "files")):
        _file(ws, _mapping(item, f"files[{i}]"), f"files[{i}]", base)
    for i, item in enumerate(_list(data.get("clusters"), "clusters")):
        _cluster(ws, _mapping(item, f"clusters[{i}]"), f"clusters[{i}]")
    for i, item in enumerate(_list(data.get("jobs"), "jobs")):
        _job(ws, _mapping(item, f"jobs[{i}]"), f"jobs[{i}]")
    ws.changed()


def _volumes(ws: Workspace, data: Mapping[str, Any]) -> None:
    if "volumes" not in data:
        return
    ws.declared_volumes = set()
    for i, raw in enumerate(_list(data["volumes"], "volumes")):
        where = f"volumes[{i}]"
        if not isinstance(raw, str):
            raise _fail(where, "expected a /Volumes/<catalog>/<schema>/<volume> path")
        path = raw if raw.startswith("/") else "/Volumes/" + raw.replace(".", "/")
        try:
            path = normalize(path)
        except ValueError as exc:
            raise _fail(where, str(exc)) from None
        if ws.volume_root(path) != path:
            raise _fail(where, f"{raw!r} is not /Volumes/<catalog>/<schema>/<volume>")
        ws.declared_volumes.add(path)
        ws.volumes.mkdirs(path, ws.now_ms())


def _groups(item: Mapping[str, Any], where: str) -> list[str]:
    groups = _list(item.get("groups"), f"{where}.groups")
    if not all(isinstance(g, str) and g for g in groups):
        raise _fail(f"{where}.groups", "expected a list of group names")
    return [str(g) for g in groups]


def _auth(ws: Workspace, data: Mapping[str, Any]) -> None:
    auth = ws.auth
    auth.groups.update(_groups(data, ""))
    for i, item in enumerate(_list(data.get("users"), "users")):
        where = f"users[{i}]"
        item = _mapping(item, where)
        name = _str(item, "user_name", where) or ""
        if name in auth.users and name != ws.admin_user:
            raise _fail(f"{where}.user_name", f"duplicate user {name!r}")
        groups = _groups(item, where)
        auth.groups.update(groups)
        permission = _permission(item, where, "admin" if ADMINS in groups else "user")
        display = _str(item, "display_name", where, required=False) or ""
        principal = Principal(name, permission, "user", display, tuple(groups))
        auth.users[name] = principal
        token = _str(item, "token", where, required=False)
        if token:
            auth.add_token(name, token, principal)
    for i, item in enumerate(_list(data.get("tokens"), "tokens")):
        where = f"tokens[{i}]"
        item = _mapping(item, where)
        name = _str(item, "name", where) or ""
        value = _str(item, "value", where) or ""
        user = _str(item, "user", where, required=False) or f"{name}@example.com"
        declared = auth.users.get(user)
        if declared is not None and "permission" not in item:
            principal = declared
        else:
            principal = Principal(
                user,
                _permission(item, where),
                "user",
                declared.display_name if declared else "",
                declared.groups if declared else (),
            )
            auth.users.setdefault(user, principal)
        auth.add_token(name, value, principal)
    for i, item in enumerate(_list(data.get("service_principals"), "service_principals")):
        where = f"service_principals[{i}]"
        item = _mapping(item, where)
        app_id = _str(item, "application_id", where) or ""
        secrets = [str(s) for s in _list(item.get("secrets"), f"{where}.secrets")]
        if item.get("secret") is not None:
            secrets.append(str(item["secret"]))
        if len(secrets) > 5:
            raise _fail(f"{where}.secrets", "a service principal holds at most 5 OAuth secrets")
        groups = _groups(item, where)
        auth.groups.update(groups)
        record = ServicePrincipal(
            application_id=app_id,
            display_name=_str(item, "display_name", where, required=False) or app_id,
            permission=_permission(item, where),
            secrets=secrets,
            groups=groups,
        )
        auth.service_principals[app_id] = record
        token = _str(item, "token", where, required=False)
        if token:
            auth.add_token(app_id, token, record.principal)
    policies = data.get("oidc_federation")
    if isinstance(policies, dict):
        policies = [policies]
    for i, item in enumerate(_list(policies, "oidc_federation")):
        where = f"oidc_federation[{i}]"
        item = _mapping(item, where)
        audiences = item.get("audiences", item.get("audience"))
        if isinstance(audiences, str):
            audiences = [audiences]
        if not isinstance(audiences, list) or not audiences:
            raise _fail(f"{where}.audiences", "is required (a list of accepted aud values)")
        sp = _str(item, "service_principal", where, required=False)
        if sp is not None and sp not in ws.auth.service_principals:
            raise _fail(f"{where}.service_principal", f"no service principal {sp!r} in the seed")
        policy = FederationPolicy(
            issuer=_str(item, "issuer", where) or "",
            audiences=[str(a) for a in audiences],
            subject=_str(item, "subject", where) or "",
            subject_claim=_str(item, "subject_claim", where, required=False) or "sub",
            service_principal=sp,
            hs256_secret=_str(item, "hs256_secret", where, required=False),
            jwks=[_mapping(k, f"{where}.jwks") for k in _list(item.get("jwks"), f"{where}.jwks")],
            verify_signature=bool(item.get("verify_signature", True)),
        )
        if policy.verify_signature and not policy.hs256_secret and not policy.jwks:
            raise _fail(where, "give hs256_secret or jwks, or set verify_signature: false")
        ws.auth.policies.append(policy)


def _uc_grants(ws: Workspace, data: Mapping[str, Any]) -> None:
    if "grants" not in data:
        return
    ws.grants = {}
    for i, item in enumerate(_list(data["grants"], "grants")):
        where = f"grants[{i}]"
        # YAML 1.1 (PyYAML) reads a bare `on:` key as the boolean true.
        raw: dict[Any, Any] = _mapping(item, where)
        item = {("on" if k is True else k): v for k, v in raw.items()}
        on = (_str(item, "on", where) or "").split()
        if len(on) != 2:
            raise _fail(f"{where}.on", "expected '<catalog|schema|volume> <full name>'")
        to = _str(item, "to", where) or ""
        privileges = _list(item.get("privileges"), f"{where}.privileges")
        try:
            key = uc.securable_key(on[0], on[1])
            uc.apply_changes(ws.grants, key, ws.auth, [{"principal": to, "add": privileges}])
        except ApiError as exc:
            raise _fail(where, exc.message) from None


def _directory(ws: Workspace, raw: Any, where: str) -> None:
    if not isinstance(raw, str):
        raise _fail(where, "expected a path")
    try:
        tree, path = ws.lookup(raw)
        tree.mkdirs(path, ws.now_ms())
    except (ValueError, NotADirectoryError) as exc:
        raise _fail(where, f"cannot create directory {raw}: {exc}") from None


def _file(ws: Workspace, item: dict[str, Any], where: str, base: Path) -> None:
    path = _str(item, "path", where) or ""
    sources = [k for k in ("content", "content_base64", "source") if k in item]
    if len(sources) != 1:
        raise _fail(where, "give exactly one of content, content_base64, source")
    try:
        if "content" in item:
            blob_id, size = ws.blobs.put_bytes(str(item["content"]).encode("utf-8"))
        elif "content_base64" in item:
            try:
                data = base64.b64decode(str(item["content_base64"]), validate=True)
            except (binascii.Error, ValueError):
                raise _fail(f"{where}.content_base64", "is not valid base64") from None
            blob_id, size = ws.blobs.put_bytes(data)
        else:
            source = Path(str(item["source"]))
            if not source.is_absolute():
                source = base / source
            if not source.is_file():
                raise _fail(f"{where}.source", f"file {source} not found")
            blob_id, size = ws.blobs.put_file(source)
        ws.put_blob(path, blob_id, size, overwrite=True)
    except (ValueError, OSError, ApiError) as exc:
        if isinstance(exc, SeedError):
            raise
        raise _fail(where, f"cannot store {path}: {exc}") from None
    ref = file_ref(path)
    if ref is not None and ref.store == "workspace" and item.get("object_type") == "NOTEBOOK":
        node = ws.workspace.get(ref.path)
        if node is not None:
            node.object_type = "NOTEBOOK"
            node.language = str(item.get("language", "PYTHON")).upper()


def _cluster(ws: Workspace, item: dict[str, Any], where: str) -> None:
    spec = {
        k: v
        for k, v in item.items()
        if k
        not in {
            "cluster_id",
            "state",
            "libraries",
            "cluster_source",
            "creator_user_name",
            "pinned",
            "access_control_list",
        }
    }
    spec.setdefault("spark_version", "15.4.x-scala2.12")
    spec.setdefault("node_type_id", "i3.xlarge")
    spec.setdefault("num_workers", 1)
    tags = spec.get("custom_tags", {})
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise _fail(f"{where}.custom_tags", "expected a mapping of strings")
    state = item.get("state", "RUNNING")
    if state not in {"RUNNING", "TERMINATED", "PENDING"}:
        raise _fail(f"{where}.state", f"expected RUNNING, TERMINATED or PENDING, got {state!r}")
    t = ws.now()
    cluster_id = _str(item, "cluster_id", where, required=False) or lifecycle.new_cluster_id(t)
    if cluster_id in ws.clusters:
        raise _fail(f"{where}.cluster_id", f"duplicate cluster id {cluster_id}")
    creator = _str(item, "creator_user_name", where, required=False) or ws.admin_user
    grants = _grants(ws, item, "cluster", where)
    grants.setdefault(_identity_key(ws, creator), "CAN_MANAGE")
    cluster = Cluster(
        cluster_id=cluster_id,
        spec=spec,
        creator_user_name=creator,
        cluster_source=_str(item, "cluster_source", where, required=False) or "UI",
        pinned=bool(item.get("pinned", False)),
        acl=grants,
    )
    ws.clusters[cluster_id] = cluster
    if state == "PENDING":
        lifecycle.start_cluster(ws, cluster, t)
    else:
        cluster.state = state
        cluster.start_time = int(t * 1000) - 3_600_000
        if state == "TERMINATED":
            cluster.terminated_time = int(t * 1000) - 60_000
            cluster.termination_reason = {"code": "INACTIVITY", "type": "SUCCESS", "parameters": {}}
    from wheelship.emulator.services.libraries import validate_library

    for i, lib in enumerate(_list(item.get("libraries"), f"{where}.libraries")):
        lib_where = f"{where}.libraries[{i}]"
        lib = dict(_mapping(lib, lib_where))
        status = lib.pop("status", None)
        messages = lib.pop("messages", [])
        try:
            validate_library(lib, lib_where)
        except ApiError as exc:
            raise _fail(lib_where, exc.message) from None
        if status is None:
            status = "INSTALLED" if state == "RUNNING" else "PENDING"
        if status not in LIB_STATUSES:
            raise _fail(f"{lib_where}.status", f"expected one of {', '.join(sorted(LIB_STATUSES))}")
        entry = LibraryEntry(spec=lib, status=status, messages=[str(m) for m in messages])
        entry.loaded = state == "RUNNING" and status in {"INSTALLED", "UNINSTALL_ON_RESTART"}
        if state == "RUNNING" and status in {"PENDING", "INSTALLING"}:
            entry.due = t + (
                ws.durations.library_resolve
                if status == "PENDING"
                else ws.durations.library_install
            )
        cluster.libraries.append(entry)


def _identity_key(ws: Workspace, name: str) -> str:
    """How an access list names a seed's creator: a service principal by application id, else
    a user (registered, so access lists may name it too)."""
    if name in ws.auth.service_principals:
        return f"service_principal:{name}"
    ws.auth.users.setdefault(name, Principal(name, "user"))
    return f"user:{name}"


def _grants(
    ws: Workspace, item: Mapping[str, Any], object_type: ObjectType, where: str
) -> dict[str, str]:
    try:
        return acl.parse_entries(
            item.get("access_control_list"), object_type, ws.auth, f"{where}.access_control_list"
        )
    except ApiError as exc:
        raise _fail(f"{where}.access_control_list", exc.message) from None


def _job(ws: Workspace, item: dict[str, Any], where: str) -> None:
    from wheelship.emulator.services.jobs import new_job, validate_settings, with_defaults

    raw = item.get("settings")
    if raw is None:
        raw = {
            k: v
            for k, v in item.items()
            if k not in {"job_id", "creator_user_name", "access_control_list"}
        }
    try:
        # a seeded job was created with 2.2 (or in the UI): queueing on unless it says otherwise
        settings = with_defaults(validate_settings(raw, f"{where}.settings"), queue=True)
    except ApiError as exc:
        raise _fail(f"{where}.settings", exc.message) from None
    job_id_text = _str(item, "job_id", where, required=False)
    try:
        job_id = int(job_id_text) if job_id_text is not None else ws.next_job_id
    except ValueError:
        raise _fail(f"{where}.job_id", "expected an integer") from None
    if job_id in ws.jobs:
        raise _fail(f"{where}.job_id", f"duplicate job id {job_id}")
    ws.next_job_id = max(ws.next_job_id, job_id + 1)
    user = _str(item, "creator_user_name", where, required=False) or ws.admin_user
    key = _identity_key(ws, user)
    creator = ws.auth.principal_of(*key.split(":", 1))
    grants = item.get("access_control_list")
    _grants(ws, item, "job", where)  # the seed's errors name the key path
    new_job(ws, job_id, settings, ws.now_ms() - 86_400_000, creator, grants)

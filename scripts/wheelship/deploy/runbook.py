"""The admin runbook: the manual path for clusters the pipeline may not change.

For each cluster in manual mode it says what to install, what to uninstall and whether a
restart is needed, three ways: the UI steps, the exact Libraries API payloads, and the
cluster-policy ``libraries`` alternative. Standard-access-mode clusters get the Unity Catalog
permission they need to read the wheel. Credentials appear only as ``$DATABRICKS_TOKEN``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from wheelship.databricks.storage import storage_class
from wheelship.deploy.plan import ClusterChange, Plan
from wheelship.deploy.references import library_ref

#: data_security_mode values of standard (formerly shared) access mode.
STANDARD_MODES = frozenset({"USER_ISOLATION", "DATA_SECURITY_MODE_STANDARD", "STANDARD"})
_STOPPED = frozenset({"TERMINATED", "TERMINATING"})


def _version(lib: Mapping[str, Any], package: str) -> str:
    found = library_ref(lib, package)
    return found.version if found and found.version else json.dumps(dict(lib))


def volume_name(path: str) -> str | None:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 4 and parts[0] == "Volumes":
        return ".".join(parts[1:4])
    return None


def _restart_required(c: ClusterChange) -> bool:
    """A stopped cluster loads the change at its next start; a running one needs a restart."""
    return c.needs_restart and c.state not in _STOPPED


def _calls(c: ClusterChange) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    if c.uninstall:
        calls.append(
            {
                "method": "POST",
                "path": "/api/2.0/libraries/uninstall",
                "body": {"cluster_id": c.cluster_id, "libraries": [dict(x) for x in c.uninstall]},
            }
        )
    if c.install:
        calls.append(
            {
                "method": "POST",
                "path": "/api/2.0/libraries/install",
                "body": {"cluster_id": c.cluster_id, "libraries": [dict(x) for x in c.install]},
            }
        )
    if _restart_required(c):
        calls.append(
            {
                "method": "POST",
                "path": "/api/2.1/clusters/restart",
                "body": {"cluster_id": c.cluster_id},
            }
        )
    calls.append(
        {
            "method": "GET",
            "path": f"/api/2.0/libraries/cluster-status?cluster_id={c.cluster_id}",
            "body": None,
        }
    )
    return calls


def _ui_steps(plan: Plan, c: ClusterChange) -> list[str]:
    steps = [f"Open Compute → **{c.name}** ({c.cluster_id}) → **Libraries**."]
    for lib in c.uninstall:
        steps.append(
            f"Select `{lib.get('whl') or (lib.get('pypi') or {}).get('package')}` "
            f"({plan.package} {_version(lib, plan.package)}) → **Uninstall** → confirm."
        )
    if c.install:
        source = storage_class(plan.artifact).ui_source
        steps.append(
            f"**Install new** → Library source **{source}** → path `{plan.artifact}` → **Install**."
        )
    if c.needs_restart:
        if c.state in _STOPPED:
            steps.append(
                "The cluster is terminated: the change applies when it next starts (no restart needed)."
            )
        else:
            steps.append(
                "**Restart** the cluster (top right, ⋮ → Restart) once running notebooks and jobs "
                "allow it: the old version stays loaded until then."
            )
    steps.append(
        f"Check the Libraries tab: `{plan.artifact}` is **Installed** and no other "
        f"{plan.package} version is listed."
    )
    return steps


def _cluster_entry(plan: Plan, c: ClusterChange) -> dict[str, Any]:
    return {
        "cluster_id": c.cluster_id,
        "name": c.name,
        "state": c.state,
        "access_mode": c.access_mode,
        "current_versions": list(c.versions_before),
        "install": [dict(x) for x in c.install],
        "uninstall": [dict(x) for x in c.uninstall],
        "restart_required": _restart_required(c),
        "standard_access_mode": (c.access_mode or "") in STANDARD_MODES,
        "ui_steps": _ui_steps(plan, c),
        "api_calls": _calls(c),
    }


def runbook_json(plan: Plan) -> dict[str, Any]:
    clusters = [_cluster_entry(plan, c) for c in plan.manual_clusters]
    volume = volume_name(plan.artifact)
    standard = [c["cluster_id"] for c in clusters if c["standard_access_mode"]]
    return {
        "package": plan.package,
        "version": plan.version,
        "target": plan.target,
        "host": plan.host,
        "artifact": plan.artifact,
        "sha256": plan.sha256,
        "size": plan.size,
        "clusters": clusters,
        "policy_alternative": {
            "libraries": [{"whl": plan.artifact}],
            "read": "GET /api/2.0/policies/clusters/get?policy_id=<policy-id>",
            "write": "POST /api/2.0/policies/clusters/edit",
            "body": {
                "policy_id": "<policy-id>",
                "name": "<the policy's name, unchanged>",
                "definition": "<the policy's definition, unchanged>",
                "libraries": [{"whl": plan.artifact}],
            },
        },
        "standard_access_mode": {
            "clusters": standard,
            "volume": volume,
            "grant_sql": f"GRANT READ VOLUME ON VOLUME {volume} TO `<group using the clusters>`"
            if volume
            else None,
            "grant_api": (
                {
                    "method": "PATCH",
                    "path": f"/api/2.1/unity-catalog/permissions/volume/{volume}",
                    "body": {
                        "changes": [
                            {"principal": "<group using the clusters>", "add": ["READ_VOLUME"]}
                        ]
                    },
                }
                if volume
                else None
            ),
            "allowlist": {
                "method": "PUT",
                "path": "/api/2.1/unity-catalog/artifact-allowlists/LIBRARY_JAR",
                "note": "only for JARs; Python wheels are not subject to the artifact allowlist",
            },
        },
    }


def _curl(call: Mapping[str, Any]) -> str:
    url = f'"$DATABRICKS_HOST{call["path"]}"'
    if call["method"] == "GET":
        return f'curl -sS -H "Authorization: Bearer $DATABRICKS_TOKEN" {url}'
    body = json.dumps(call["body"], indent=2)
    return (
        f'curl -sS -X {call["method"]} -H "Authorization: Bearer $DATABRICKS_TOKEN" \\\n'
        f"  -H 'Content-Type: application/json' {url} \\\n  -d '{body}'"
    )


def runbook_markdown(plan: Plan) -> str:
    data = runbook_json(plan)
    lines = [
        f"# Runbook: {plan.package} {plan.version} on the manually managed clusters of {plan.target}",
        "",
        "The deploy pipeline may not change these clusters. A cluster admin applies the change below;",
        "`wheelship status --target " + plan.target + "` confirms it afterwards.",
        "",
        "## The artifact",
        "",
        f"- path: `{plan.artifact}`",
        f"- sha256: `{plan.sha256 or 'unknown'}`"
        + (f" ({plan.size:,} bytes)" if plan.size is not None else ""),
        f"- workspace: {plan.host}",
        "",
    ]
    if not data["clusters"]:
        lines += [
            "No manually managed cluster needs a change: all of them already run this version.",
            "",
        ]
        return "\n".join(lines)
    lines += ["## What each cluster needs", ""]
    lines.append("| Cluster | State | Access mode | Now | Install | Uninstall | Restart |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for c in data["clusters"]:
        lines.append(
            f"| {c['cluster_id']} ({c['name']}) | {c['state']} | {c['access_mode'] or '—'} | "
            f"{', '.join(c['current_versions']) or '—'} | "
            f"{', '.join(_version(x, plan.package) for x in c['install']) or '—'} | "
            f"{', '.join(_version(x, plan.package) for x in c['uninstall']) or '—'} | "
            f"{'yes' if c['restart_required'] else 'no'} |"
        )
    lines.append("")
    for c in data["clusters"]:
        lines += [f"## {c['name']} ({c['cluster_id']})", "", "### In the UI", ""]
        lines += [f"{i}. {s}" for i, s in enumerate(c["ui_steps"], 1)]
        lines += ["", "### With the Libraries API", ""]
        lines.append("Uninstall first: a second version next to a loaded one fails to install.")
        lines.append("")
        for call in c["api_calls"]:
            lines += ["```sh", _curl(call), "```", ""]
    pol = data["policy_alternative"]
    lines += [
        "## Alternative: the cluster policy's libraries",
        "",
        "If the clusters use a cluster policy, the admin can pin the wheel in the policy instead;",
        "every cluster using the policy installs it at its next (re)start. `edit` replaces the whole",
        "policy, so read it first and send its name and definition back unchanged:",
        "",
        "```sh",
        'curl -sS -H "Authorization: Bearer $DATABRICKS_TOKEN" "$DATABRICKS_HOST/api/2.0/policies/clusters/get?policy_id=<policy-id>"',
        "```",
        "",
        "```json",
        json.dumps(pol["body"], indent=2),
        "```",
        "",
        "Remove the old version's entry from the policy's `libraries` at the same time.",
        "",
    ]
    std = data["standard_access_mode"]
    if std["clusters"] or std["volume"]:
        lines += ["## Standard (shared) access mode", ""]
        who = (
            ", ".join(std["clusters"])
            if std["clusters"]
            else "none of the clusters above right now"
        )
        lines.append(f"Clusters in standard access mode: {who}.")
        lines.append("")
        if std["volume"]:
            lines += [
                "Users of a standard-access-mode cluster install the wheel with their own identity, so",
                f"they need `READ VOLUME` on `{std['volume']}`:",
                "",
                "```sql",
                std["grant_sql"],
                "```",
                "",
                "or with the API:",
                "",
                "```json",
                json.dumps(std["grant_api"], indent=2),
                "```",
                "",
                "The Unity Catalog artifact allowlist (`/api/2.1/unity-catalog/artifact-allowlists/…`)",
                "covers init scripts, JARs and Maven coordinates only: a Python wheel on a volume needs",
                "no allowlist entry.",
                "",
            ]
        else:
            lines += [
                "Workspace files need `CAN READ` for the cluster's users; DBFS libraries are disabled",
                "on Databricks Runtime 15.1 and later.",
                "",
            ]
    return "\n".join(lines)

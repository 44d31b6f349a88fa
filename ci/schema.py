"""The JSON Schema of ``wheelship.yml`` and the configuration reference generated from it.

    python ci/schema.py write [--check]   regenerate (or check) scripts/wheelship/wheelship.schema.json
                                          and docs/configuration.md

The command sections (``build:``, ``deploy:``, ...) come from the commands' option tables (a key
per option, typed by the option's value type), so a flag and its configuration key cannot drift
apart; ``package:`` and ``targets:`` are described here. The package ships the JSON file (every
command validates the file with it, see ``wheelship.schema``); editors use it for completion
(``# yaml-language-server: $schema=...``). Tests fail when either generated file is stale.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "scripts" / "wheelship" / "wheelship.schema.json"
DOCS_PATH = ROOT / "docs" / "configuration.md"

sys.path.insert(0, str(ROOT / "scripts"))

from wheelship.options import NATURAL, POSITIVE, URL_MESSAGE, Option  # noqa: E402

#: Commands that read a section of the file, in pipeline order.
SECTIONS = (
    "version",
    "build",
    "test",
    "compat",
    "tag",
    "publish",
    "config",
    "plan",
    "doctor",
    "deploy",
    "status",
    "rollback",
    "runbook",
)


def command_options(command: str) -> list[Option]:
    module = importlib.import_module(f"wheelship.commands.{command}")
    if hasattr(module, "OPTIONS"):
        options: list[Option] = list(module.OPTIONS)
    else:  # the deploy-target commands: the shared options plus the command's own
        from wheelship.commands import _targets

        options = [*_targets.COMMON, *module.EXTRA]
    return [o for o in options if o.in_file]


def section_schema(command: str) -> dict[str, Any]:
    from wheelship.cli import COMMANDS

    return {
        "type": "object",
        "description": f"Defaults for the flags of 'wheelship {command}': {COMMANDS[command]}",
        "additionalProperties": False,
        "properties": {o.key: o.schema() for o in command_options(command)},
    }


def _strings(description: str) -> dict[str, Any]:
    item = {"type": ["string", "integer"]}
    return {"description": description, "anyOf": [item, {"type": "array", "items": item}]}


def _integer(description: str, minimum: int, default: int) -> dict[str, Any]:
    base = NATURAL if minimum == 0 else POSITIVE
    out = {"description": description, **base.schema, "default": default}
    if minimum > 1:
        out["minimum"] = minimum
    return out


_TAGS = {
    "type": "object",
    "description": "Tags that must all match (key: value).",
    "additionalProperties": {"type": ["string", "integer"]},
}
_JOB_ID = {"type": ["integer", "string"], "pattern": "^0*[1-9][0-9]*$", "minimum": 1}
_JOB_REF = {"type": ["integer", "string"], "description": "A job id or an exact job name."}


def targets_schema() -> dict[str, Any]:
    jobs = {
        "type": "object",
        "description": "Which jobs deploy repoints.",
        "additionalProperties": False,
        "properties": {
            "select": {
                "type": "string",
                "enum": ["referencing", "listed"],
                "default": "referencing",
                "description": "referencing: every job that references the package, narrowed "
                "by the filters; listed: exactly the jobs the filters name.",
            },
            "ids": {
                "description": "Job ids.",
                "anyOf": [
                    _JOB_ID,
                    {"type": "array", "items": _JOB_ID},
                ],
            },
            "names": _strings("Job name globs (case-sensitive)."),
            "tags": _TAGS,
            "exclude": {
                "description": "Job ids or name globs that are never touched.",
                "anyOf": [_JOB_REF, {"type": "array", "items": _JOB_REF}],
            },
            "allow_empty": {
                "type": "boolean",
                "default": False,
                "description": "Deploy even when the selection matches no job (else refused).",
            },
            "managed": {
                "type": "string",
                "enum": ["skip", "rewrite"],
                "default": "skip",
                "description": "Jobs deployed by a bundle or defined in git: skip them (a warning; "
                "named by id: refused) or rewrite them anyway (the next bundle deploy reverts it).",
            },
        },
    }
    cluster_group = {
        "type": "object",
        "description": "A group of all-purpose clusters and how they get the wheel.",
        "additionalProperties": False,
        "properties": {
            "mode": {
                "type": ["string", "boolean"],
                "enum": ["automated", "manual", "off", False],
                "default": "off",
                "description": "automated: deploy installs the wheel; manual: the runbook "
                "tells an admin; off: clusters are left alone (a bare off reads as false).",
            },
            "ids": _strings("Cluster ids."),
            "names": _strings("Cluster name globs."),
            "tags": _TAGS,
            "exclude": _strings("Cluster ids or name globs that are never touched."),
            "restart": {
                "type": "string",
                "enum": ["never", "if-idle", "always"],
                "default": "if-idle",
                "description": "When a cluster is restarted to load the new wheel.",
            },
            "wait": _integer("Seconds to wait for the new version to be INSTALLED.", 0, 900),
            "allow_empty": {
                "type": "boolean",
                "default": False,
                "description": "Deploy even when the group matches no cluster (else refused).",
            },
        },
    }
    target = {
        "type": "object",
        "description": "A Databricks workspace and what to update there.",
        "additionalProperties": False,
        "required": ["artifacts"],
        "properties": {
            "host": {
                "type": "string",
                "description": "The workspace URL (default: DATABRICKS_HOST or the profile's "
                "host).",
                "pattern": r"^(?!http://)(https://)?[^/\s@:]+(:[0-9]+)?/?$|^http://(localhost|"
                r"127\.[0-9]+\.[0-9]+\.[0-9]+|\[::1\])(:[0-9]+)?/?$",
                "x-message": URL_MESSAGE,
            },
            "profile": {
                "type": "string",
                "description": "A profile of ~/.databrickscfg for the credentials.",
            },
            "artifacts": {
                "type": "string",
                "description": "The folder for the wheels: /Volumes/<catalog>/<schema>/<volume>"
                "/..., /Workspace/... or dbfs:/... (legacy).",
                "pattern": "^(/Volumes/|/Workspace/|dbfs:/)",
                "x-message": "expected a /Volumes/..., /Workspace/... or dbfs:/... path",
            },
            "keep": _integer("Earlier versions kept for rollback and runs in flight.", 0, 3),
            "min_age_days": _integer(
                "Retention deletes a wheel only when it is at least this many days old (the "
                "version before the deployed one is always kept).",
                0,
                7,
            ),
            "skip_denied": {
                "type": "boolean",
                "default": False,
                "description": "Skip the selected jobs and clusters the deploy identity may not "
                "change (reported as drift) instead of refusing the deploy.",
            },
            "lock": {
                "type": "object",
                "description": "The target's workspace lock (a file in the artifacts folder).",
                "additionalProperties": False,
                "properties": {
                    "ttl": _integer(
                        "Seconds after which a lock is stale and taken over; at least the "
                        "longest the target's deploy may wait (clusters' wait, smoke and "
                        "canary timeouts) plus 600.",
                        60,
                        7200,
                    ),
                    "wait": _integer(
                        "Seconds a deploy waits for another one's lock before giving up.", 0, 600
                    ),
                },
            },
            "jobs": jobs,
            "clusters": {
                "description": "One group of clusters, or a list of groups with their own mode.",
                "anyOf": [
                    {"$ref": "#/$defs/clusterGroup"},
                    {"type": "array", "items": {"$ref": "#/$defs/clusterGroup"}},
                    {"type": "null"},
                ],
            },
            "canary": {
                "type": "object",
                "description": "Jobs and clusters that get the release first; the rest follows "
                "only when the canary smoke run succeeds (a failed canary is rolled back).",
                "additionalProperties": False,
                "properties": {
                    "jobs": {
                        "description": "Canary jobs: ids or exact names.",
                        "anyOf": [_JOB_REF, {"type": "array", "items": _JOB_REF}],
                    },
                    "clusters": _strings("Canary clusters: ids or names."),
                    "smoke": {
                        **_JOB_REF,
                        "description": "The job that proves the canary works (default: the "
                        "target's smoke job).",
                    },
                    "timeout": _integer("Seconds the canary smoke run may take.", 1, 1800),
                },
            },
            "smoke": {
                "type": "object",
                "description": "A job to run after the deploy; it must succeed.",
                "additionalProperties": False,
                "required": ["job"],
                "properties": {
                    "job": _JOB_REF,
                    "timeout": _integer("Seconds the smoke run may take.", 1, 1800),
                },
            },
        },
    }
    return {
        "$defs": {"clusterGroup": cluster_group, "target": target},
        "targets": {
            "type": "object",
            "description": "The deploy targets, by name.",
            "propertyNames": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_.-]+$",
                "x-message": "target names use letters, digits, '.', '_' and '-'",
            },
            "additionalProperties": {"$ref": "#/$defs/target"},
        },
    }


def schema() -> dict[str, Any]:
    t = targets_schema()
    properties: dict[str, Any] = {
        "package": {
            "type": "string",
            "description": "The distribution to deploy (default: [project].name of "
            "pyproject.toml).",
            "pattern": "^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$",
            "x-message": "not a valid distribution name",
        },
        "targets": t["targets"],
        "groups": {
            "type": "object",
            "description": "Named groups of targets that plan, deploy, roll back and report "
            "together (--target <group>).",
            "propertyNames": {"type": "string"},
            "additionalProperties": {
                "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
            },
        },
    }
    for command in SECTIONS:
        properties[command] = section_schema(command)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "wheelship.yml",
        "description": "The wheelship configuration: deploy targets and defaults for the "
        "commands' flags. Flags and WHEELSHIP_* variables win over the file; ${VAR} expands "
        "from the environment.",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "$defs": t["$defs"],
    }


# -- the configuration reference ---------------------------------------------------------------


def _type(spec: Mapping[str, Any]) -> str:
    if "$ref" in spec:
        return spec["$ref"].rsplit("/", 1)[1]
    if "anyOf" in spec:
        return " or ".join(_type(s) for s in spec["anyOf"])
    if "enum" in spec:
        return " \\| ".join(f"`{v}`" for v in spec["enum"] if v is not False)
    t = spec.get("type", "any")
    names = {"object": "mapping", "array": "list", "integer": "integer", "null": "nothing"}
    if isinstance(t, list):
        if "pattern" not in spec:  # a string pattern of digits: an integer written as text
            return " or ".join(names.get(x, x) for x in t)
        t = next((x for x in t if x != "string"), t[0])
    text = names.get(t, t)
    if t == "array" and "items" in spec:
        text = f"list of {_type(spec['items'])}"
    if "minimum" in spec:
        text += f" ≥ {spec['minimum']}"
    return text


def _rows(props: Mapping[str, Any], prefix: str) -> Iterator[str]:
    for key, spec in props.items():
        default = spec.get("default")
        shown = "" if default is None else f"`{json.dumps(default)}`"
        description = str(spec.get("description", "")).replace("|", "\\|")
        yield f"| `{prefix}{key}` | {_type(spec)} | {shown} | {description} |"


def _table(props: Mapping[str, Any], prefix: str = "") -> list[str]:
    return ["| key | type | default | description |", "|---|---|---|---|", *_rows(props, prefix)]


def docs() -> str:
    s = schema()
    defs = s["$defs"]
    target = defs["target"]["properties"]
    lines = [
        "# wheelship.yml reference",
        "",
        "<!-- generated by ci/schema.py from the option tables; edit those, then run "
        "`python ci/schema.py write` -->",
        "",
        "The file lives in the project directory (`--project`; another file with `--config`).",
        "Every command validates the whole file against the JSON Schema shipped in the package",
        "(`wheelship/wheelship.schema.json`) before it reads a value: an unknown key anywhere is",
        "refused with its path and the nearest valid key, so is a duplicate key, a wrong type or",
        "a value out of range; `wheelship config --check` runs the same validation. Flags and",
        "`WHEELSHIP_*` variables win over the file. `${VAR}` expands from the environment (`$$`",
        "is a literal `$`); an integer may be written as a string of digits (what `${VAR}`",
        "yields). Plain `http://` URLs are accepted only for loopback hosts. The file may be at",
        "most 1 MiB, and YAML aliases may expand it to at most 100,000 values.",
        "",
        "For completion and checks in an editor with the YAML language server, save the schema",
        "next to the file and name it in the file's first line:",
        "",
        "```sh",
        "wheelship config --schema > .wheelship.schema.json",
        "```",
        "",
        "```yaml",
        "# yaml-language-server: $schema=.wheelship.schema.json",
        "```",
        "",
        "(or point `$schema=` at `scripts/wheelship/wheelship.schema.json` of the wheelship release",
        "you pin, on your GitLab instance).",
        "",
        "## Top level",
        "",
        *_table(
            {k: v for k, v in s["properties"].items() if k in ("package", "targets", "groups")}
        ),
        "",
        "## targets.&lt;name&gt;",
        "",
        *_table(target, "targets.<name>."),
        "",
        "### jobs",
        "",
        *_table(target["jobs"]["properties"], "jobs."),
        "",
        "### clusters (one group, or a list of groups)",
        "",
        *_table(defs["clusterGroup"]["properties"], "clusters."),
        "",
        "### smoke",
        "",
        *_table(target["smoke"]["properties"], "smoke."),
        "",
        "### canary",
        "",
        *_table(target["canary"]["properties"], "canary."),
        "",
        "### lock",
        "",
        *_table(target["lock"]["properties"], "lock."),
        "",
        "## Command sections",
        "",
        "Each section holds defaults for its command's flags: the key is the flag without `--`.",
        "The `version:` section's `tag-pattern` and `offline` apply to every command that reads",
        "tags unless its own section sets them.",
    ]
    for command in SECTIONS:
        section = s["properties"][command]
        lines += ["", f"### {command}", "", *_table(section["properties"], f"{command}.")]
    return "\n".join(lines) + "\n"


def rendered() -> dict[Path, str]:
    return {
        SCHEMA_PATH: json.dumps(schema(), indent=2, ensure_ascii=False) + "\n",
        DOCS_PATH: docs(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("write",))
    parser.add_argument("--check", action="store_true", help="fail when a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in rendered().items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if args.check:
            stale.append(path.relative_to(ROOT))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"error: stale: {', '.join(map(str, stale))} — run python ci/schema.py write")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Tools for the GitLab CI/CD components in ``templates/``.

    python ci/templates.py lint               validate every template against GitLab's CI schema
    python ci/templates.py stamp X.Y.Z        pin the wheelship release every template installs
    python ci/templates.py check-pin TAG      fail unless the templates pin the release of TAG

Each template is a component file: a ``spec:`` header document, ``---``, then the jobs. The
inputs reference ``docs/components.md`` is generated from the headers (``python ci/docs.py``;
a test fails when the two drift apart).

The pin: a component cannot portably learn its own version (``$[[ component.version ]]`` exists
only from GitLab 18.6, only for ``include: component:`` of a catalog release, and fails under
``include: project:``), so each template's ``wheelship`` input defaults to an exact release,
stamped before the release tag is created; ``check-pin`` guards the tag pipeline.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
#: The inputs reference, generated from the headers (``python ci/docs.py`` writes it too).
COMPONENTS_DOC = ROOT / "docs" / "components.md"

#: Inputs every job template starts with, in this order.
COMMON_INPUTS = (
    "as",
    "stage",
    "rules",
    "needs",
    "image",
    "python-version",
    "project-dir",
    "config",
    "wheelship",
    "install-args",
    "release-tag-pattern",
)
#: Composite templates: they only include job templates.
COMPOSITES = ("full-pipeline", "workflow")
#: Job templates in pipeline order (the inputs reference lists them so).
PIPELINE_ORDER = (
    "build",
    "test",
    "compat",
    "plan",
    "tag",
    "publish",
    "deploy",
    "status",
    "rollback",
    "runbook",
)

_INPUT_REF = re.compile(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]")
_WHOLE_REF = re.compile(r"^\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]$")
_PIN = re.compile(r'(?m)^(    wheelship:\n      default: ")wheelship==([^"]+)(")')
_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:rc\d+)?$")


@dataclass(frozen=True)
class Template:
    name: str
    path: Path
    header: dict[str, Any]
    body: dict[str, Any]
    text: str

    @property
    def inputs(self) -> dict[str, dict[str, Any]]:
        spec = self.header.get("spec") or {}
        return dict(spec.get("inputs") or {})

    @property
    def description(self) -> str:
        return str((self.header.get("spec") or {}).get("description", ""))

    @property
    def is_composite(self) -> bool:
        return self.name in COMPOSITES

    def references(self) -> set[str]:
        """Input names used as ``$[[ inputs.NAME ]]`` in the jobs document."""
        body_text = self.text.split("\n---\n", 1)[1]
        return set(_INPUT_REF.findall(body_text))


def load(path: Path) -> Template:
    text = path.read_text(encoding="utf-8")
    docs = list(yaml.safe_load_all(text))
    if len(docs) != 2 or not isinstance(docs[0], dict) or not isinstance(docs[1], dict):
        raise ValueError(f"{path}: expected two YAML documents (the spec: header, ---, the jobs)")
    return Template(path.stem, path, docs[0], docs[1], text)


def templates() -> list[Template]:
    return [load(p) for p in sorted(TEMPLATES.glob("*.yml"))]


def job_templates() -> list[Template]:
    return [t for t in templates() if not t.is_composite]


# ------------------------------------------------------------------------------ rendering


def default_inputs(t: Template) -> dict[str, Any]:
    return {name: spec.get("default") for name, spec in t.inputs.items()}


def interpolate(value: Any, inputs: Mapping[str, Any]) -> Any:
    """Substitute ``$[[ inputs.x ]]`` the way GitLab does: a value that is only a reference
    takes the input's typed value; inside a longer string the value is spliced in as text."""
    if isinstance(value, str):
        whole = _WHOLE_REF.match(value.strip())
        if whole:
            return inputs[whole.group(1)]
        return _INPUT_REF.sub(lambda m: _as_text(inputs[m.group(1)]), value)
    if isinstance(value, list):
        return [interpolate(v, inputs) for v in value]
    if isinstance(value, dict):
        return {interpolate(k, inputs): interpolate(v, inputs) for k, v in value.items()}
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def rendered(t: Template, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    inputs = {**default_inputs(t), **(overrides or {})}
    out: dict[str, Any] = interpolate(t.body, inputs)
    return out


# ------------------------------------------------------------------------------ schema


@cache
def gitlab_schema() -> dict[str, Any]:
    """GitLab's CI schema as vendored by check-jsonschema (a test dependency)."""
    base = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "gitlab-ci.json"
    data: dict[str, Any] = json.loads(base.read_text(encoding="utf-8"))
    return data


def schema_errors(document: Mapping[str, Any]) -> list[str]:
    import jsonschema  # test dependency, imported only where validation runs

    validator = jsonschema.Draft7Validator(gitlab_schema())
    errors = sorted(validator.iter_errors(dict(document)), key=lambda e: list(e.absolute_path))
    return [f"$.{'.'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in errors]


def lint(t: Template) -> list[str]:
    """Schema errors of the header alone and of the jobs rendered with the default inputs."""
    problems = [f"{t.path.name} header {e}" for e in schema_errors(t.header)]
    body = rendered(t)
    if t.is_composite:
        # Includes are resolved by GitLab; validate their shape, not the included jobs.
        body = {k: v for k, v in body.items() if k in ("include", "workflow")}
    problems += [f"{t.path.name} jobs {e}" for e in schema_errors(body)]
    return problems


# ------------------------------------------------------------------------------ inputs reference


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default_cell(spec: Mapping[str, Any]) -> str:
    if "default" not in spec:
        return "*(required)*"
    value = spec["default"]
    if value == "":
        return '`""`'
    text = json.dumps(value) if isinstance(value, list | dict) else _as_text(value)
    return "`" + _cell(text) + "`"


def inputs_table(t: Template) -> str:
    if not t.inputs:
        return "No inputs."
    rows = ["| Input | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for name, spec in t.inputs.items():
        desc = str(spec.get("description", ""))
        if spec.get("options"):
            desc += " One of: " + ", ".join(f"`{o}`" for o in spec["options"]) + "."
        kind = str(spec.get("type", "string"))
        rows.append(f"| `{name}` | {kind} | {_default_cell(spec)} | {_cell(desc)} |")
    return "\n".join(rows)


def components_markdown() -> str:
    """``docs/components.md``: every template's description and inputs table."""
    lines = [
        "<!-- Generated by `python ci/docs.py` from the `spec:` headers of `templates/*.yml`; "
        "do not edit: run it again. -->",
        "",
        "# Component inputs",
        "",
        "One [CI/CD component](https://docs.gitlab.com/ci/components/) per job, and",
        "`full-pipeline`, which includes them all. How to include them, what runs when and the",
        "variables to set: the [README](../README.md#use-it-in-gitlab-ci). Every job maps its",
        "inputs to `WHEELSHIP_*` variables (see the [CLI reference](cli.md)) and runs one",
        "`wheelship` command.",
    ]
    order = [*COMPOSITES, *PIPELINE_ORDER]
    for t in sorted(templates(), key=lambda t: [*order, t.name].index(t.name)):
        lines += ["", f"## {t.name}", "", f"`templates/{t.path.name}` — {t.description}", ""]
        lines.append(inputs_table(t))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ pin


def pins() -> dict[str, str]:
    """template name -> the wheelship release its ``wheelship`` input defaults to."""
    out = {}
    for t in job_templates():
        match = _PIN.search(t.text)
        out[t.name] = match.group(2) if match else ""
    return out


def stamp(version: str) -> list[Path]:
    version = release_version(version) or version
    if not _VERSION.match(version):
        raise ValueError(f"{version!r} is not a release version (X.Y.Z or X.Y.ZrcN)")
    changed = []
    for t in job_templates():
        new, n = _PIN.subn(lambda m: f"{m.group(1)}wheelship=={version}{m.group(3)}", t.text)
        if n != 1:
            raise ValueError(f"{t.path}: no 'wheelship:' input with a wheelship==X default")
        if new != t.text:
            t.path.write_text(new, encoding="utf-8")
            changed.append(t.path)
    COMPONENTS_DOC.write_text(components_markdown(), encoding="utf-8")
    return changed


def release_version(tag: str) -> str | None:
    """The PEP 440 version of a release tag (``v1.2.3-rc.1`` -> ``1.2.3rc1``), else None."""
    from wheelship.building.version import parse_tag

    release = parse_tag(tag)
    return release.pep440 if release else None


# ------------------------------------------------------------------------------ CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("lint", help="validate the templates against GitLab's CI schema")
    st = sub.add_parser("stamp", help="pin the wheelship release the templates install")
    st.add_argument("version")
    cp = sub.add_parser("check-pin", help="fail unless the templates pin this release tag")
    cp.add_argument("tag")
    args = parser.parse_args(argv)

    if args.cmd == "lint":
        every = templates()
        problems = [p for t in every for p in lint(t)]
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        if not problems:
            print(f"{len(every)} templates valid against GitLab's CI schema")
        return 1 if problems else 0
    if args.cmd == "stamp":
        try:
            changed = stamp(args.version)
        except ValueError as exc:
            print(f"error: {exc} — pass the release version, e.g. 1.2.3", file=sys.stderr)
            return 2
        for path in changed:
            print(f"pinned {args.version} in templates/{path.name}")
        return 0
    # check-pin
    version = release_version(args.tag)
    if version is None:
        print(f"error: {args.tag!r} is not a release tag — tag releases as vX.Y.Z", file=sys.stderr)
        return 2
    wrong = {n: v for n, v in pins().items() if v != version}
    if wrong:
        names = ", ".join(f"{n} ({v or 'no pin'})" for n, v in sorted(wrong.items()))
        print(
            f"error: templates do not pin wheelship=={version}: {names} — run "
            f"'python ci/templates.py stamp {version}', commit, and tag that commit",
            file=sys.stderr,
        )
        return 1
    print(f"every template installs wheelship=={version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

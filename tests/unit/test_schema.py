"""The one schema of wheelship.yml: generated, current, and judged as jsonschema judges it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from wheelship import config, schema
from wheelship.errors import ConfigurationError
from wheelship.options import load

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ci"))

import schema as generator  # noqa: E402

FULL = """\
package: tsff
targets:
  prod:
    host: https://adb-1234.5.azuredatabricks.net
    profile: PROD
    artifacts: /Volumes/ml/tsff/wheels
    keep: 3
    jobs:
      select: referencing
      ids: [123]
      names: ["tsff-*"]
      tags: {team: forecasting}
      exclude: [456, "tsff-legacy-*"]
    clusters:
      - mode: automated
        ids: ["0923-164208-abcd1234"]
        restart: if-idle
        wait: 900
      - mode: manual
        names: ["restricted-*"]
      - mode: off
    smoke:
      job: tsff-smoke
      timeout: 1800
  local:
    host: http://127.0.0.1:8080
    artifacts: dbfs:/FileStore/wheels
    clusters: {mode: manual, tags: {a: b}}
version:
  tag-pattern: '^v(?P<major>\\d+)\\.(?P<minor>\\d+)\\.(?P<patch>\\d+)$'
  offline: true
build: {isolation: fresh, installer: uv, outdir: out, cache-dir: /tmp/c}
test: {extras: "test,docs", junit: "", pytest-args: "-k 'not slow'"}
compat: {packages: [tsff], allow-breaking-minor: false}
tag: {method: git-push, tag-prefix: rel-, token-var: PROJECT_TOKEN, api-url: https://gl/api/v4}
publish: {repository-url: "https://gitlab.example.com/api/v4/projects/7/packages/pypi"}
plan: {mr-note: true, concurrency: "8"}
deploy: {concurrency: 8, dist: build/dist}
status: {fail-on-drift: true, format: json}
"""

#: Documents the schema refuses: (YAML, the key path the error names).
BAD = [
    ("frobnicate: 1\n", "frobnicate"),
    ("versoin: {}\n", "versoin"),
    ("deploy: {concurency: 8}\n", "deploy.concurency"),
    ("deploy: {concurrency: 0}\n", "deploy.concurrency"),
    ("deploy: {concurrency: '0'}\n", "deploy.concurrency"),
    ("deploy: {concurrency: true}\n", "deploy.concurrency"),
    ("plan: {mr-note: yes-please}\n", "plan.mr-note"),
    ("build: {isolation: sometimes}\n", "build.isolation"),
    ("version: {tag-pattern: '('}\n", "version.tag-pattern"),
    ("publish: {repository-url: 'http://pypi.example.com/'}\n", "publish.repository-url"),
    ("publish: {repository-url: 'https://u:p@pypi.example.com/'}\n", "publish.repository-url"),
    ("tag: {token-var: 'glpat-abc def'}\n", "tag.token-var"),
    ("targets: []\n", "targets"),
    ("targets: {prod: {host: https://x}}\n", "targets.prod.artifacts"),
    ("targets: {prod: {artifacts: /tmp/x}}\n", "targets.prod.artifacts"),
    (
        "targets: {prod: {artifacts: /Volumes/a/b/c, host: 'http://0.0.0.0:80'}}\n",
        "targets.prod.host",
    ),
    ("targets: {prod: {artifacts: /Volumes/a/b/c, hots: x}}\n", "targets.prod.hots"),
    ("targets: {prod: {artifacts: /Volumes/a/b/c, keep: -1}}\n", "targets.prod.keep"),
    (
        "targets: {prod: {artifacts: /Volumes/a/b/c, jobs: {select: all}}}\n",
        "targets.prod.jobs.select",
    ),
    (
        "targets: {prod: {artifacts: /Volumes/a/b/c, jobs: {ids: [0]}}}\n",
        "targets.prod.jobs.ids[0]",
    ),
    (
        "targets: {prod: {artifacts: /Volumes/a/b/c, clusters: [{mode: on}]}}\n",
        "targets.prod.clusters[0].mode",
    ),
    (
        "targets: {prod: {artifacts: /Volumes/a/b/c, clusters: {restart: sometimes}}}\n",
        "targets.prod.clusters.restart",
    ),
    (
        "targets: {prod: {artifacts: /Volumes/a/b/c, clusters: [{mode: manual, wat: 1}]}}\n",
        "targets.prod.clusters[0].wat",
    ),
    (
        "targets: {prod: {artifacts: /Volumes/a/b/c, smoke: {timeout: 5}}}\n",
        "targets.prod.smoke.job",
    ),
    ("targets: {'pr od': {artifacts: /Volumes/a/b/c}}\n", "targets.pr od"),
    ("package: 'not a name!'\n", "package"),
]


def test_the_shipped_schema_and_its_reference_are_generated_and_current() -> None:
    for path, text in generator.rendered().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run python ci/schema.py write"
        )


def test_the_validator_implements_every_keyword_the_schema_uses() -> None:
    assert schema.check_keywords(schema.wheelship_schema()) == []


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema.wheelship_schema())


def _jsonschema_accepts(data: Any) -> bool:
    validator = jsonschema.Draft202012Validator(
        schema.wheelship_schema(), format_checker=jsonschema.FormatChecker()
    )
    return validator.is_valid(data)


def test_a_full_configuration_is_valid() -> None:
    data = yaml.safe_load(FULL)
    schema.validate(data)
    assert _jsonschema_accepts(data)


@pytest.mark.parametrize(("text", "path"), BAD, ids=[p for _, p in BAD])
def test_refusals_name_the_key_path_and_agree_with_jsonschema(text: str, path: str) -> None:
    data = yaml.safe_load(text)
    with pytest.raises(ConfigurationError) as err:
        schema.validate(data, "wheelship.yml")
    assert err.value.what.startswith(f"wheelship.yml: {path}: "), err.value.what
    assert err.value.fix
    assert not _jsonschema_accepts(data)


@pytest.mark.parametrize(
    ("text", "near"),
    [
        ("versoin: {}\n", "version"),
        ("deploy: {concurency: 8}\n", "concurrency"),
        ("targets: {p: {artifacts: /Volumes/a/b/c, artifact: x}}\n", "artifacts"),
        ("targets: {p: {artifacts: /Volumes/a/b/c, jobs: {exlude: [1]}}}\n", "exclude"),
        ("targets: {p: {artifacts: /Volumes/a/b/c, clusters: {restrat: never}}}\n", "restart"),
        ("targets: {p: {artifacts: /Volumes/a/b/c, smoke: {job: 1, timout: 9}}}\n", "timeout"),
    ],
)
def test_unknown_keys_at_every_level_say_did_you_mean(text: str, near: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        schema.validate(yaml.safe_load(text))
    assert err.value.what.endswith(": unknown key")
    assert (err.value.fix or "").startswith(f"did you mean {near}?")


@pytest.mark.parametrize("command", generator.SECTIONS)
def test_a_section_the_schema_accepts_is_accepted_by_its_command(
    command: str, tmp_path: Path
) -> None:
    """A file ``config --check`` accepts is never refused for its shape later: every key of a
    command's section, with the value the schema documents as default (or a sample), resolves
    through the command's own options."""
    section = generator.schema()["properties"][command]["properties"]
    samples: dict[str, Any] = {}
    for key, spec in section.items():
        if "default" in spec:
            samples[key] = spec["default"]
        elif spec.get("type") == "boolean":
            samples[key] = True
        elif "enum" in spec:
            samples[key] = spec["enum"][0]
        elif "anyOf" in spec:
            samples[key] = ["x"]
        elif spec.get("format") == "regex":
            samples[key] = "^v(?P<major>\\d+)\\.(?P<minor>\\d+)\\.(?P<patch>\\d+)$"
        elif "pattern" in spec and "https" in spec["pattern"]:
            samples[key] = "https://example.com/x"
        elif "pattern" in spec:
            samples[key] = "SOME_NAME"
        else:
            samples[key] = "x"
    (tmp_path / "wheelship.yml").write_text(yaml.safe_dump({command: samples}))
    config.load(tmp_path / "wheelship.yml")
    options = generator.command_options(command)
    project = next(o for o in _all_options(command) if o.dest == "project")
    ns = argparse.Namespace(project=str(tmp_path))
    resolved = load(ns, [project, *options], command, environ={})
    assert set(resolved.sources.values()) >= {"config"}


def _all_options(command: str) -> list[Any]:
    import importlib

    module = importlib.import_module(f"wheelship.commands.{command}")
    if hasattr(module, "OPTIONS"):
        return list(module.OPTIONS)
    from wheelship.commands import _targets

    return [*_targets.COMMON, *module.EXTRA]


def test_bounded_input_refuses_fast(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    bomb.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigurationError, match="more than 100000 values"):
        config.load(bomb)
    deep = tmp_path / "deep.yml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigurationError):
        config.load(deep)


def test_config_schema_prints_the_shipped_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What an editor is given (``wheelship config --schema > .wheelship.schema.json``) is what
    the commands validate with; it needs no wheelship.yml."""
    import json

    from wheelship.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["config", "--schema"]) == 0
    assert json.loads(capsys.readouterr().out) == schema.wheelship_schema()


@pytest.mark.parametrize(
    "text",
    [
        "publish: {repository-url: 'https://ci:glpat-in-url-1@gitlab.example.com/x'}\n",
        "tag: {token-var: 'glpat-in-url-1'}\n",
        "targets: {p: {artifacts: /Volumes/a/b/c, host: 'https://u:glpat-in-url-1@adb-1.net'}}\n",
    ],
)
def test_a_refused_value_that_may_be_a_secret_is_not_repeated(text: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        schema.validate(yaml.safe_load(text), "wheelship.yml")
    assert "glpat-in-url-1" not in str(err.value)


@pytest.mark.parametrize(
    ("section", "key", "value", "missing"),
    [
        ("version", "tag-pattern", r"^v(?P<major>\d+)$", "minor, patch"),
        ("build", "tag-pattern", r"/^v(?P<major>\d+)\.(?P<minor>\d+)$/", "patch"),
        ("tag", "tag-pattern", r"^v\d+\.\d+\.\d+$", "major, minor, patch"),
        ("compat", "release-branch-pattern", r"^release/(?P<x>.*)$", "major, minor"),
        ("tag", "release-branch-pattern", r"^release/(?P<major>\d+)$", "minor"),
    ],
)
def test_a_pattern_without_its_named_groups_is_refused_by_the_check_as_by_its_command(
    section: str, key: str, value: str, missing: str
) -> None:
    """``config --check`` said "valid" for a tag pattern without its groups, which the commands
    then refused: the check judges what the commands need, the named groups too."""
    data = {section: {key: value}}
    with pytest.raises(ConfigurationError) as err:
        schema.validate(data, "wheelship.yml")
    assert err.value.what == f"wheelship.yml: {section}.{key}: lacks the named groups {missing}"
    assert err.value.fix
    good = {
        "tag-pattern": r"^v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)$",
        "release-branch-pattern": r"^release/(?P<major>\d+)\.(?P<minor>\d+)$",
    }
    schema.validate({section: {key: good[key]}}, "wheelship.yml")


@pytest.mark.parametrize(
    ("section", "expect"),
    [
        ("test: {pytest-args: '\"x'}", "test.pytest-args: '\"x' is not shell-quoted words"),
        ("deploy: {target: staging}", "deploy.target: unknown target 'staging'"),
        ("status: {target: prd}", "status.target: unknown target 'prd'"),
    ],
)
def test_config_check_refuses_what_the_commands_refuse_in_their_sections(
    section: str,
    expect: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each command section goes through its command's own parsing of the values, and a target
    named in a section must be one of the file's targets or groups: ``config --check`` said
    "valid" for these, and the command then refused the file."""
    from wheelship.cli import main

    (tmp_path / "wheelship.yml").write_text(
        f"package: tsff\n{section}\ntargets:\n  prod: {{artifacts: /Volumes/a/b/c}}\n"
        "groups:\n  everywhere: [prod]\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["config", "--check"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error: ") and expect in last, last
    assert " — " in last


def test_config_check_accepts_a_section_naming_a_target_or_a_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wheelship.cli import main

    (tmp_path / "wheelship.yml").write_text(
        "package: tsff\ndeploy: {target: everywhere}\nstatus: {target: prod}\n"
        "test: {pytest-args: \"-k 'not slow'\"}\n"
        "targets:\n  prod: {artifacts: /Volumes/a/b/c}\ngroups:\n  everywhere: [prod]\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["config", "--check"]) == 0

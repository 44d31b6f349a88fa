"""The components in templates/: headers, inputs, thin jobs, GitLab's schema, the inputs
reference (docs/components.md), pin."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ci"))

import templates as tpl  # noqa: E402

ALL = tpl.templates()
JOBS = tpl.job_templates()
IDS = [t.name for t in ALL]
JOB_IDS = [t.name for t in JOBS]

#: template -> the wheelship command its job runs
COMMAND = {
    "build": "build",
    "test": "test",
    "compat": "compat",
    "plan": "plan",
    "doctor": "doctor",
    "tag": "tag",
    "publish": "publish",
    "deploy": "deploy",
    "fleet": "deploy",
    "status": "status",
    "rollback": "rollback",
    "runbook": "runbook",
}
#: variables the templates set for themselves or for tools other than the CLI command; the tag
#: pattern is every job's (its rules read it), and a setting of the commands that read tags
TEMPLATE_VARIABLES = {
    "WHEELSHIP_PYTHON_VERSION",
    "WHEELSHIP_INSTALL",
    "WHEELSHIP_INSTALL_ARGS",
    "WHEELSHIP_TAG_PATTERN",
}
#: the commands that read release tags: they must take the pattern the rules use
READS_TAGS = ("build", "compat", "tag", "publish")


def job_of(t: tpl.Template) -> dict[str, Any]:
    (job,) = t.body.values()
    assert isinstance(job, dict)
    return job


def test_every_job_has_a_template_and_the_full_pipeline_includes_them_all() -> None:
    assert set(JOB_IDS) == set(COMMAND)
    full = tpl.load(tpl.TEMPLATES / "full-pipeline.yml")
    included = {Path(i["local"]).stem for i in full.body["include"]}
    assert included == {*COMMAND, "workflow"}
    assert set(full.body) == {"include"}, "the full pipeline only includes the job templates"


@pytest.mark.parametrize("t", ALL, ids=IDS)
def test_header_is_its_own_document(t: tpl.Template) -> None:
    # GitLab requires `spec:` alone in the first document; one document with spec + jobs
    # passes the JSON schema but is rejected by GitLab.
    assert set(t.header) == {"spec"}
    assert t.text.count("\n---\n") == 1
    assert "spec" not in t.body


@pytest.mark.parametrize("t", ALL, ids=IDS)
def test_inputs_are_typed_described_and_defaulted(t: tpl.Template) -> None:
    assert t.description and len(t.description) <= 256
    for name, spec in t.inputs.items():
        assert re.fullmatch(r"[a-z][a-z0-9-]*", name), name
        assert "default" in spec, f"{name}: every input has a default"
        desc = spec.get("description", "")
        assert desc.endswith(".") and desc[0].isupper(), f"{name}: one sentence description"
        kind = spec.get("type", "string")
        value = spec["default"]
        expected = {"string": str, "boolean": bool, "array": list, "number": (int, float)}[kind]
        assert isinstance(value, expected), f"{name}: default {value!r} is not a {kind}"
        if "options" in spec:
            assert value in spec["options"], f"{name}: default not among options"


@pytest.mark.parametrize("t", JOBS, ids=JOB_IDS)
def test_common_inputs_come_first_and_are_the_same_everywhere(t: tpl.Template) -> None:
    names = list(t.inputs)
    assert tuple(names[: len(tpl.COMMON_INPUTS)]) == tpl.COMMON_INPUTS
    reference = tpl.load(tpl.TEMPLATES / "build.yml").inputs
    for name in tpl.COMMON_INPUTS[4:]:  # as/stage/rules/needs defaults differ per job
        assert t.inputs[name] == reference[name], name
    assert t.inputs["as"]["default"] == f"wheelship-{t.name}"


@pytest.mark.parametrize("t", ALL, ids=IDS)
def test_every_input_is_used_and_every_reference_declared(t: tpl.Template) -> None:
    refs = t.references()
    assert refs <= set(t.inputs), f"undeclared: {refs - set(t.inputs)}"
    assert set(t.inputs) <= refs, f"unused: {set(t.inputs) - refs}"


@pytest.mark.parametrize("t", JOBS, ids=JOB_IDS)
def test_job_is_thin_one_install_line_and_one_cli_call(t: tpl.Template) -> None:
    job = job_of(t)
    assert job["script"] == [f"wheelship {COMMAND[t.name]}"]
    reference = job_of(tpl.load(tpl.TEMPLATES / "build.yml"))
    assert job["before_script"] == reference["before_script"]
    assert job["cache"] == reference["cache"]
    for key in ("stage", "image", "rules", "needs"):
        assert job[key] == f"$[[ inputs.{key} ]]"
    for name, value in job["variables"].items():
        assert name.isupper(), name
        assert "$[[" not in str(value) or re.fullmatch(
            r"[^$]*(\$\[\[ inputs\.[a-z-]+ \]\][^$]*)+", value
        )
    assert "CI_PROJECT_DIR" not in t.text, (
        "gitlab-ci-local fakes CI_PROJECT_DIR; use relative paths"
    )


@pytest.mark.parametrize("name", ["build", "compat", "tag"])
def test_jobs_that_compute_versions_clone_the_whole_history(name: str) -> None:
    assert job_of(tpl.load(tpl.TEMPLATES / f"{name}.yml"))["variables"]["GIT_DEPTH"] == "0"


def test_jobs_that_talk_to_databricks_get_an_id_token_and_deploys_one_resource_group() -> None:
    for name in ("plan", "doctor", "deploy", "status", "rollback", "runbook"):
        job = job_of(tpl.load(tpl.TEMPLATES / f"{name}.yml"))
        assert job["id_tokens"]["WHEELSHIP_ID_TOKEN"]["aud"] == "$[[ inputs.oidc-audience ]]"
        assert job["variables"]["DATABRICKS_OIDC_TOKEN_ENV"] == "WHEELSHIP_ID_TOKEN"
    for name in ("deploy", "rollback"):
        job = job_of(tpl.load(tpl.TEMPLATES / f"{name}.yml"))
        assert job["resource_group"] == "wheelship-$[[ inputs.target ]]"
        assert job["environment"]["deployment_tier"] == "$[[ inputs.environment-tier ]]"


def test_the_fleet_fans_out_one_job_environment_and_resource_group_per_target() -> None:
    job = job_of(tpl.load(tpl.TEMPLATES / "fleet.yml"))
    assert job["parallel"] == {"matrix": [{"WHEELSHIP_TARGET": "$[[ inputs.targets ]]"}]}
    # the matrix sets the target: a job variable of the same name would fight it
    assert "WHEELSHIP_TARGET" not in job["variables"]
    assert job["environment"]["name"] == "$[[ inputs.environment ]]/$WHEELSHIP_TARGET"
    assert job["resource_group"] == "wheelship-$WHEELSHIP_TARGET"
    assert job["id_tokens"]["WHEELSHIP_ID_TOKEN"]["aud"] == "$[[ inputs.oidc-audience ]]"


def test_test_job_reports_junit_and_coverage() -> None:
    job = job_of(tpl.load(tpl.TEMPLATES / "test.yml"))
    reports = job["artifacts"]["reports"]
    assert reports["junit"].endswith("junit.xml")
    assert reports["coverage_report"]["coverage_format"] == "cobertura"
    assert re.search(job["coverage"].strip("/"), "TOTAL     120     6    95%")


@pytest.mark.parametrize("t", ALL, ids=IDS)
def test_valid_against_gitlab_ci_schema(t: tpl.Template) -> None:
    assert tpl.lint(t) == []


def test_schema_check_catches_mistakes() -> None:
    build = tpl.load(tpl.TEMPLATES / "build.yml")
    bad_header = {"spec": {"inputs": {"x": {"type": "integer", "default": 1}}}}
    assert tpl.schema_errors(bad_header)
    body = tpl.rendered(build)
    job = next(iter(body.values()))
    job["scripts"] = job.pop("script")
    assert any("scripts" in e for e in tpl.schema_errors(body))


def test_interpolation_keeps_types_and_splices_text() -> None:
    build = tpl.load(tpl.TEMPLATES / "build.yml")
    job = tpl.rendered(build, {"as": "b", "project-dir": "pkg"})["b"]
    assert job["rules"][1] == {"when": "on_success"}
    assert job["artifacts"]["paths"] == ["pkg/dist/"]


def test_inputs_reference_is_generated_from_the_headers() -> None:
    page = tpl.COMPONENTS_DOC.read_text(encoding="utf-8")
    assert tpl.components_markdown() == page, "run: python ci/docs.py"
    for t in ALL:
        assert f"`templates/{t.path.name}` — {t.description}" in page


def test_inputs_reference_drifts_when_a_header_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    page = tpl.components_markdown()
    build = tpl.load(tpl.TEMPLATES / "build.yml")
    renamed = {("extra" if k == "dist" else k): v for k, v in build.inputs.items()}
    changed = tpl.Template(
        build.name,
        build.path,
        {"spec": {**build.header["spec"], "inputs": renamed}},
        build.body,
        build.text,
    )
    monkeypatch.setattr(
        tpl, "templates", lambda: [changed if t.name == "build" else t for t in ALL]
    )
    assert tpl.components_markdown() != page
    assert "| `extra` | string | `dist` |" in tpl.components_markdown()


def test_every_template_pins_the_same_exact_release() -> None:
    pins = tpl.pins()
    assert set(pins) == set(JOB_IDS)
    (pin,) = set(pins.values())
    assert re.fullmatch(r"\d+\.\d+\.\d+(rc\d+)?", pin)
    full = tpl.load(tpl.TEMPLATES / "full-pipeline.yml")
    assert full.inputs["wheelship"]["default"] == f"wheelship=={pin}"


def test_stamp_rewrites_every_pin_and_check_pin_guards_tags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "templates"
    copy.mkdir()
    for p in tpl.TEMPLATES.glob("*.yml"):
        (copy / p.name).write_text(p.read_text())
    page = tmp_path / "components.md"
    monkeypatch.setattr(tpl, "TEMPLATES", copy)
    monkeypatch.setattr(tpl, "COMPONENTS_DOC", page)

    assert tpl.main(["stamp", "v2.3.4"]) == 0
    assert set(tpl.pins().values()) == {"2.3.4"}
    assert "`wheelship==2.3.4`" in page.read_text()
    assert tpl.main(["check-pin", "v2.3.4"]) == 0
    assert tpl.main(["check-pin", "v2.3.5"]) == 1
    err = capsys.readouterr().err
    assert "run 'python ci/templates.py stamp 2.3.5', commit, and tag that commit" in err
    assert tpl.main(["check-pin", "nightly"]) == 2
    assert tpl.main(["stamp", "2.4.0-rc.1"]) == 0
    assert set(tpl.pins().values()) == {"2.4.0rc1"}


def _command_env_vars(command: str) -> set[str]:
    import importlib

    from wheelship.cli import new_parser

    try:
        module = importlib.import_module(f"wheelship.commands.{command}")
    except ModuleNotFoundError:
        pytest.skip(f"'wheelship {command}' has not landed yet")
    parser: argparse.ArgumentParser = new_parser(command, "")
    module.configure(parser)
    return set(re.findall(r"env:\s+(WHEELSHIP_[A-Z0-9_]+)", parser.format_help()))


@pytest.mark.parametrize("t", JOBS, ids=JOB_IDS)
def test_every_wheelship_variable_is_a_setting_of_the_command(t: tpl.Template) -> None:
    """A misspelt WHEELSHIP_* variable would be silently ignored by the CLI."""
    known = _command_env_vars(COMMAND[t.name]) | TEMPLATE_VARIABLES
    used = {v for v in job_of(t)["variables"] if v.startswith("WHEELSHIP_")}
    assert used - known == set()


@pytest.mark.parametrize("name", READS_TAGS)
def test_commands_that_read_tags_take_the_pattern_the_rules_use(name: str) -> None:
    assert "WHEELSHIP_TAG_PATTERN" in _command_env_vars(COMMAND[name])
    job = job_of(tpl.load(tpl.TEMPLATES / f"{name}.yml"))
    assert job["variables"]["WHEELSHIP_TAG_PATTERN"] == "$[[ inputs.release-tag-pattern ]]"


def test_no_template_spells_a_release_tag_regex_but_the_one_input() -> None:
    """One definition: rules compare with the variable, whose value is the input."""
    from wheelship.building.version import DEFAULT_TAG_PATTERN

    pattern = tpl.load(tpl.TEMPLATES / "build.yml").inputs["release-tag-pattern"]["default"]
    assert pattern == f"/{DEFAULT_TAG_PATTERN}/", "the CLI's default, in GitLab's /regex/ form"
    for t in ALL:
        assert "-rc" not in t.text, t.name
        assert t.text.count(pattern) == (1 if "release-tag-pattern" in t.inputs else 0), t.name
        for rule in re.findall(r"\$CI_COMMIT_TAG =~ (\S+)", t.text):
            assert rule == "$WHEELSHIP_TAG_PATTERN", (t.name, rule)


def test_the_readme_says_which_token_every_environment_of_the_templates_gets() -> None:
    """The variables table has a DATABRICKS_TOKEN row for the scope of every environment a job
    runs in (the deploy job's, deploy-dev's, the fleet's per-target ones): a token scoped to
    another environment never reaches that job, and the job falls back to the read-only one."""
    names = {
        job["environment"]["name"]
        for t in JOBS
        for job in tpl.rendered(t).values()
        if isinstance(job, dict) and isinstance(job.get("environment"), dict)
    }
    full = (tpl.TEMPLATES / "full-pipeline.yml").read_text()
    names |= set(re.findall(r"^\s+environment: (\S+)$", full, re.MULTILINE))
    assert {"production", "development"} <= names
    readme = (ROOT / "README.md").read_text()
    missing = [
        n
        for n in sorted(names)
        if f"`DATABRICKS_TOKEN`, environment scope `{n.replace('$WHEELSHIP_TARGET', '<target>')}`"
        not in readme
    ]
    assert missing == []


# -- the install step (before_script), run with stand-ins for python and uv ----------------------

_FAKE_UV = """#!/bin/bash
echo "uv:$0 $* [${UV_INDEX_URL:-}]" >> "$CALLS"
"""
_FAKE_PYTHON = """#!/bin/bash
# The image's python: pip 'installs' uv (or fails, with PIP_FAILS set); uv.find_uv_bin() names
# the stand-in binary that install would have put in the image.
echo "python:$*" >> "$CALLS"
if [ "$1 $2" = "-m pip" ]; then [ -z "${PIP_FAILS:-}" ]; exit; fi
if [ "$1" = "-c" ]; then echo "$PIP_UV"; exit 0; fi
exit 3
"""


@pytest.fixture
def job(tmp_path: Path) -> dict[str, Any]:
    """A job's checkout, an image whose PATH has python (no uv) and the tools the step uses."""
    import shutil

    image = tmp_path / "image"
    image.mkdir()
    for tool in ("bash", "mkdir", "cp"):
        found = shutil.which(tool)
        assert found, tool
        (image / tool).symlink_to(found)
    (image / "python").write_text(_FAKE_PYTHON)
    pip_uv = tmp_path / "site" / "uv"
    pip_uv.parent.mkdir()
    pip_uv.write_text(_FAKE_UV)
    for exe in (image / "python", pip_uv):
        exe.chmod(0o755)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    env = {
        "PATH": str(image),
        "CALLS": str(tmp_path / "calls"),
        "PIP_UV": str(pip_uv),
        "WHEELSHIP_INSTALL": "wheelship==0.1.0",
        "WHEELSHIP_INSTALL_ARGS": "--no-deps",
    }
    return {"checkout": checkout, "env": env, "image": image, "calls": tmp_path / "calls"}


def _install_step(job: dict[str, Any], **env: str) -> tuple[int, list[str]]:
    import subprocess

    (script,) = job_of(tpl.load(tpl.TEMPLATES / "deploy.yml"))["before_script"]
    job["calls"].write_text("")
    proc = subprocess.run(
        [str(job["image"] / "bash"), "-eo", "pipefail", "-c", script],
        cwd=job["checkout"],
        env={**job["env"], **env},
        capture_output=True,
        text=True,
    )
    return proc.returncode, job["calls"].read_text().splitlines()


def test_install_step_first_job_installs_uv_with_pip_and_keeps_it_in_the_cache(
    job: dict[str, Any],
) -> None:
    code, calls = _install_step(job)
    cached = job["checkout"] / ".cache" / "wheelship" / "bin" / "uv"
    assert code == 0
    assert calls == [
        "python:-m pip install --quiet uv",
        "python:-c import uv; print(uv.find_uv_bin())",
        "uv:.cache/wheelship/bin/uv pip install --python python --quiet --no-deps "
        "wheelship==0.1.0 [https://pypi.org/simple]",
    ]
    assert cached.read_text() == _FAKE_UV and cached.stat().st_mode & 0o111


def test_install_step_next_job_runs_the_cached_uv_without_pip(job: dict[str, Any]) -> None:
    _install_step(job)
    code, calls = _install_step(job, UV_DEFAULT_INDEX="https://mirror.example/simple")
    assert code == 0
    assert calls == [
        "uv:.cache/wheelship/bin/uv --version []",
        "uv:.cache/wheelship/bin/uv pip install --python python --quiet --no-deps "
        "wheelship==0.1.0 [https://mirror.example/simple]",
    ]


def test_install_step_replaces_a_cached_uv_that_does_not_run_here(job: dict[str, Any]) -> None:
    cached = job["checkout"] / ".cache" / "wheelship" / "bin" / "uv"
    cached.parent.mkdir(parents=True)
    cached.write_text("\x7fELF built for another machine")  # exec fails: wrong format
    cached.chmod(0o755)
    code, calls = _install_step(job)
    assert code == 0
    assert calls[0] == "python:-m pip install --quiet uv"
    assert cached.read_text() == _FAKE_UV


def test_install_step_uses_the_images_uv_and_caches_nothing(job: dict[str, Any]) -> None:
    image_uv = job["image"] / "uv"
    image_uv.write_text(_FAKE_UV)
    image_uv.chmod(0o755)
    code, calls = _install_step(job, PIP_INDEX_URL="https://index.example/simple")
    assert code == 0
    assert calls == [
        f"uv:{image_uv} --version []",
        f"uv:{image_uv} pip install --python python --quiet --no-deps wheelship==0.1.0 "
        "[https://index.example/simple]",
    ]
    assert not (job["checkout"] / ".cache").exists()


def test_install_step_fails_when_pip_cannot_install_uv(job: dict[str, Any]) -> None:
    code, calls = _install_step(job, PIP_FAILS="1")
    assert code != 0
    assert calls == ["python:-m pip install --quiet uv"]

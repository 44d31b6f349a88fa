from __future__ import annotations

import argparse
import ast
import importlib
from pathlib import Path

import pytest

from wheelship import cli, options
from wheelship.errors import ConfigurationError
from wheelship.options import add_options, check_one_tag_pattern, load, opt, resolve

OPTIONS = [
    opt("project", help="project directory", default="."),
    opt("dry_run", help="only show", kind="flag", default=False),
    opt("level", help="bump level", choices=("patch", "minor", "major")),
    opt("exclude", help="ids to skip", kind="list"),
    opt("keep", help="how many", type=int, default=3),
]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_options(parser, OPTIONS)
    return parser.parse_args(argv)


def test_flag_beats_env_beats_config_beats_default() -> None:
    env = {"WHEELSHIP_PROJECT": "from-env", "WHEELSHIP_KEEP": "5"}
    r = resolve(
        parse(["--project", "from-flag"]), OPTIONS, {"keep": 9, "level": "minor"}, "tag", env
    )
    assert r["project"] == "from-flag" and r.sources["project"] == "flag"
    assert r["keep"] == 5 and r.sources["keep"] == "env"
    assert r["level"] == "minor" and r.sources["level"] == "config"
    assert r["dry_run"] is False and r.sources["dry_run"] == "default"
    assert r["exclude"] == []


def test_env_lists_and_bools() -> None:
    env = {"WHEELSHIP_EXCLUDE": "1, 2 3", "WHEELSHIP_DRY_RUN": "true"}
    r = resolve(parse([]), OPTIONS, None, "", env)
    assert r["exclude"] == ["1", "2", "3"]
    assert r["dry_run"] is True


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(ConfigurationError) as err:
        resolve(parse([]), OPTIONS, None, "", {"WHEELSHIP_DRY_RUN": "maybe"})
    assert "environment variable WHEELSHIP_DRY_RUN" in str(err.value)
    with pytest.raises(ConfigurationError, match="expected one of patch, minor, major"):
        resolve(parse([]), OPTIONS, None, "", {"WHEELSHIP_LEVEL": "huge"})
    with pytest.raises(ConfigurationError, match=r"WHEELSHIP_KEEP: invalid literal"):
        resolve(parse([]), OPTIONS, None, "", {"WHEELSHIP_KEEP": "many"})


def test_unknown_config_key_is_refused_with_its_path() -> None:
    with pytest.raises(ConfigurationError, match=r"^tag\.bogus: unknown key"):
        resolve(parse([]), OPTIONS, {"bogus": 1}, "tag", {})


def test_an_empty_variable_is_unset_for_every_kind() -> None:
    env = {name: "" for name in ("WHEELSHIP_PROJECT", "WHEELSHIP_DRY_RUN", "WHEELSHIP_EXCLUDE")}
    config = {"project": "from-config", "dry-run": True, "exclude": ["7"]}
    r = resolve(parse([]), OPTIONS, config, "tag", env)
    assert (r["project"], r["dry_run"], r["exclude"]) == ("from-config", True, ["7"])
    assert r.sources["dry_run"] == "config"
    assert resolve(parse([]), OPTIONS, None, "", {"WHEELSHIP_DRY_RUN": "false"})["dry_run"] is False


@pytest.mark.parametrize("command", ["version", "build", "tag", "publish", "compat", "test"])
def test_verbose_log_names_each_setting_once(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The configuration file is found from --project/--config before the command resolves
    all its settings; that first look must not log them a second time."""
    import importlib

    from wheelship.cli import new_parser

    module = importlib.import_module(f"wheelship.commands.{command}")
    parser = new_parser(command, "")
    module.configure(parser)
    args = parser.parse_args(["--project", str(tmp_path)])
    monkeypatch.setenv("WHEELSHIP_VERBOSE", "1")
    resolved = load(args, module.OPTIONS, command)
    assert resolved.data == {}
    lines = capsys.readouterr().err.splitlines()
    assert lines.count(f"debug: setting project = {str(tmp_path)!r} (from flag)") == 1
    assert len(lines) == len(set(lines)) == len(module.OPTIONS)


FILE = r"^fc-v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)$"


def test_the_templates_pattern_and_the_files_must_be_one_pattern() -> None:
    check_one_tag_pattern({"tag-pattern": FILE}, {"WHEELSHIP_TAG_PATTERN": f"/{FILE}/"})
    check_one_tag_pattern({"tag-pattern": FILE}, {})
    check_one_tag_pattern({}, {"WHEELSHIP_TAG_PATTERN": "/^v(?P<major>.)$/"})
    with pytest.raises(ConfigurationError) as caught:
        check_one_tag_pattern({"tag-pattern": FILE}, {"WHEELSHIP_TAG_PATTERN": "/^v.*$/"})
    assert "set the release-tag-pattern input to the pattern between slashes" in caught.value.fix


@pytest.mark.parametrize(
    ("kind", "target", "message"),
    [
        ("out-file", "report.json", "is not writable"),
        ("out-dir", "reports/new", "is not writable"),
    ],
)
def test_an_output_in_an_unwritable_directory_is_refused_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, target: str, message: str
) -> None:
    """The permission check itself (root, who runs this suite in CI containers, may write
    anywhere, so os.access stands in for a read-only directory)."""
    import os

    from wheelship.options import check_path

    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(ConfigurationError, match=message) as err:
        check_path(tmp_path / target, kind, "--out")  # type: ignore[arg-type]
    assert err.value.what.startswith(f"--out {tmp_path / target}: {tmp_path} ")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize(("kind", "target"), [("out-dir", "wheelship-out"), ("out-file", "x.json")])
def test_an_output_where_the_file_system_refuses_is_refused_up_front(
    kind: str, target: str
) -> None:
    """/proc takes no new entries, whoever asks (os.access says yes to root): refused before
    any work, not a traceback after it (``build --outdir /proc/dist`` failed so once built)."""
    from wheelship.options import check_path

    with pytest.raises(ConfigurationError, match="is not writable"):
        check_path(Path("/proc") / target, kind, "--out")  # type: ignore[arg-type]


SHARED = [
    options.PROJECT,
    options.CONFIG,
    options.DIST,
    options.TAG_PATTERN,
    options.RELEASE_BRANCH_PATTERN,
    options.OFFLINE,
    options.TARGET,
    options.OUT,
    options.CONCURRENCY,
]


def test_every_command_takes_the_shared_options_from_the_one_declaration() -> None:
    """``--project`` and the other shared options were declared twice with different help; each
    command that has one of these flags now gets the one declaration in the option layer."""
    shared = {flag: o for o in SHARED for flag in o.flags}
    used: set[str] = set()
    for command in cli.COMMANDS:
        parser = argparse.ArgumentParser()
        importlib.import_module(f"wheelship.commands.{command}").configure(parser)
        for action in parser._actions:
            for flag in action.option_strings:
                if flag in shared:
                    o = shared[flag]
                    assert action.dest == o.dest, (command, flag)
                    assert (action.help or "").startswith(o.help), (command, flag)
                    used.add(flag)
    assert used == set(shared)  # every shared option is used by some command


def test_no_work_module_imports_a_command_module() -> None:
    """Commands call the work layer, never the other way round (compat's gate imported the
    compat command for its options)."""
    package = Path(cli.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if rel.parts[0] == "commands" or rel.name in {"cli.py", "__main__.py"}:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{rel}: {n}" for n in names if n.startswith("wheelship.commands")]
            if isinstance(node, ast.ImportFrom) and node.module == "wheelship":
                offenders += [f"{rel}: commands" for a in node.names if a.name == "commands"]
    assert offenders == []

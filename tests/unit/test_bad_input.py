"""Every bad input gets one clear line, never a traceback, within a time bound, and changes nothing.

A table of bad inputs over every command and every option that takes a path, URL, number, pattern
or file, plus the configuration file in the ways a file goes wrong. Each case runs the CLI in
process against a fresh copy of one world — a git project with a release tag, a build in
``dist/``, a valid ``wheelship.yml`` and an emulator state directory — and asserts:

* the exit code (2: bad input or policy),
* no traceback, and the last line of stderr is ``error: <what> — <fix>`` naming the problem,
* the time bound (bounded input: an alias bomb or a 1 MiB file is refused at once),
* nothing changed: every file of the world (git tags and refs, ``dist/``, the emulator's state)
  has the bytes it had. This tier has no sockets, so no case reached an index or a workspace;
  tests/integration/release/test_publish_bad_input.py checks a real index's file list the same way.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.gitrepo import GitRepo, git
from wheelship import cli, config, log
from wheelship.building.manifest import DistFile, Manifest
from wheelship.emulator import persistence
from wheelship.emulator.blobs import BlobStore
from wheelship.emulator.clock import SimClock
from wheelship.emulator.seed import apply_seed
from wheelship.emulator.state import Workspace

#: Seconds a case may take: refusals come before any work.
TIME_BOUND = 5.0

CONFIG = """\
package: tsff
targets:
  prod:
    host: https://adb-1.azuredatabricks.net
    artifacts: /Volumes/ml/tsff/wheels
    clusters:
      mode: automated
      tags: {tsff: prod}
"""
PYPROJECT = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "tsff"
version = "1.0.0"
"""
WHEEL = "tsff-1.0.0-py3-none-any.whl"
SEED = {"files": [{"path": "/Volumes/ml/tsff/wheels/" + WHEEL, "content": "wheel bytes"}]}

#: Commands that read wheelship.yml, and a key of their section for a wrong-type case.
CONFIG_COMMANDS = {
    "version": "offline",
    "build": "isolation",
    "test": "extras",
    "compat": "allow-breaking",
    "tag": "support-old-lines",
    "publish": "dry-run",
    "config": "concurrency",
    "plan": "mr-note",
    "deploy": "concurrency",
    "status": "fail-on-drift",
    "rollback": "concurrency",
    "runbook": "concurrency",
    "doctor": "concurrency",
}
#: Arguments that make a command reach its configuration (deploy-family: the target).
TARGET_ARGS = ("--target", "prod")
ALL_COMMANDS = [*CONFIG_COMMANDS, "emulator", "demo"]


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    expect: str  # a fragment of the error line
    files: dict[str, str | bytes] = field(default_factory=dict)  # written before the run
    env: dict[str, str] = field(default_factory=dict)
    code: int = 2


def _alias_bomb() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    return "\n".join(lines) + "\n"


def config_cases() -> Iterator[Case]:
    """The configuration file gone wrong, for every command that reads it."""
    big = "# padding\n" * (config.MAX_BYTES // 10 + 1)
    for cmd, key in CONFIG_COMMANDS.items():
        base = (cmd,)
        yield Case(
            f"{cmd}-unknown-top-key",
            base,
            "versoin: unknown key — did you mean version?",
            {"wheelship.yml": CONFIG + "versoin: {}\n"},
        )
        yield Case(
            f"{cmd}-unknown-section-key",
            base,
            f"{cmd}.frobnicate: unknown key",
            {"wheelship.yml": CONFIG + f"{cmd}:\n  frobnicate: 1\n"},
        )
        yield Case(
            f"{cmd}-wrong-type",
            base,
            f"{cmd}.{key}: expected",
            {"wheelship.yml": CONFIG + f"{cmd}:\n  {key}: [1, 2]\n"},
        )
        yield Case(
            f"{cmd}-duplicate-key",
            base,
            "duplicate key 'package'",
            {"wheelship.yml": CONFIG + "package: other\n"},
        )
        yield Case(
            f"{cmd}-alias-bomb",
            base,
            "more than 100000 values once YAML aliases",
            {"wheelship.yml": _alias_bomb()},
        )
        yield Case(
            f"{cmd}-recursive-alias",
            base,
            "an alias refers to itself",
            {"wheelship.yml": "a: &a [*a]\n"},
        )
        yield Case(
            f"{cmd}-binary",
            base,
            "is not UTF-8 text",
            {"wheelship.yml": b"\x7fELF\x02\x01\x01\x00\xff\xfe" * 20},
        )
        yield Case(f"{cmd}-oversized", base, "is larger than 1024 KiB", {"wheelship.yml": big})
        yield Case(
            f"{cmd}-yaml-syntax", base, "fix the YAML syntax", {"wheelship.yml": "targets: [\n"}
        )
        yield Case(
            f"{cmd}-top-level-list",
            base,
            "expected a mapping at the top level",
            {"wheelship.yml": "- a\n- b\n"},
        )
        yield Case(f"{cmd}-named-config-missing", (*base, "--config", "nope.yml"), "not found")
        yield Case(f"{cmd}-config-is-a-directory", (*base, "--config", "adir"), "is a directory")
        yield Case(f"{cmd}-project-is-a-file", (*base, "--project", "afile"), "is not a directory")
        yield Case(f"{cmd}-project-missing", (*base, "--project", "nope"), "does not exist")
        yield Case(f"{cmd}-unknown-flag", (*base, "--frobnicate"), "unrecognized arguments")


def option_cases() -> Iterator[Case]:
    """Each option that takes a path, URL, number, pattern or file, given a bad value."""
    c = Case
    # version / build: tags, patterns, outputs
    yield c("version-dotenv-dir", ("version", "--dotenv", "adir"), "--dotenv adir: is a directory")
    yield c("version-dotenv-no-parent", ("version", "--dotenv", "nope/x.env"), "does not exist")
    yield c(
        "version-dotenv-parent-file", ("version", "--dotenv", "afile/x.env"), "is not a directory"
    )
    yield c(
        "version-tag-pattern-regex",
        ("version", "--tag-pattern", "v(\\d+"),
        "is not a regular expression",
    )
    yield c(
        "version-tag-pattern-env",
        ("version",),
        "WHEELSHIP_TAG_PATTERN",
        env={"WHEELSHIP_TAG_PATTERN": "["},
    )
    yield c(
        "version-tag-pattern-file",
        ("version",),
        "version.tag-pattern: '(' is not a regular",
        {"wheelship.yml": CONFIG + "version:\n  tag-pattern: '('\n"},
    )
    yield c("version-tag-pattern-groups", ("version", "--tag-pattern", "^v\\d+$"), "major")
    yield c(
        "version-offline-env", ("version",), "WHEELSHIP_OFFLINE", env={"WHEELSHIP_OFFLINE": "maybe"}
    )
    yield c("build-outdir-file", ("build", "--outdir", "afile"), "--outdir")
    yield c("build-outdir-under-file", ("build", "--outdir", "afile/dist"), "is not a directory")
    yield c("build-dotenv-dir", ("build", "--dotenv", "adir"), "is a directory")
    yield c("build-dotenv-no-parent", ("build", "--dotenv", "nope/b.env"), "does not exist")
    yield c("build-cache-dir-file", ("build", "--cache-dir", "afile"), "--cache-dir")
    yield c(
        "build-cache-dir-env",
        ("build",),
        "WHEELSHIP_CACHE_DIR afile: is not a directory",
        env={"WHEELSHIP_CACHE_DIR": "afile"},
    )
    yield c(
        "build-outdir-file-config",
        ("build",),
        "build.outdir",
        {"wheelship.yml": CONFIG + "build:\n  outdir: afile\n"},
    )
    yield c("build-isolation", ("build", "--isolation", "maybe"), "invalid choice")
    yield c(
        "build-isolation-file",
        ("build",),
        "build.isolation: expected one of",
        {"wheelship.yml": CONFIG + "build:\n  isolation: sometimes\n"},
    )
    yield c("build-installer", ("build", "--installer", "conda"), "invalid choice")
    # test
    yield c("test-dist-file", ("test", "--dist", "afile"), "--dist")
    yield c("test-dist-empty", ("test", "--dist", "adir"), "no build manifest")
    yield c("test-junit-dir", ("test", "--junit", "adir"), "--junit")
    yield c("test-coverage-dir", ("test", "--coverage", "adir"), "--coverage")
    yield c("test-junit-under-file", ("test", "--junit", "afile/j.xml"), "is not a directory")
    yield c("test-pytest-args-quote", ("test", "--pytest-args", '"x'), "shell-quoted")
    yield c(
        "test-pytest-args-file",
        ("test",),
        "test.pytest-args",
        {"wheelship.yml": CONFIG + 'test:\n  pytest-args: "\'unclosed"\n'},
    )
    yield c(
        "test-manifest-list",
        ("test",),
        "not a valid wheelship manifest",
        {"dist/wheelship-manifest.json": "[1, 2]"},
    )
    # compat
    yield c("compat-json-dir", ("compat", "--json", "adir"), "--json")
    yield c("compat-json-under-file", ("compat", "--json", "afile/r.json"), "is not a directory")
    yield c("compat-codequality-dir", ("compat", "--codequality", "adir"), "--codequality")
    yield c("compat-level", ("compat", "--level", "huge"), "invalid choice")
    yield c("compat-tag-pattern", ("compat", "--tag-pattern", "(?P<major"), "regular expression")
    yield c(
        "compat-branch-pattern", ("compat", "--release-branch-pattern", "(("), "regular expression"
    )
    yield c(
        "compat-level-env",
        ("compat",),
        "WHEELSHIP_COMPAT_LEVEL",
        env={"WHEELSHIP_COMPAT_LEVEL": "huge"},
    )
    # tag
    yield c("tag-bump", ("tag", "--bump", "huge"), "invalid choice")
    yield c("tag-method", ("tag", "--method", "ftp"), "invalid choice")
    yield c("tag-token-kind", ("tag", "--token-kind", "other"), "invalid choice")
    yield c("tag-token-var-name", ("tag", "--token-var", "not a name"), "--token-var: expected")
    yield c(
        "tag-token-var-file",
        ("tag",),
        "tag.token-var",
        {"wheelship.yml": CONFIG + "tag:\n  token-var: 'glpat-abc def'\n"},
    )
    yield c(
        "tag-api-url-http",
        ("tag", "--bump", "patch", "--project-id", "42", "--api-url", "http://gl.example.com/"),
        "plain http",
    )
    yield c(
        "tag-api-url-file",
        ("tag",),
        "tag.api-url",
        {"wheelship.yml": CONFIG + "tag:\n  api-url: http://gitlab.example.com/api/v4\n"},
    )
    yield c(
        "tag-version",
        (
            "tag",
            "--project-id",
            "42",
            "--api-url",
            "https://gl.example.com/api/v4",
            "--version",
            "1.x",
        ),
        "1.x",
    )
    yield c("tag-pattern", ("tag", "--tag-pattern", "*v"), "regular expression")
    yield c(
        "tag-branch-pattern-file",
        ("tag",),
        "tag.release-branch-pattern",
        {"wheelship.yml": CONFIG + "tag:\n  release-branch-pattern: '['\n"},
    )
    # publish
    https = ("--repository-url", "https://pypi.example.com/legacy/")
    yield c("publish-dist-file", ("publish", "--dist", "afile", *https), "--dist")
    yield c("publish-dist-empty", ("publish", "--dist", "adir", *https), "no build manifest")
    yield c(
        "publish-url-http",
        ("publish", "--repository-url", "http://pypi.example.com/"),
        "plain http",
    )
    yield c(
        "publish-url-password",
        ("publish", "--repository-url", "https://u:pw-secret-1@pypi.example.com/"),
        "credentials",
    )
    yield c(
        "publish-url-scheme", ("publish", "--repository-url", "ftp://pypi.example.com/"), "http"
    )
    yield c(
        "publish-simple-url-http",
        ("publish", *https, "--simple-url", "http://pypi.example.com/simple"),
        "plain http",
    )
    yield c(
        "publish-url-env",
        ("publish",),
        "plain http",
        env={"WHEELSHIP_REPOSITORY_URL": "http://pypi.example.com/"},
    )
    yield c(
        "publish-url-file",
        ("publish",),
        "publish.repository-url",
        {"wheelship.yml": CONFIG + "publish:\n  repository-url: http://10.0.0.1/\n"},
    )
    yield c("publish-local-versions", ("publish", "--local-versions", "maybe"), "invalid choice")
    yield c("publish-password-var", ("publish", *https, "--password-var", "a b"), "--password-var")
    yield c("publish-username-var", ("publish", *https, "--username-var", "1X"), "--username-var")
    yield c("publish-tag-pattern", ("publish", *https, "--tag-pattern", "v(?P<"), "regular")
    yield c(
        "publish-manifest-list",
        ("publish", *https),
        "not a valid wheelship manifest",
        {"dist/wheelship-manifest.json": "[]"},
    )
    yield c(
        "publish-manifest-file-kind",
        ("publish", *https),
        "file kind 'egg' is neither wheel nor sdist",
        {
            "dist/wheelship-manifest.json": '{"schema": 1, "name": "tsff", "version": "1.0.0", '
            '"files": [{"name": "tsff-1.0.0.egg", "kind": "egg", "size": 1, "sha256": "0"}]}'
        },
    )
    yield c(
        "publish-manifest-json",
        ("publish", *https),
        "not a valid wheelship manifest",
        {"dist/wheelship-manifest.json": "{nope"},
    )
    yield c(
        "publish-manifest-binary",
        ("publish", *https),
        "not a valid wheelship manifest",
        {"dist/wheelship-manifest.json": b"\xff\xfe\x00"},
    )
    # the deploy family: numbers, outputs, the target, the targets: schema
    for cmd in ("config", "plan", "deploy", "status", "rollback", "runbook", "doctor"):
        yield c(f"{cmd}-concurrency-0", (cmd, "--concurrency", "0"), "at least 1")
        yield c(f"{cmd}-concurrency-text", (cmd, "--concurrency", "many"), "integer")
        yield c(
            f"{cmd}-concurrency-env",
            (cmd,),
            "WHEELSHIP_CONCURRENCY",
            env={"WHEELSHIP_CONCURRENCY": "-3"},
        )
        yield c(
            f"{cmd}-concurrency-file",
            (cmd,),
            f"{cmd}.concurrency: must be at least 1",
            {"wheelship.yml": CONFIG + f"{cmd}:\n  concurrency: 0\n"},
        )
        yield c(f"{cmd}-out-file", (cmd, "--out", "afile"), "--out")
        yield c(f"{cmd}-out-under-file", (cmd, "--out", "afile/reports"), "is not a directory")
        yield c(f"{cmd}-target-unknown", (cmd, "--target", "staging"), "unknown target")
    for cmd in ("plan", "deploy", "runbook", "doctor"):
        yield c(f"{cmd}-dist-file", (cmd, "--dist", "afile"), "--dist")
    yield c("plan-dist-empty", ("plan", "--dist", "adir"), "no build manifest")
    yield c(
        "deploy-manifest-list",
        ("deploy",),
        "not a valid wheelship manifest",
        {"dist/wheelship-manifest.json": '["x"]'},
    )
    yield c("status-json-dir", ("status", "--json", "adir"), "--json")
    yield c("status-json-under-file", ("status", "--json", "afile/s.json"), "is not a directory")
    yield c("status-format", ("status", "--format", "xml"), "invalid choice")
    for cmd in ("status", "runbook"):
        yield c(f"{cmd}-issue-token-var", (cmd, "--issue-token-var", "glpat-x y"), "--issue-token")
    yield c(
        "plan-note-token-var",
        ("plan",),
        "plan.note-token-var",
        {"wheelship.yml": CONFIG + "plan:\n  note-token-var: glpat-123 456\n"},
    )
    target = CONFIG.replace("    clusters:\n      mode: automated\n      tags: {tsff: prod}\n", "")
    bad_targets = {
        "host-http-any": (
            "host: https://adb-1.azuredatabricks.net",
            "host: http://0.0.0.0:8080",
            "plain http",
        ),
        "host-http-remote": (
            "host: https://adb-1.azuredatabricks.net",
            "host: http://adb-1.azuredatabricks.net",
            "plain http",
        ),
        "host-password": (
            "host: https://adb-1.azuredatabricks.net",
            "host: https://u:p@adb-1.azuredatabricks.net",
            "user:password@",
        ),
        "artifacts": (
            "artifacts: /Volumes/ml/tsff/wheels",
            "artifacts: /tmp/wheels",
            "/Volumes/...",
        ),
        "keep": (
            "artifacts: /Volumes/ml/tsff/wheels",
            "artifacts: /Volumes/ml/tsff/wheels\n    keep: -1",
            "keep",
        ),
        "keep-text": (
            "artifacts: /Volumes/ml/tsff/wheels",
            "artifacts: /Volumes/ml/tsff/wheels\n    keep: lots",
            "keep",
        ),
        "jobs-select": (
            "artifacts: /Volumes/ml/tsff/wheels",
            "artifacts: /Volumes/ml/tsff/wheels\n    jobs: {select: some}",
            "jobs.select",
        ),
        "jobs-ids": (
            "artifacts: /Volumes/ml/tsff/wheels",
            "artifacts: /Volumes/ml/tsff/wheels\n    jobs: {ids: [0]}",
            "jobs.ids[0]",
        ),
        "jobs-typo": (
            "artifacts: /Volumes/ml/tsff/wheels",
            "artifacts: /Volumes/ml/tsff/wheels\n    jobs: {name: [x]}",
            "did you mean names?",
        ),
        "clusters-restart": (
            "artifacts: /Volumes/ml/tsff/wheels",
            "artifacts: /Volumes/ml/tsff/wheels\n    clusters: {mode: automated, "
            "ids: [c1], restart: sometimes}",
            "clusters.restart",
        ),
        "clusters-wait": (
            "artifacts: /Volumes/ml/tsff/wheels",
            "artifacts: /Volumes/ml/tsff/wheels\n    clusters: {mode: manual, "
            "ids: [c1], wait: soon}",
            "clusters.wait",
        ),
        "clusters-no-filter": (
            "artifacts: /Volumes/ml/tsff/wheels",
            "artifacts: /Volumes/ml/tsff/wheels\n    clusters: {mode: automated}",
            "needs ids, names or tags",
        ),
        "smoke-no-job": (
            "artifacts: /Volumes/ml/tsff/wheels",
            "artifacts: /Volumes/ml/tsff/wheels\n    smoke: {timeout: 10}",
            "smoke.job: missing",
        ),
        "smoke-timeout": (
            "artifacts: /Volumes/ml/tsff/wheels",
            "artifacts: /Volumes/ml/tsff/wheels\n    smoke: {job: 1, timeout: 0}",
            "smoke.timeout",
        ),
        "target-typo": (
            "artifacts: /Volumes/ml/tsff/wheels",
            "artifacts: /Volumes/ml/tsff/wheels\n    hots: x",
            "did you mean host?",
        ),
        "target-name": ("  prod:", "  'pr od':", "target names use"),
        "package": ("package: tsff", "package: 'not a name!'", "package"),
        "artifacts-missing": (
            "    artifacts: /Volumes/ml/tsff/wheels\n",
            "    keep: 2\n",
            "artifacts: missing",
        ),
    }
    for name, (old, new, expect) in bad_targets.items():
        assert old in target, name
        yield c(
            f"config-targets-{name}",
            ("config", "--check"),
            expect,
            {"wheelship.yml": target.replace(old, new)},
        )
    yield c(
        "plan-targets-host",
        ("plan",),
        "plain http",
        {"wheelship.yml": target.replace("https://adb-1", "http://adb-1")},
    )
    yield c(
        "deploy-targets-keep",
        ("deploy",),
        "keep",
        {"wheelship.yml": target.replace("artifacts:", "keep: -2\n    artifacts:")},
    )
    # emulator: host, port, token, state, seed, numbers, fault and rate specs
    yield c("emulator-port-range", ("emulator", "--port", "70000"), "65535")
    yield c("emulator-port-text", ("emulator", "--port", "http"), "--port")
    yield c(
        "emulator-port-env",
        ("emulator",),
        "WHEELSHIP_EMULATOR_PORT",
        env={"WHEELSHIP_EMULATOR_PORT": "-1"},
    )
    yield c("emulator-host-any", ("emulator", "--host", "0.0.0.0"), "--allow-remote")
    yield c("emulator-host-lan", ("emulator", "--host", "10.1.2.3"), "--allow-remote")
    yield c("emulator-token-argv", ("emulator", "--token", "dapi-argv-secret"), "--token-file")
    yield c(
        "emulator-token-file-missing",
        ("emulator", "--token-file", "nope.txt"),
        "cannot read the token file",
    )
    yield c("emulator-token-file-dir", ("emulator", "--token-file", "adir"), "is a directory")
    yield c(
        "emulator-token-file-empty",
        ("emulator", "--token-file", "empty.txt"),
        "does not hold one token",
        {"empty.txt": "\n"},
    )
    yield c(
        "emulator-token-file-binary",
        ("emulator", "--token-file", "bin.txt"),
        "cannot read the token file",
        {"bin.txt": b"\xff\xfe\xfa"},
    )
    yield c("emulator-state-dir-file", ("emulator", "--state-dir", "afile"), "--state-dir")
    yield c(
        "emulator-state-dir-under-file",
        ("emulator", "--state-dir", "afile/s"),
        "is not a directory",
    )
    yield c("emulator-seed-missing", ("emulator", "--seed-file", "nope.yml"), "not found")
    yield c("emulator-seed-dir", ("emulator", "--seed-file", "adir"), "is a directory")
    yield c(
        "emulator-seed-alias-bomb",
        ("emulator", "--check-invariants", "--seed-file", "bomb.yml"),
        "aliases",
        {"bomb.yml": _alias_bomb().replace("lol", "x" * 10) * 1},
    )
    yield c(
        "emulator-seed-binary",
        ("emulator", "--check-invariants", "--seed-file", "b.yml"),
        "not UTF-8",
        {"b.yml": b"\xff\xfe\x00\x01"},
    )
    yield c(
        "emulator-seed-duplicate",
        ("emulator", "--check-invariants", "--seed-file", "d.yml"),
        "duplicate key",
        {"d.yml": "jobs: []\njobs: []\n"},
    )
    yield c("emulator-clock-speed", ("emulator", "--clock-speed", "-1"), "--clock-speed")
    yield c("emulator-latency", ("emulator", "--latency", "slow"), "--latency")
    yield c("emulator-rate-limit", ("emulator", "--rate-limit", "fast"), "PATTERN=PER_SECOND")
    yield c("emulator-fault", ("emulator", "--fault", "explode"), "fault 'explode'")
    yield c("emulator-fault-seed", ("emulator", "--fault-seed", "x"), "--fault-seed")
    yield c(
        "emulator-state-tampered-blob",
        ("emulator", "--check-invariants", "--state-dir", "state"),
        "invalid blob id",
        code=2,
    )
    yield c(
        "emulator-state-garbage",
        ("emulator", "--check-invariants", "--state-dir", "state"),
        "cannot read the workspace",
        {"state/state.json": "{not json"},
    )
    # demo: the work directory
    yield c("demo-workdir-file", ("demo", "--workdir", "afile"), "--workdir")
    yield c("demo-workdir-not-empty", ("demo", "--workdir", "adir"), "is not empty")
    yield c("demo-workdir-under-file", ("demo", "--workdir", "afile/w"), "is not a directory")
    # the dispatcher
    yield c("unknown-command", ("deploi",), "unknown command")
    yield c("no-command", (), "the following arguments are required")


CASES = [*config_cases(), *option_cases()]


def test_the_table_covers_enough() -> None:
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.argv[0] for c in CASES if c.argv} >= set(ALL_COMMANDS)
    assert set(ALL_COMMANDS) == set(cli.COMMANDS), "a command without bad-input cases"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The world every case starts from (copied per case)."""
    root = tmp_path_factory.mktemp("world")
    repo = GitRepo.init(root / "project")
    (repo.path / "pyproject.toml").write_text(PYPROJECT)
    (repo.path / "wheelship.yml").write_text(CONFIG)
    (repo.path / "tsff").mkdir()
    (repo.path / "tsff" / "__init__.py").write_text("")
    (repo.path / "afile").write_text("a file\n")
    (repo.path / "adir").mkdir()
    (repo.path / "adir" / "keep").write_text("not empty\n")
    repo.commit("initial commit", add_all=True)
    git(repo.path, "tag", "-a", "v1.0.0", "-m", "release 1.0.0")
    (repo.path / ".gitignore").write_text("dist/\nstate/\n")
    repo.commit("ignore outputs", add_all=True)
    dist = repo.path / "dist"
    dist.mkdir()
    (dist / WHEEL).write_bytes(b"PK-not-really")
    Manifest("tsff", "1.0.0", files=(DistFile.of(dist / WHEEL),)).write(dist)
    state = repo.path / "state"
    ws = Workspace(clock=SimClock(speed=0, start=1_000_000.0), blobs=BlobStore(state / "blobs"))
    apply_seed(ws, SEED, Path("."))
    persistence.save(ws, state)
    return root


def snapshot(root: Path) -> dict[str, str]:
    """Every file's bytes (git's index aside: a read-only git command may refresh its stat
    cache), and the tags git reports."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.endswith(".git/index"):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_dir():
            out[rel] = "dir"
    out["tags"] = git(root / "project", "tag", "-l")
    return out


@pytest.fixture
def world(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "w"
    shutil.copytree(template, root, symlinks=True)
    project = root / "project"
    monkeypatch.chdir(project)
    for name in list(os.environ):
        if name.startswith(("WHEELSHIP_", "CI_", "GITLAB_", "TWINE_", "DATABRICKS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-bad-input-token")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(root / "no.cfg"))
    monkeypatch.setenv("CI_JOB_TOKEN", "job-token-bad-input")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")

    def no_server(*args: object, **kwargs: object) -> int:
        raise AssertionError("a bad input reached the server start")

    monkeypatch.setattr("wheelship.commands.emulator.serve", no_server)
    monkeypatch.setattr("wheelship.commands.demo.run_demo", no_server)
    return project


def _tamper(project: Path) -> None:
    """A state file whose file points its blob outside the store."""
    state = project / "state" / "state.json"
    text = state.read_text()
    blob = next(p.name for p in (project / "state" / "blobs").iterdir())
    state.write_text(text.replace(blob, "../../../afile"))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(
    case: Case,
    world: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for rel, content in case.files.items():
        path = world / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    if case.id == "emulator-state-tampered-blob":
        _tamper(world)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    before = snapshot(world.parent)
    started = time.perf_counter()
    code = cli.main(list(case.argv))
    seconds = time.perf_counter() - started
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert "Traceback" not in out + err
    assert lines, f"no error line (exit {code}): {out!r}"
    last = lines[-1]
    assert last.startswith("error: "), err
    _what, sep, fix = last.partition(" — ")
    assert sep and fix.strip(), f"no fix in: {last}"
    assert case.expect in last, last
    assert code == case.code, err
    assert seconds < TIME_BOUND, f"{seconds:.1f} s"
    assert snapshot(world.parent) == before
    # no registered secret, no token of the environment, in what was printed
    for secret in ("dapi-bad-input-token", "job-token-bad-input", "pw-secret-1", "dapi-argv"):
        assert secret not in out + err
    log._secrets.clear()

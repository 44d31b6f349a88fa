"""Renderings of a compat report: the readable list, JSON, GitLab code quality, the error line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wheelship.cli import main
from wheelship.compat.apidiff import Break
from wheelship.compat.check import CompatReport, Level, Verdict
from wheelship.compat.report import (
    fingerprint,
    render_text,
    to_codequality,
    to_json,
    verdict_line,
    write_json,
)
from wheelship.errors import BreakingChangesFound, ConfigurationError

HEAD = "a" * 40
BASE = "b" * 40

REMOVED = Break(
    kind="object-removed",
    object="forecastkit.metrics.rmse",
    what="function was removed (or renamed)",
    why="code that imports or uses it fails with ImportError or AttributeError",
    path="src/forecastkit/metrics.py",
    line=8,
    ref="v1.2.3",
    head_path="src/forecastkit/metrics.py",
    head_line=1,
)
REQUIRED = Break(
    kind="parameter-changed-required",
    object="forecastkit.train",
    defined_as="forecastkit._impl.train",
    parameter="epochs",
    what="parameter 'epochs' lost its default (now required)",
    why="calls that omit it fail with TypeError",
    path="src/forecastkit/_impl.py",
    line=22,
    ref="HEAD",
    head_path="src/forecastkit/_impl.py",
    head_line=22,
)


def report(verdict: Verdict, breaks: list[Break], **kw: object) -> CompatReport:
    r = CompatReport(
        head=HEAD,
        against="v1.2.3",
        against_commit=BASE,
        version="1.2.4",
        level=Level.PATCH,
        level_reason="1.2.4 is a patch of 1.2.3 (the next release on release/1.2)",
        packages=["forecastkit"],
        breaks=breaks,
        verdict=verdict,
    )
    for k, v in kw.items():
        setattr(r, k, v)
    return r


def test_readable_list() -> None:
    assert render_text(report(Verdict.BREAKING, [REMOVED, REQUIRED])) == [
        "compat: forecastkit at HEAD (aaaaaaaaaaaa) against v1.2.3 (bbbbbbbbbbbb)",
        "compat: patch release 1.2.4: 1.2.4 is a patch of 1.2.3 (the next release on release/1.2)",
        "2 breaking changes to the public API:",
        "  src/forecastkit/metrics.py:8 (in v1.2.3): forecastkit.metrics.rmse: function was "
        "removed (or renamed)",
        "      breaks callers: code that imports or uses it fails with ImportError or "
        "AttributeError",
        "  src/forecastkit/_impl.py:22: forecastkit.train (defined as forecastkit._impl.train): "
        "parameter 'epochs' lost its default (now required)",
        "      breaks callers: calls that omit it fail with TypeError",
        "compat: 2 breaking changes since v1.2.3, not allowed in patch release 1.2.4",
    ]


@pytest.mark.parametrize(
    ("verdict", "breaks", "extra", "line"),
    [
        (Verdict.COMPATIBLE, [], {}, "compat: compatible with v1.2.3 (patch release 1.2.4)"),
        (
            Verdict.ALLOWED,
            [REMOVED],
            {"allowed_by": "--allow-breaking"},
            "compat: 1 breaking change since v1.2.3, allowed by --allow-breaking "
            "(patch release 1.2.4)",
        ),
        (
            Verdict.NOTHING_TO_COMPARE,
            [],
            {"against": None},
            "compat: nothing to compare: no previous release tag is reachable from HEAD",
        ),
        (
            Verdict.BREAKING,
            [REMOVED],
            {"version": None, "level": Level.MINOR},
            "compat: 1 breaking change since v1.2.3, not allowed in the next minor release",
        ),
    ],
)
def test_verdict_lines(
    verdict: Verdict, breaks: list[Break], extra: dict[str, object], line: str
) -> None:
    assert verdict_line(report(verdict, breaks, **extra)) == line


def test_error_lines_name_the_way_out() -> None:
    patch = report(Verdict.BREAKING, [REMOVED]).error()
    assert patch.exit_code == 4
    assert str(patch) == (
        "1 breaking change to the public API since v1.2.3 is not allowed in patch release "
        "1.2.4 — restore compatibility, or release the change as a new major version, or "
        "override with --allow-breaking (recorded in the release notes)"
    )
    minor = report(Verdict.BREAKING, [REMOVED, REQUIRED], level=Level.MINOR, version="1.3.0")
    assert str(minor.error()) == (
        "2 breaking changes to the public API since v1.2.3 are not allowed in minor release "
        "1.3.0 — restore compatibility, or release the change as a new major version, or allow "
        "breaks in minor releases with --allow-breaking-minor (WHEELSHIP_ALLOW_BREAKING_MINOR, "
        "compat.allow-breaking-minor)"
    )


def test_raise_if_failed_only_when_breaking() -> None:
    report(Verdict.ALLOWED, [REMOVED], allowed_by="major release").raise_if_failed()
    report(Verdict.COMPATIBLE, []).raise_if_failed()
    with pytest.raises(BreakingChangesFound, match=r"not allowed in patch release 1\.2\.4"):
        report(Verdict.BREAKING, [REMOVED]).raise_if_failed()


def test_json_report_is_plain_data() -> None:
    data = to_json(report(Verdict.BREAKING, [REQUIRED]))
    assert json.loads(json.dumps(data)) == data
    assert data["verdict"] == "breaking" and data["exit_code"] == 4
    assert data["breaks"][0]["defined_as"] == "forecastkit._impl.train"
    assert data["breaks"][0]["parameter"] == "epochs"


def test_codequality_entries_follow_gitlabs_format() -> None:
    issues = to_codequality(report(Verdict.BREAKING, [REMOVED, REQUIRED]))
    assert issues[1] == {
        "description": "forecastkit.train: parameter 'epochs' lost its default (now required) — "
        "breaks callers: calls that omit it fail with TypeError (since v1.2.3)",
        "check_name": "wheelship-compat/parameter-changed-required",
        "fingerprint": fingerprint("parameter-changed-required", "forecastkit.train", "epochs"),
        "severity": "critical",
        "location": {"path": "src/forecastkit/_impl.py", "lines": {"begin": 22}},
    }
    # a removed object points at what still exists in HEAD (GitLab anchors issues on HEAD's files)
    assert issues[0]["location"] == {"path": "src/forecastkit/metrics.py", "lines": {"begin": 1}}
    allowed = to_codequality(report(Verdict.ALLOWED, [REMOVED], allowed_by="major release"))
    assert allowed[0]["severity"] == "info"


def test_fingerprints_are_stable_and_distinct() -> None:
    a = fingerprint("parameter-removed", "pkg.f", "x")
    assert a == fingerprint("parameter-removed", "pkg.f", "x")
    assert (
        len(
            {
                a,
                fingerprint("parameter-removed", "pkg.f", "y"),
                fingerprint("parameter-moved", "pkg.f", "x"),
                fingerprint("parameter-removed", "pkg.g", "x"),
            }
        )
        == 4
    )


def test_write_json_is_atomic_and_reports_unwritable_paths(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "cq.json"
    write_json(target, [])
    assert target.read_text() == "[]\n"
    assert [p.name for p in target.parent.iterdir()] == ["cq.json"]
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigurationError, match=r"cannot write the report .*/file/cq\.json"):
        write_json(blocker / "cq.json", [])


def test_help_names_every_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compat", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for env in [
        "WHEELSHIP_COMPAT_AGAINST",
        "WHEELSHIP_COMPAT_VERSION",
        "WHEELSHIP_COMPAT_LEVEL",
        "WHEELSHIP_COMPAT_PACKAGES",
        "WHEELSHIP_ALLOW_BREAKING",
        "WHEELSHIP_ALLOW_BREAKING_MINOR",
        "WHEELSHIP_TAG_PATTERN",
        "WHEELSHIP_RELEASE_BRANCH_PATTERN",
        "WHEELSHIP_COMPAT_BRANCH",
        "WHEELSHIP_COMPAT_JSON",
        "WHEELSHIP_COMPAT_CODEQUALITY",
        "WHEELSHIP_CONFIG",
        "WHEELSHIP_PROJECT",
        "WHEELSHIP_OFFLINE",
    ]:
        assert f"[env: {env}" in out, env


def test_unknown_config_key_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WHEELSHIP_CONFIG", raising=False)
    (tmp_path / "wheelship.yml").write_text("compat:\n  allow-breaking-majr: true\n")
    assert main(["compat", "--project", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: {tmp_path / 'wheelship.yml'}: compat.allow-breaking-majr: unknown key — "
        "did you mean allow-breaking-minor? (keys here: "
    )


def test_bad_boolean_in_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELSHIP_ALLOW_BREAKING", "perhaps")
    assert main(["compat", "--project", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        "error: environment variable WHEELSHIP_ALLOW_BREAKING: expected true or false, got "
        "'perhaps' — fix the value of WHEELSHIP_ALLOW_BREAKING\n"
    )

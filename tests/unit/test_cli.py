from __future__ import annotations

import pytest

from wheelship.cli import COMMANDS, main


def test_unknown_command_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: unknown command 'frobnicate' — use one of: {', '.join(COMMANDS)}\n"


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name}" in out


def test_listed_command_without_a_module_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(COMMANDS, "nosuch", "A command whose module is not installed.")
    assert main(["nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: command 'nosuch' is not available in wheelship ")
    assert err.endswith(" — upgrade wheelship (pip install -U wheelship)\n")

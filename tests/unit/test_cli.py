from __future__ import annotations

from pathlib import Path

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


def test_an_unexpected_exception_is_reported_with_secrets_masked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug must not print a credential: libraries quote header values in their exceptions
    (requests' InvalidHeader does), and the traceback goes through the redacting log."""
    import wheelship.commands.status as status
    from wheelship import log

    secret = "dapi-quoted-in-a-traceback-1"
    log.register_secret(secret)

    def boom(_args: object) -> int:
        raise ValueError(f"Invalid header value: 'Bearer {secret}\\n'")

    monkeypatch.setattr(status, "main", boom)
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert secret not in err
    assert "ValueError: Invalid header value: 'Bearer [MASKED]\\n'" in err
    last = err.splitlines()[-1]
    assert last.startswith("error: unexpected internal error (see the traceback above, also in ")
    assert last.endswith(") — this is a bug in wheelship: please report it with that traceback")
    saved = Path(last.split(", also in ")[1].split(")")[0])
    try:
        assert "Bearer [MASKED]" in saved.read_text() and secret not in saved.read_text()
    finally:
        saved.unlink()

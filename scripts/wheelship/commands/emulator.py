"""``wheelship emulator``: serve an offline Databricks workspace emulator on loopback."""

from __future__ import annotations

import argparse
from pathlib import Path

from wheelship import log
from wheelship.emulator.serve import (
    EmulatorSettings,
    check,
    parse_fault,
    parse_rate_limit,
    serve,
)
from wheelship.errors import ConfigurationError, WheelshipError
from wheelship.net import is_loopback
from wheelship.options import Option, add_options, load, opt


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(f"port must be between 0 and 65535, got {value}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError(f"expected a number >= 0, got {text}")
    return value


OPTIONS: list[Option] = [
    opt(
        "host",
        "--host",
        help="address to listen on (an address other than loopback needs --allow-remote)",
        env="WHEELSHIP_EMULATOR_HOST",
        default="127.0.0.1",
        metavar="ADDR",
    ),
    opt(
        "allow_remote",
        "--allow-remote",
        help="allow --host to be an address other networks reach: the emulator serves plain "
        "HTTP, so its token and every request travel unencrypted",
        env="WHEELSHIP_EMULATOR_ALLOW_REMOTE",
        kind="flag",
        default=False,
    ),
    opt(
        "port",
        "--port",
        help="port to listen on (0 picks a free one)",
        env="WHEELSHIP_EMULATOR_PORT",
        type=_port,
        default=0,
        metavar="N",
    ),
    opt(
        "token",
        "--token",
        help=argparse.SUPPRESS,  # refused: a token in argv shows in ps; kept to say so
        env="WHEELSHIP_EMULATOR_TOKEN",
        secret=True,
        metavar="T",
    ),
    opt(
        "token_file",
        "--token-file",
        help="a file holding the admin token (default: WHEELSHIP_EMULATOR_TOKEN, else a new "
        "random one)",
        env="WHEELSHIP_EMULATOR_TOKEN_FILE",
        metavar="FILE",
        path="file",
    ),
    opt(
        "seed_file",
        "--seed-file",
        help="YAML seed describing the workspace to start from",
        env="WHEELSHIP_EMULATOR_SEED_FILE",
        metavar="FILE",
        path="file",
    ),
    opt(
        "state_dir",
        "--state-dir",
        help="keep the workspace in this directory and resume from it on the next start",
        env="WHEELSHIP_EMULATOR_STATE_DIR",
        metavar="DIR",
        path="out-dir",
    ),
    opt(
        "clock_speed",
        "--clock-speed",
        help="simulated time per real second for cluster/library/run durations (0 freezes it)",
        env="WHEELSHIP_EMULATOR_CLOCK_SPEED",
        type=_non_negative,
        default=1.0,
        metavar="X",
    ),
    opt(
        "latency",
        "--latency",
        help="seconds to wait before every answer",
        env="WHEELSHIP_EMULATOR_LATENCY",
        type=_non_negative,
        default=0.0,
        metavar="S",
    ),
    opt(
        "rate_limit",
        "--rate-limit",
        help="answer 429 + Retry-After above N requests/s for endpoints matching PATTERN "
        "('databricks' applies the published per-workspace limits)",
        env="WHEELSHIP_EMULATOR_RATE_LIMIT",
        kind="list",
        metavar="PATTERN=N",
    ),
    opt(
        "fault",
        "--fault",
        help="inject a fault (500, 503, 429, 403, reset, slow) into a fraction of requests",
        env="WHEELSHIP_EMULATOR_FAULT",
        kind="list",
        metavar="KIND[:RATE[:ENDPOINT]]",
    ),
    opt(
        "fault_seed",
        "--fault-seed",
        help="random seed for fault injection",
        env="WHEELSHIP_EMULATOR_FAULT_SEED",
        type=int,
        default=0,
        metavar="N",
    ),
    opt(
        "check_invariants",
        "--check-invariants",
        help="check the workspace (seed file and/or state dir) for broken library references "
        "and duplicate package versions, print the violations and exit (1 when any)",
        env="WHEELSHIP_EMULATOR_CHECK_INVARIANTS",
        kind="flag",
        default=False,
    ),
]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Prints the URL and admin token, then serves until interrupted. Point a client at it:\n"
        "  DATABRICKS_HOST=<url> DATABRICKS_TOKEN=<token> wheelship deploy ...\n"
        "Endpoint patterns are shell globs on 'METHOD /api/<version>/<service>/<verb>'."
    )
    add_options(parser, OPTIONS)


def settings_from(args: argparse.Namespace) -> EmulatorSettings:
    values = load(args, OPTIONS)
    log.register_secret(values.get("token"))
    if values.sources["token"] == "flag":
        raise ConfigurationError(
            "--token puts the token on the command line, where every user sees it (ps)",
            "set WHEELSHIP_EMULATOR_TOKEN or pass --token-file FILE",
        )
    token = values.get("token") or None
    if values["token_file"] is not None:
        token = read_token(values["token_file"])
    seed: Path | None = values["seed_file"]
    if seed is not None and not seed.is_file():
        raise ConfigurationError(
            f"seed file {seed} not found", "pass an existing YAML file with --seed-file"
        )
    host = check_host(values["host"], allow_remote=bool(values["allow_remote"]))
    return EmulatorSettings(
        host=host,
        port=values["port"],
        token=token,
        seed_file=seed,
        state_dir=values["state_dir"],
        clock_speed=values["clock_speed"],
        latency=values["latency"],
        rate_limits=dict(parse_rate_limit(x) for x in values["rate_limit"]),
        faults=[parse_fault(x) for x in values["fault"]],
        fault_seed=values["fault_seed"],
        check_invariants=bool(values["check_invariants"]),
    )


def read_token(path: Path) -> str:
    """The token in ``path`` (one line; surrounding whitespace dropped)."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"cannot read the token file {path}: {getattr(exc, 'strerror', None) or exc}",
            "pass a readable text file with --token-file",
        ) from None
    log.register_secret(token)
    if not token or any(c.isspace() for c in token):
        raise ConfigurationError(
            f"the token file {path} does not hold one token",
            "write the token alone on one line",
        )
    return token


def check_host(host: str, *, allow_remote: bool) -> str:
    """Loopback, or any address with ``--allow-remote`` (and a warning: plain HTTP)."""
    if is_loopback(host):
        return host
    if not allow_remote:
        raise ConfigurationError(
            f"--host {host} is not a loopback address: the emulator serves plain HTTP, "
            "readable by anyone on the network",
            "use 127.0.0.1, or add --allow-remote to serve the network on purpose",
        )
    log.warn(
        f"serving plain HTTP on {host}: the token and every request travel unencrypted to "
        "whoever can reach this address"
    )
    return host


def main(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if settings.check_invariants:
        problems = check(settings)
        for line in problems:
            log.result(line)
        if problems:
            raise WheelshipError(
                f"{len(problems)} invariant violation(s) in the workspace",
                "fix the references listed above",
            )
        log.info("invariants hold: every library reference exists, one version per package")
        return 0
    return serve(settings)

"""``wheelship emulator``: serve an offline Databricks workspace emulator on loopback."""

from __future__ import annotations

import argparse

from wheelship import log
from wheelship.emulator.serve import (
    EmulatorSettings,
    check,
    serve,
)
from wheelship.errors import WheelshipError
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


def main(args: argparse.Namespace) -> int:
    settings = EmulatorSettings.from_options(load(args, OPTIONS))
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

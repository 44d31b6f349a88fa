"""The work layer of ``wheelship emulator``: serve until interrupted, or check invariants."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from wheelship import log
from wheelship.emulator import invariants, persistence
from wheelship.emulator.app import Emulator
from wheelship.emulator.blobs import BlobStore
from wheelship.emulator.clock import SimClock
from wheelship.emulator.faults import PRESETS, Fault
from wheelship.emulator.seed import apply_seed, load_seed
from wheelship.emulator.state import Workspace
from wheelship.errors import ConfigurationError
from wheelship.net import is_loopback
from wheelship.options import Resolved


@dataclass
class EmulatorSettings:
    host: str = "127.0.0.1"
    port: int = 0
    token: str | None = None
    seed_file: Path | None = None
    state_dir: Path | None = None
    clock_speed: float = 1.0
    latency: float = 0.0
    rate_limits: dict[str, float] = field(default_factory=dict)  # a preset name maps to 0
    faults: list[Fault] = field(default_factory=list)
    fault_seed: int = 0
    check_invariants: bool = False

    @classmethod
    def from_options(cls, values: Resolved) -> EmulatorSettings:
        """The one constructor from the resolved options of ``wheelship emulator``: the token
        never from the command line, a non-loopback address only on purpose."""
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
        return cls(
            host=check_host(values["host"], allow_remote=bool(values["allow_remote"])),
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


def parse_rate_limit(text: str) -> tuple[str, float]:
    """``PATTERN=N`` (requests per second)."""
    pattern, sep, rate = text.rpartition("=")
    if not sep and text in PRESETS:
        return text, 0.0
    if not sep or not pattern:
        raise ConfigurationError(
            f"rate limit {text!r} is not PATTERN=PER_SECOND",
            "write e.g. '/api/*/jobs/*=20', 'POST /api/2.0/libraries/install=5' or 'databricks'"
            " (the published limits)",
        )
    try:
        value = float(rate)
    except ValueError:
        raise ConfigurationError(
            f"rate limit {text!r}: {rate!r} is not a number", "give requests per second"
        ) from None
    if value <= 0:
        raise ConfigurationError(f"rate limit {text!r} must be > 0", "give requests per second")
    return pattern, value


def parse_fault(text: str) -> Fault:
    try:
        return Fault.parse(text)
    except ValueError as exc:
        raise ConfigurationError(
            f"fault {text!r}: {exc}", "write KIND[:RATE[:ENDPOINT]], e.g. 503:0.1:/api/*/jobs/*"
        ) from None


def build(settings: EmulatorSettings) -> Emulator:
    limits: dict[str, float] = {}
    for pattern, rate in settings.rate_limits.items():
        if pattern in PRESETS:
            limits.update(PRESETS[pattern])
        else:
            limits[pattern] = rate
    return Emulator(
        seed=settings.seed_file,
        token=settings.token,
        state_dir=settings.state_dir,
        clock_speed=settings.clock_speed,
        latency=settings.latency,
        rate_limits=limits,
        faults=settings.faults,
        fault_seed=settings.fault_seed,
        host=settings.host,
        port=settings.port,
    )


def check(settings: EmulatorSettings) -> list[str]:
    """Violations in the workspace of the state directory (when it holds one) or the seed file.

    Read-only and without a listener, so it can run next to a server using the same state
    directory: the state file is replaced atomically, so it is always whole."""
    saved = settings.state_dir
    if saved is not None and not persistence.exists(saved):
        saved = None
    blobs = BlobStore(persistence.blob_dir(saved), owner=False) if saved else BlobStore()
    try:
        ws = Workspace(clock=SimClock(0), blobs=blobs)  # frozen: only the saved time counts
        if saved is not None:
            try:
                persistence.load(ws, saved)
            except (ValueError, KeyError, TypeError, OSError) as exc:
                raise ConfigurationError(
                    f"cannot read the workspace in {saved}: {exc}",
                    "point --state-dir at a directory written by wheelship emulator",
                ) from None
        else:
            data, base = load_seed(settings.seed_file)
            apply_seed(ws, data, base)
        with ws.lock:
            ws.tick()
            return invariants.check(ws)
    finally:
        if saved is None:
            blobs.close()


def serve(
    settings: EmulatorSettings,
    *,
    stop: threading.Event | None = None,
    on_ready: Callable[[Emulator], None] | None = None,
) -> int:
    """Serve until ``stop`` is set, SIGTERM arrives or the user interrupts."""
    stop = stop or threading.Event()
    emu = build(settings)
    previous: dict[signal.Signals, Any] = {}

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        # Ctrl-C stops like SIGTERM wherever it lands: a KeyboardInterrupt raised between the
        # "url:" line and the wait loop would otherwise end the process with 130, not 0
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, on_term)
    try:
        with emu:
            log.result(f"url: {emu.url}")
            if settings.token:
                log.result("token: (the one given)")
            else:
                log.result(f"token: {emu.token}")
            for name in sorted(emu.tokens):
                if name != "admin":
                    log.info(f"seed token: {name}")
            where = f"state in {settings.state_dir}" if settings.state_dir else "state in memory"
            resumed = " (resumed)" if emu.resumed else ""
            log.info(
                f"Databricks workspace emulator serving on {emu.url}, {where}{resumed}, "
                f"started in {emu.startup_seconds * 1000:.0f} ms; press Ctrl-C to stop"
            )
            if on_ready is not None:
                on_ready(emu)
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
            if settings.check_invariants:
                problems = emu.invariants()
                for line in problems:
                    log.warn(f"invariant: {line}")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("emulator stopped")
    return 0

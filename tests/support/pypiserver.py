"""A real pypiserver on 127.0.0.1 with htpasswd auth, started and stopped by the test.

    with run_pypiserver(tmp_path, authenticate="update") as index:
        index.url          # http://127.0.0.1:PORT/   (upload URL)
        index.simple_url   # http://127.0.0.1:PORT/simple
        index.username, index.password

``authenticate`` is pypiserver's ``-a`` list: ``update`` (uploads need auth, reads are open) or
``update,download,list`` (everything needs auth).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.net import free_port, wait_http


@dataclass
class PypiServer:
    port: int
    packages: Path
    username: str
    password: str
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def simple_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple"

    def stored(self) -> dict[str, bytes]:
        """The files the server holds, by name."""
        return {p.name: p.read_bytes() for p in sorted(self.packages.iterdir()) if p.is_file()}


def _htpasswd(path: Path, users: dict[str, str]) -> None:
    # passlib imports the stdlib ``crypt`` module, deprecated since 3.11 (passlib is unmaintained;
    # pypiserver's htpasswd support needs it).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from passlib.apache import HtpasswdFile

    ht = HtpasswdFile(str(path), new=True)
    for user, password in users.items():
        ht.set_password(user, password)
    ht.save()


@contextmanager
def run_pypiserver(
    workdir: Path,
    *,
    username: str = "ci",
    password: str = "s3cret-upload-token",
    authenticate: str = "update",
    attempts: int = 3,
    more_users: dict[str, str] | None = None,
) -> Iterator[PypiServer]:
    workdir.mkdir(parents=True, exist_ok=True)
    packages = workdir / "packages"
    packages.mkdir(exist_ok=True)
    htpasswd = workdir / "htpasswd"
    _htpasswd(htpasswd, {username: password, **(more_users or {})})
    log = workdir / "pypiserver.log"
    proc: subprocess.Popen[bytes] | None = None
    for _ in range(attempts):  # the free port may be taken between choosing and binding it
        port = free_port()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pypiserver",
                    "run",
                    "-i",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-P",
                    str(htpasswd),
                    "-a",
                    authenticate,
                    "--disable-fallback",
                    str(packages),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
        try:
            _wait_up(proc, port, log)
            break
        except RuntimeError:
            if "Address already in use" not in log.read_text(errors="replace"):
                raise
    assert proc is not None
    server = PypiServer(port, packages, username, password, proc)
    try:
        yield server
    finally:
        _stop(proc)


def _wait_up(proc: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"pypiserver exited {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            wait_http(f"http://127.0.0.1:{port}/health", timeout=0.5)
            return
        except TimeoutError:
            continue
    _stop(proc)
    raise RuntimeError(f"pypiserver did not start within {timeout}s: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

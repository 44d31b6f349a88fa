"""Log lines stay whole when worker threads write at once (deploy's concurrent calls)."""

from __future__ import annotations

import io
import threading

import pytest

from wheelship import log


class Recording(io.StringIO):
    """A stream that remembers every write() call."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_every_line_is_one_write_even_from_many_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Recording()
    monkeypatch.setattr("sys.stderr", stream)
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        start.wait()
        for i in range(200):
            log.info(f"  repoint job {n}-{i}: 1 reference(s)")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert all(w.endswith("\n") and w.count("\n") == 1 for w in stream.writes)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1600
    assert all(
        line.startswith("  repoint job ") and line.endswith("reference(s)") for line in lines
    )


def test_lines_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Recording()
    monkeypatch.setattr("sys.stdout", stream)
    log.register_secret("dapi-unit-test-secret")
    log.result("token dapi-unit-test-secret")
    assert stream.writes == ["token [MASKED]\n"]

"""Tiny helpers for benchmark tables (used by ``ci/bench.py``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def markdown(self) -> str:
        lines = [
            f"**{self.title}**",
            "",
            "| " + " | ".join(self.headers) + " |",
            "|" + "|".join(" --- " for _ in self.headers) + "|",
        ]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        lines += [f"\n{n}" for n in self.notes]
        return "\n".join(lines)


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    """Wall-clock seconds of ``runs`` calls."""
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def summary(samples: list[float]) -> tuple[float, float]:
    return min(samples), statistics.median(samples)

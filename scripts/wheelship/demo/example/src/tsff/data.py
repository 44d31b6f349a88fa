"""Time series: a bundled monthly sales series, CSV loading, and a seeded synthetic generator."""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class Series:
    """Equally spaced observations, oldest first; ``labels`` name the periods (e.g. 2024-01)."""

    labels: tuple[str, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.values):
            raise ValueError("labels and values differ in length")

    def __len__(self) -> int:
        return len(self.values)

    def split(self, holdout: int) -> tuple[Series, Series]:
        """(train, test) with the last ``holdout`` points as the test part."""
        if not 0 < holdout < len(self):
            raise ValueError(f"holdout must be between 1 and {len(self) - 1}, got {holdout}")
        cut = len(self) - holdout
        return (
            Series(self.labels[:cut], self.values[:cut]),
            Series(self.labels[cut:], self.values[cut:]),
        )


def _parse(rows: list[list[str]], source: str) -> Series:
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["date", "value"]:
        raise ValueError(f"{source}: expected a 'date,value' header")
    labels: list[str] = []
    values: list[float] = []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            values.append(float(row[1]))
        except (IndexError, ValueError):
            raise ValueError(f"{source}:{number}: expected date,value") from None
        labels.append(row[0].strip())
    if len(values) < 2:
        raise ValueError(f"{source}: needs at least two observations")
    return Series(tuple(labels), tuple(values))


def load_csv(path: str | Path) -> Series:
    with open(path, newline="", encoding="utf-8") as fh:
        return _parse(list(csv.reader(fh)), str(path))


def bundled() -> Series:
    """Eight years of monthly sales (2016-01 .. 2023-12), shipped inside the wheel."""
    text = resources.files("tsff").joinpath("data/sales.csv").read_text(encoding="utf-8")
    return _parse(list(csv.reader(text.splitlines())), "tsff/data/sales.csv")


def synthetic(n: int = 60, season: int = 12, seed: int = 0) -> Series:
    """Trend + seasonality + noise, reproducible from ``seed``."""
    rng = random.Random(seed)
    values = tuple(
        100 + 0.8 * i + 10 * math.sin(2 * math.pi * i / season) + rng.gauss(0, 1.5)
        for i in range(n)
    )
    return Series(tuple(f"t{i}" for i in range(n)), values)

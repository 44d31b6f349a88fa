"""Forecast error measures."""

from __future__ import annotations

import math
from collections.abc import Sequence


def _pairs(actual: Sequence[float], forecast: Sequence[float]) -> list[tuple[float, float]]:
    if len(actual) != len(forecast) or not actual:
        raise ValueError("actual and forecast must be non-empty and of equal length")
    return list(zip(actual, forecast, strict=True))


def mae(actual: Sequence[float], forecast: Sequence[float]) -> float:
    pairs = _pairs(actual, forecast)
    return sum(abs(a - f) for a, f in pairs) / len(pairs)


def rmse(actual: Sequence[float], forecast: Sequence[float]) -> float:
    pairs = _pairs(actual, forecast)
    return math.sqrt(sum((a - f) ** 2 for a, f in pairs) / len(pairs))


def smape(actual: Sequence[float], forecast: Sequence[float]) -> float:
    """Symmetric MAPE in percent (0 when both are 0)."""
    pairs = _pairs(actual, forecast)
    total = 0.0
    for a, f in pairs:
        denom = abs(a) + abs(f)
        total += 0.0 if denom == 0 else 2 * abs(f - a) / denom
    return 100 * total / len(pairs)

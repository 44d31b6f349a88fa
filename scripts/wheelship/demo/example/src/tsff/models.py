"""Forecasting models: seasonal naive (the baseline) and additive Holt-Winters.

Both fit on a :class:`~tsff.data.Series`, forecast any horizon, and round-trip through a plain
dict (the JSON model file the ``train`` task writes and ``score`` reads).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from tsff.data import Series

_GRID = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


@dataclass
class SeasonalNaive:
    """Next season repeats the last one."""

    season: int = 12
    last_season: list[float] = field(default_factory=list)

    kind = "seasonal-naive"

    def fit(self, series: Series) -> SeasonalNaive:
        if len(series) < self.season:
            raise ValueError(f"seasonal naive needs at least {self.season} observations")
        self.last_season = list(series.values[-self.season :])
        return self

    def forecast(self, horizon: int) -> list[float]:
        if not self.last_season:
            raise ValueError("fit the model first")
        return [self.last_season[i % self.season] for i in range(horizon)]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "season": self.season, "last_season": self.last_season}


@dataclass
class HoltWinters:
    """Additive Holt-Winters; smoothing parameters chosen by grid search on one-step error."""

    season: int = 12
    alpha: float = 0.0
    beta: float = 0.0
    gamma: float = 0.0
    level: float = 0.0
    trend: float = 0.0
    seasonals: list[float] = field(default_factory=list)
    sse: float = 0.0

    kind = "holt-winters"

    def _run(
        self, values: tuple[float, ...], alpha: float, beta: float, gamma: float
    ) -> tuple[float, float, list[float], float]:
        m = self.season
        level = sum(values[:m]) / m
        trend = (sum(values[m : 2 * m]) - sum(values[:m])) / (m * m)
        seasonals = [v - level for v in values[:m]]
        sse = 0.0
        for t in range(m, len(values)):
            y = values[t]
            s = seasonals[t % m]
            sse += (y - (level + trend + s)) ** 2
            new_level = alpha * (y - s) + (1 - alpha) * (level + trend)
            trend = beta * (new_level - level) + (1 - beta) * trend
            seasonals[t % m] = gamma * (y - new_level) + (1 - gamma) * s
            level = new_level
        # rotate so that seasonals[0] belongs to the first period after the data
        shift = len(values) % m
        return level, trend, seasonals[shift:] + seasonals[:shift], sse

    def fit(self, series: Series) -> HoltWinters:
        if len(series) < 2 * self.season:
            raise ValueError(f"Holt-Winters needs at least {2 * self.season} observations")
        best: tuple[float, float, float, float] | None = None
        for alpha, beta, gamma in itertools.product(_GRID, _GRID, _GRID):
            sse = self._run(series.values, alpha, beta, gamma)[3]
            if best is None or sse < best[0]:
                best = (sse, alpha, beta, gamma)
        assert best is not None
        _, self.alpha, self.beta, self.gamma = best
        self.level, self.trend, self.seasonals, self.sse = self._run(
            series.values, self.alpha, self.beta, self.gamma
        )
        return self

    def forecast(self, horizon: int) -> list[float]:
        if not self.seasonals:
            raise ValueError("fit the model first")
        return [
            self.level + h * self.trend + self.seasonals[(h - 1) % self.season]
            for h in range(1, horizon + 1)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "season": self.season,
            "alpha": self.alpha,
            "beta": self.beta,
            "gamma": self.gamma,
            "level": self.level,
            "trend": self.trend,
            "seasonals": self.seasonals,
        }


Model = SeasonalNaive | HoltWinters
MODELS: dict[str, type[SeasonalNaive] | type[HoltWinters]] = {
    SeasonalNaive.kind: SeasonalNaive,
    HoltWinters.kind: HoltWinters,
}


def fit(series: Series, kind: str = HoltWinters.kind, season: int = 12) -> Model:
    try:
        cls = MODELS[kind]
    except KeyError:
        raise ValueError(f"unknown model {kind!r}; use one of {', '.join(MODELS)}") from None
    return cls(season=season).fit(series)


def from_dict(data: dict[str, Any]) -> Model:
    kind = data.get("kind")
    if kind == SeasonalNaive.kind:
        return SeasonalNaive(season=int(data["season"]), last_season=list(data["last_season"]))
    if kind == HoltWinters.kind:
        return HoltWinters(
            season=int(data["season"]),
            alpha=float(data["alpha"]),
            beta=float(data["beta"]),
            gamma=float(data["gamma"]),
            level=float(data["level"]),
            trend=float(data["trend"]),
            seasonals=[float(s) for s in data["seasonals"]],
        )
    raise ValueError(f"not a tsff model (kind {kind!r})")

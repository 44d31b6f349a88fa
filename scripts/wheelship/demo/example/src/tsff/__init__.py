"""tsff: tiny time-series forecasting (seasonal naive, additive Holt-Winters), stdlib only."""

from __future__ import annotations

from tsff.data import Series, bundled, load_csv
from tsff.metrics import mae, rmse, smape
from tsff.models import HoltWinters, SeasonalNaive, fit

try:
    from tsff._version import version as __version__
except ImportError:  # a source tree that was never built
    __version__ = "0.0.0"

__all__ = [
    "HoltWinters",
    "SeasonalNaive",
    "Series",
    "__version__",
    "bundled",
    "fit",
    "load_csv",
    "mae",
    "rmse",
    "smape",
]

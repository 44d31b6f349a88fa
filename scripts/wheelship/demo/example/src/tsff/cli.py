"""The ``tsff`` command (the Databricks ``python_wheel_task`` entry point).

Subcommands: ``train`` (fit, report hold-out error, write the model), ``score`` (forecast from a
saved model), ``backtest`` (compare the models). Results are JSON on stdout, so a job's output
is machine-readable; errors are one line on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tsff import __version__
from tsff.data import Series, bundled, load_csv, synthetic
from tsff.metrics import mae, rmse, smape
from tsff.models import MODELS, from_dict
from tsff.models import fit as fit_model


def _series(spec: str | None) -> Series:
    if spec in (None, "", "bundled"):
        return bundled()
    if spec.startswith("synthetic"):
        _, _, seed = spec.partition(":")
        return synthetic(seed=int(seed or 0))
    return load_csv(spec)


def _emit(payload: dict[str, Any]) -> None:
    print(json.dumps(payload, sort_keys=True))


def _evaluate(series: Series, kind: str, season: int, horizon: int) -> dict[str, Any]:
    train, test = series.split(horizon)
    forecast = fit_model(train, kind, season).forecast(horizon)
    return {
        "model": kind,
        "mae": round(mae(test.values, forecast), 4),
        "rmse": round(rmse(test.values, forecast), 4),
        "smape": round(smape(test.values, forecast), 4),
    }


def cmd_train(args: argparse.Namespace) -> int:
    series = _series(args.data)
    metrics = _evaluate(series, args.model, args.season, args.horizon)
    model = fit_model(series, args.model, args.season)  # refit on everything for scoring
    document = {
        "tsff_version": __version__,
        "trained_on": len(series),
        "last_label": series.labels[-1],
        "model": model.to_dict(),
    }
    if args.model_out:
        Path(args.model_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.model_out).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    _emit({"task": "train", "holdout": args.horizon, **metrics, "model_out": args.model_out})
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    document = json.loads(Path(args.model).read_text(encoding="utf-8"))
    model = from_dict(document["model"])
    for step, value in enumerate(model.forecast(args.horizon), start=1):
        _emit({"task": "score", "step": step, "after": document["last_label"], "value": value})
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    series = _series(args.data)
    results = [_evaluate(series, kind, args.season, args.horizon) for kind in MODELS]
    best = min(results, key=lambda r: r["mae"])
    _emit({"task": "backtest", "holdout": args.horizon, "results": results, "best": best["model"]})
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tsff", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"tsff {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--horizon", type=int, default=12, help="periods to forecast/hold out")
        sp.add_argument("--season", type=int, default=12, help="season length in periods")

    train = sub.add_parser("train", help="fit a model, report hold-out error, save it")
    common(train)
    train.add_argument("--data", help="CSV with date,value; 'bundled' or 'synthetic[:seed]'")
    train.add_argument("--model", default="holt-winters", choices=sorted(MODELS))
    train.add_argument("--model-out", help="where to write the model JSON")
    train.set_defaults(func=cmd_train)

    score = sub.add_parser("score", help="forecast from a saved model")
    common(score)
    score.add_argument("--model", required=True, help="model JSON written by train")
    score.set_defaults(func=cmd_score)

    backtest = sub.add_parser("backtest", help="compare every model on a hold-out")
    common(backtest)
    backtest.add_argument("--data", help="CSV with date,value; 'bundled' or 'synthetic[:seed]'")
    backtest.set_defaults(func=cmd_backtest)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        code: int = args.func(args)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code

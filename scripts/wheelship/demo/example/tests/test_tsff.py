from __future__ import annotations

import json
from pathlib import Path

import pytest

from tsff import HoltWinters, SeasonalNaive, bundled, fit, mae, smape
from tsff.cli import main
from tsff.data import load_csv, synthetic
from tsff.models import from_dict


def test_bundled_series_is_eight_years_monthly() -> None:
    series = bundled()
    assert len(series) == 96
    assert (series.labels[0], series.labels[-1]) == ("2016-01", "2023-12")


def test_holt_winters_beats_the_seasonal_naive_baseline() -> None:
    train, test = bundled().split(12)
    hw = HoltWinters().fit(train).forecast(12)
    naive = SeasonalNaive().fit(train).forecast(12)
    assert mae(test.values, hw) < mae(test.values, naive)
    assert smape(test.values, hw) < 5


def test_holt_winters_recovers_a_clean_seasonal_trend() -> None:
    series = synthetic(n=72, seed=3)
    train, test = series.split(12)
    assert mae(test.values, HoltWinters().fit(train).forecast(12)) < 4


def test_models_round_trip_through_dicts() -> None:
    for kind in ("holt-winters", "seasonal-naive"):
        model = fit(bundled(), kind)
        assert from_dict(json.loads(json.dumps(model.to_dict()))).forecast(5) == pytest.approx(
            model.forecast(5)
        )


def test_train_then_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_path = tmp_path / "out" / "model.json"
    assert main(["train", "--horizon", "12", "--model-out", str(model_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "train"
    assert report["smape"] < 5
    assert main(["score", "--model", str(model_path), "--horizon", "3"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3]
    assert all(line["after"] == "2023-12" for line in lines)


def test_backtest_names_the_best_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--data", "synthetic:1"]) == 0
    assert json.loads(capsys.readouterr().out)["best"] in ("holt-winters", "seasonal-naive")


def test_bad_csv_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("when,amount\n2024-01,3\n")
    assert main(["train", "--data", str(bad)]) == 2
    assert capsys.readouterr().err == f"error: {bad}: expected a 'date,value' header\n"
    bad.write_text("date,value\n2024-01,3\n")
    with pytest.raises(ValueError, match="at least two"):
        load_csv(bad)

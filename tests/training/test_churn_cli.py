"""`features build`, `train churn` and `score churn`: bad input is one line and exit 1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.retailer import prepare_history, retailer_snapshot
from features.validate import load_dataset
from fieldcoach.cli import app
from fieldcoach.settings import get_settings
from simulator import SimulationConfig, Territory, export_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("churn-cli") / "data"
    territory = Territory.create(SimulationConfig(n_retailers=300, n_managers=3, seed=5))
    territory.run(60)  # 2024-01-01 .. 2025-02-23
    export_dataset(territory, out)
    return out


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """MLflow and everything else fieldcoach writes goes under a fresh home."""
    monkeypatch.setenv("FIELDCOACH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("FIELDCOACH_MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def _invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def _span(data: Path) -> str:
    days = pd.read_parquet(data / "orders.parquet", columns=["order_date"])["order_date"]
    days = pd.to_datetime(days)
    return f"{days.min().date()} .. {days.max().date()}"


def assert_user_error(result, *fragments: str) -> str:
    """Exit 1, no traceback, and exactly one line `error: ...` that ends the output."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.output.rstrip("\n").splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    assert lines[-1] == errors[0], f"the error is not one line:\n{result.output}"
    assert errors[0] in result.stderr.splitlines()
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


# ------------------------------------------------------------------ bad input
def test_train_without_orders_file(data: Path, tmp_path: Path):
    folder = tmp_path / "no-orders"
    folder.mkdir()
    for name in ("retailers", "managers", "visits"):
        shutil.copy(data / f"{name}.parquet", folder)
    assert_user_error(
        _invoke("train", "churn", "--data", folder),
        "does not meet the data contract",
        "orders: required table missing",
        f"`fieldcoach validate {folder}`",
    )
    out = tmp_path / "features.parquet"
    assert_user_error(
        _invoke("features", "build", "--data", folder, "--as-of", "2024-11-20", "--out", out),
        "orders: required table missing",
    )


def test_train_with_missing_folder(tmp_path: Path):
    assert_user_error(
        _invoke("train", "churn", "--data", tmp_path / "nope"), "no such data folder"
    )


def test_train_cutoff_not_a_date(data: Path):
    assert_user_error(
        _invoke("train", "churn", "--data", data, "--cutoff", "notadate"),
        "--cutoff 'notadate' is not a date (use YYYY-MM-DD)",
    )


@pytest.mark.parametrize("cutoff", ["2023-06-01", "2026-01-05"])
def test_train_cutoff_outside_the_data(data: Path, cutoff: str):
    assert_user_error(
        _invoke("train", "churn", "--data", data, "--cutoff", cutoff, "--no-tune"),
        f"--cutoff {cutoff} is outside the data ({_span(data)})",
    )


def test_train_cutoff_without_a_full_label_window(data: Path):
    assert_user_error(
        _invoke("train", "churn", "--data", data, "--cutoff", "2025-02-10"),
        "label window ends after the data",
        "the latest possible cutoff is",
    )


def test_train_horizon_longer_than_the_data(data: Path):
    assert_user_error(
        _invoke("train", "churn", "--data", data, "--horizon-weeks", 200),
        "--horizon-weeks 200 is longer than the data allows",
    )


@pytest.mark.parametrize("horizon", ["0", "-3"])
def test_train_horizon_below_one(data: Path, horizon: str):
    assert_user_error(
        _invoke("train", "churn", "--data", data, "--horizon-weeks", horizon),
        "--horizon-weeks must be at least 1",
    )


@pytest.mark.parametrize("as_of", ["2023-12-31", "2024-01-01", "2025-06-02"])
def test_features_build_as_of_outside_the_data(data: Path, tmp_path: Path, as_of: str):
    out = tmp_path / "features.parquet"
    assert_user_error(
        _invoke("features", "build", "--data", data, "--as-of", as_of, "--out", out),
        f"--as-of {as_of} is outside the data",
    )
    assert not out.exists()


def test_features_build_as_of_not_a_date(data: Path, tmp_path: Path):
    out = tmp_path / "features.parquet"
    assert_user_error(
        _invoke("features", "build", "--data", data, "--as-of", "soon", "--out", out),
        "--as-of 'soon' is not a date",
    )


@pytest.mark.parametrize(
    "command",
    [
        ("features", "build", "--as-of", "2024-11-20"),
        ("score", "churn", "--as-of", "2024-11-20"),
    ],
)
@pytest.mark.parametrize("name", ["features.xlsx", "features", "features.json"])
def test_out_with_unsupported_extension(data: Path, tmp_path: Path, command, name):
    out = tmp_path / name
    assert_user_error(
        _invoke(*command, "--data", data, "--out", out), f"--out {out}: use a .csv or .parquet"
    )
    assert not out.exists()


@pytest.mark.slow
def test_score_without_a_registered_model(data: Path, tmp_path: Path, home: Path):
    out = tmp_path / "scores.csv"
    assert_user_error(
        _invoke("score", "churn", "--data", data, "--as-of", "2024-11-20", "--out", out),
        "cannot load models:/retailer-churn@champion",
        "fieldcoach train churn",
    )
    assert not out.exists()
    assert home.exists()  # MLflow looked in the test's home, not the working directory


# ------------------------------------------------------------------ happy path
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_features_build_writes_one_row_per_retailer_at_risk(data: Path, tmp_path: Path, suffix):
    out = tmp_path / f"features{suffix}"
    dates = ["2024-11-20", "2024-12-02"]  # a Wednesday and a Monday
    result = _invoke(
        "features", "build", "--data", data, "--as-of", dates[0], "--as-of", dates[1],
        "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    if suffix == ".parquet":
        frame = pd.read_parquet(out)
    else:
        frame = pd.read_csv(out, encoding="utf-8-sig", parse_dates=["as_of"])
    assert not frame.duplicated(["retailer_id", "as_of"]).any()

    history = prepare_history(load_dataset(data).tables)
    for date in dates:
        snapshot = retailer_snapshot(history, date, active_weeks=8)
        rows = frame[frame["as_of"] == pd.Timestamp(date)]
        assert sorted(rows["retailer_id"]) == sorted(snapshot.frame["retailer_id"])
        assert f"{date}: {len(snapshot.frame):,} retailers at risk" in result.output
        left_out = [f"{n:,} {why}" for why, n in snapshot.excluded.items() if n]
        assert left_out, snapshot.excluded  # the simulated data always has some left out
        for item in left_out:
            assert item in result.output
    assert f"wrote {len(frame):,} rows" in result.output
    assert "switched off" not in result.output  # every table is there


def test_features_build_orders_only_says_what_is_switched_off(data: Path, tmp_path: Path):
    folder = tmp_path / "orders-only"
    folder.mkdir()
    shutil.copy(data / "orders.parquet", folder)
    out = tmp_path / "features.parquet"
    result = _invoke("features", "build", "--data", folder, "--as-of", "2024-11-20", "--out", out)
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(out)) > 0
    for what in ("visit features", "complaint features", "satisfaction features",
                 "retailer attributes", "manager context"):  # fmt: skip
        assert f"switched off: {what}" in result.output


def test_train_unknown_label_is_one_line(data: Path):
    assert_user_error(
        _invoke("train", "churn", "--data", data, "--label", "medium"), "--label", "medium"
    )

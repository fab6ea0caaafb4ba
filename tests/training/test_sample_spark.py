"""`train churn --engine spark --sample-retailers N`: a sample of whole managers drawn on
Spark, whose retailers keep the features they have on the full data, trained on here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.retailer import build_retailer_features
from features.validate import load_dataset
from fieldcoach.cli import app
from fieldcoach.settings import get_settings
from simulator import SimulationConfig, Territory, export_dataset
from training.sample_spark import SAMPLE_FILE

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample-spark") / "data"
    territory = Territory.create(SimulationConfig(n_retailers=800, n_managers=8, seed=11))
    export_dataset(territory.run(80), folder)
    return folder


def test_train_churn_on_a_sample_of_whole_managers_drawn_on_spark(
    spark, data, tmp_path, monkeypatch
):
    monkeypatch.setenv("FIELDCOACH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}")
    get_settings.cache_clear()
    report, out = tmp_path / "report.json", tmp_path / "sample"
    base = ["train", "churn", "--data", str(data), "--no-tune", "--report", str(report)]
    sample = ["--sample-retailers", "400", "--sample-seed", "1", "--sample-out", str(out)]
    try:
        runner = CliRunner()
        refused = runner.invoke(app, [*base, *sample])
        assert refused.exit_code == 1 and "--engine spark" in refused.output
        done = runner.invoke(app, [*base, "--engine", "spark", *sample])
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    assert "drawn on spark" in done.output
    drawn_report = json.loads(report.read_text())["sample"]
    result = json.loads(report.read_text())
    assert 0.5 < result["lightgbm"]["roc_auc"] <= 1, "the model trained on the sample"

    full, part = load_dataset(data).tables, load_dataset(out).tables
    retailers = full["retailers"]
    drawn = set(part["retailers"]["retailer_id"])
    managers = set(part["retailers"]["manager_id"])
    assert drawn_report["retailers"] == len(drawn) >= 400
    assert drawn_report["of_retailers"] == retailers["retailer_id"].nunique() > len(drawn)
    assert drawn_report["managers"] == len(managers) < full["managers"]["manager_id"].nunique()
    assert json.loads((out / SAMPLE_FILE).read_text())["retailers"] == len(drawn)
    # Whole managers: every retailer of a drawn manager, and nobody else's.
    assert drawn == set(retailers.loc[retailers["manager_id"].isin(managers), "retailer_id"])
    assert len(part["orders"]) == full["orders"]["retailer_id"].isin(drawn).sum()
    assert set(part["orders"]["retailer_id"]) <= drawn
    assert set(part["managers"]["manager_id"]) == managers

    # So a sampled retailer's features, its manager's context included, are those it has
    # on the full data.
    as_of = [pd.Timestamp(full["orders"]["order_date"].max()) + pd.Timedelta(days=1)]
    want = build_retailer_features(full, as_of, 8)[0]
    want = want[want["retailer_id"].isin(drawn)].sort_values("retailer_id", ignore_index=True)
    got = build_retailer_features(part, as_of, 8)[0].sort_values("retailer_id", ignore_index=True)
    assert list(got["retailer_id"]) == list(want["retailer_id"])
    assert len(got) > 200
    numeric = [
        c
        for c in want.columns
        if pd.api.types.is_numeric_dtype(want[c]) and not pd.api.types.is_bool_dtype(want[c])
    ]
    assert "territory_size" in numeric
    for column in numeric:
        a, b = want[column].to_numpy(float), got[column].to_numpy(float)
        assert np.array_equal(a, b, equal_nan=True), column


def test_a_sample_collected_in_slices_holds_the_same_rows(spark, data, tmp_path):
    # A province's sample is collected a slice at a time (the driver holds one slice);
    # here slices of 1,000 rows cut the orders into many, and some tables into one.
    from features.engines.spark_session import read_spark_tables
    from training.sample_spark import write_sample

    tables = read_spark_tables(spark, str(data))
    whole = write_sample(tables, tmp_path / "whole", 400, seed=1)
    sliced = write_sample(tables, tmp_path / "sliced", 400, seed=1, slice_rows=1_000)
    assert sliced == whole and whole.orders > 5 * 1_000
    for name in tables:
        a = pd.read_parquet(tmp_path / "whole" / f"{name}.parquet")
        b = pd.read_parquet(tmp_path / "sliced" / f"{name}.parquet")
        assert list(b.columns) == list(a.columns) and list(b.dtypes) == list(a.dtypes), name
        key = list(a.columns)
        a = a.sort_values(key, ignore_index=True)
        b = b.sort_values(key, ignore_index=True)
        pd.testing.assert_frame_equal(b, a, obj=name)

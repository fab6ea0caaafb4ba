"""`score churn --engine spark` writes the pandas engine's scores, reasons included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from fieldcoach.cli import app
from fieldcoach.registry import CHAMPION
from fieldcoach.settings import Settings, get_settings
from simulator import SimulationConfig, Territory, export_dataset
from training.churn import ChurnConfig
from training.churn_run import run_churn_training
from training.promotion import PromotionRule

pytestmark = [pytest.mark.spark, pytest.mark.slow]
AS_OF = "2025-12-29"  # the Monday after the data


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 2,000-retailer territory (104 weeks) with a registered churn champion."""
    home = tmp_path_factory.mktemp("score-spark") / "home"
    data = home / "data"
    territory = Territory.create(SimulationConfig(n_retailers=2000, n_managers=10, seed=7))
    export_dataset(territory.run(104), data)
    # The store is named outright on both sides (here and for the CLI below), so no
    # tracking URI another test left in the process can send them to different stores.
    store = f"sqlite:///{(home / 'mlflow.db').resolve()}"
    settings = Settings(home=home, mlflow_tracking_uri=store)
    # A LightGBM champion, whose reasons come from contributions: on this territory the
    # recency rule can win on Brier and be registered instead, with fewer reasons to compare.
    lightgbm_rule = PromotionRule(metric="brier", lower_is_better=True, must_beat="none")
    run_churn_training(
        data, ChurnConfig(tune=False), settings, None, lightgbm_rule, log=lambda *_: None
    )
    uri = settings.resolved_tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if CHAMPION not in client.get_registered_model("retailer-churn").aliases:
        client.set_registered_model_alias("retailer-churn", CHAMPION, "1")
    return home, data


def test_spark_scores_equal_pandas_scores(spark, trained, monkeypatch, tmp_path):
    home, data = trained
    monkeypatch.setenv("FIELDCOACH_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{(home / 'mlflow.db').resolve()}")
    get_settings.cache_clear()
    runner = CliRunner()
    csv, parquet = tmp_path / "scores.csv", tmp_path / "scores.parquet"
    base = ["score", "churn", "--data", str(data), "--as-of", AS_OF]
    done = runner.invoke(app, [*base, "--out", str(csv)])
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, [*base, "--out", str(parquet), "--engine", "spark"])
    get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    assert (parquet / f"as_of={AS_OF}").is_dir(), "scores are partitioned by as_of"

    want = pd.read_csv(csv, encoding="utf-8-sig")
    got = pd.read_parquet(parquet)
    assert set(got.columns) == set(want.columns)
    assert len(want) > 1500
    want = want.sort_values("retailer_id", ignore_index=True)
    got = got.sort_values("retailer_id", ignore_index=True)[list(want.columns)]
    assert (got["retailer_id"] == want["retailer_id"]).all()
    assert (got["as_of"].astype(str) == want["as_of"].astype(str)).all()
    for column in ("churn_probability", "value_at_risk", "expected_value_lost"):
        diff = np.abs(got[column].to_numpy(float) - want[column].to_numpy(float)).max()
        assert diff <= 1e-9, f"{column}: max abs diff {diff}"
    for column in ("manager_id", "reasons", "reasons_zh", "reasons_en", "model_uri"):
        assert (got[column].fillna("") == want[column].fillna("")).all(), column
    assert got["reasons_zh"].str.len().gt(0).mean() > 0.5, "reasons are written"

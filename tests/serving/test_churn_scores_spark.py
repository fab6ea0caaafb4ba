"""`score churn --engine spark` writes the pandas engine's scores, reasons included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fieldcoach.cli import app
from fieldcoach.settings import get_settings

from ..conftest import copy_home

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def trained(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the session's trained home (600 retailers, a LightGBM churn champion, whose
    reasons come from contributions) and its data folder."""
    home = tmp_path_factory.mktemp("score-spark") / "home"
    copy_home(trained_home, home)
    return home, home / "data"


def _monday_after(data: Path) -> str:
    last = pd.to_datetime(pd.read_parquet(data / "orders.parquet")["order_date"]).max()
    return str((last + pd.Timedelta(days=7 - last.weekday())).date())


def test_spark_scores_equal_pandas_scores(spark, trained, monkeypatch, tmp_path):
    home, data = trained
    as_of = _monday_after(data)  # as the demo scores: the Monday after the data
    monkeypatch.setenv("FIELDCOACH_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{(home / 'mlflow.db').resolve()}")
    get_settings.cache_clear()
    runner = CliRunner()
    csv, parquet = tmp_path / "scores.csv", tmp_path / "scores.parquet"
    base = ["score", "churn", "--data", str(data), "--as-of", as_of]
    done = runner.invoke(app, [*base, "--out", str(csv)])
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, [*base, "--out", str(parquet), "--engine", "spark"])
    get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    assert (parquet / f"as_of={as_of}").is_dir(), "scores are partitioned by as_of"

    want = pd.read_csv(csv, encoding="utf-8-sig")
    got = pd.read_parquet(parquet)
    assert set(got.columns) == set(want.columns)
    retailers = len(pd.read_parquet(data / "retailers.parquet"))
    assert len(want) > 0.75 * retailers, (len(want), retailers)  # nearly everyone is scored
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

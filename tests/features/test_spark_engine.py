"""The Spark engine computes the pandas engine's retailer features: same rows, same values.

Known answer: the pandas engine (``features.retailer``), held by its own tests. The
equality bar is on a simulated 2,000-retailer territory through ``features build``; the
point-in-time property is checked on Spark as on pandas.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.contract import SKILLS
from features.errors import UserInputError
from features.retailer import CATEGORICAL, build_retailer_features
from features.validate import load_dataset
from fieldcoach.cli import app
from fieldcoach.settings import get_settings
from simulator import SimulationConfig, Territory, export_dataset

pytestmark = [pytest.mark.spark, pytest.mark.slow]
KEY = ["as_of", "retailer_id"]
DATES = ("2025-11-19", "2025-06-07")  # a Wednesday and a Saturday
DATE_COLUMNS = {
    "orders": "order_date",
    "visits": "visit_date",
    "complaints": "complained_on",
    "surveys": "surveyed_on",
    "assessments": "assessed_on",
}


def assert_same_features(want: pd.DataFrame, got: pd.DataFrame, tolerance: float = 1e-9) -> None:
    """Same columns, same (as_of, retailer_id) rows, every value within ``tolerance``."""
    assert list(got.columns) == list(want.columns)
    want = want.sort_values(KEY, ignore_index=True)
    got = got.sort_values(KEY, ignore_index=True)
    assert len(got) == len(want)
    assert (pd.to_datetime(got["as_of"]) == pd.to_datetime(want["as_of"])).all()
    assert (got["retailer_id"].astype(str) == want["retailer_id"].astype(str)).all()
    for column in want.columns:
        if column in KEY:
            continue
        a, b = want[column], got[column]
        if column in CATEGORICAL or not pd.api.types.is_numeric_dtype(a):
            left = a.astype(object).where(a.notna(), None).tolist()
            right = b.astype(object).where(b.notna(), None).tolist()
            assert left == right, column
            continue
        x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
        assert (np.isnan(x) == np.isnan(y)).all(), f"{column}: missing values differ"
        assert (np.isinf(x) == np.isinf(y)).all(), f"{column}: infinities differ"
        finite = np.isfinite(x)
        diff = np.abs(x[finite] - y[finite]).max() if finite.any() else 0.0
        assert diff <= tolerance, f"{column}: max abs diff {diff}"


@pytest.fixture(scope="module")
def territory_2000(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spark-2000") / "data"
    territory = Territory.create(SimulationConfig(n_retailers=2000, n_managers=10, seed=7))
    export_dataset(territory.run(104), out)  # 2024-01-01 .. 2025-12-28
    return out


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FIELDCOACH_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def test_features_build_spark_equals_pandas_on_2000_retailers(spark, territory_2000, home):
    out = home / "features.parquet"
    args = ["features", "build", "--data", str(territory_2000), "--out", str(out)]
    for date in DATES:
        args += ["--as-of", date]
    result = CliRunner().invoke(app, [*args, "--engine", "spark"])
    assert result.exit_code == 0, result.output
    got = pd.read_parquet(out)
    tables = load_dataset(territory_2000).tables
    want, _, snapshots = build_retailer_features(tables, list(DATES), 8)
    assert len(want) > 3000
    assert_same_features(want, got[list(want.columns)])
    assert set(got.columns) == set(want.columns)
    for snapshot in snapshots:
        assert f"{snapshot.as_of.date()}: {len(snapshot.frame):,} retailers at risk" in (
            result.output
        )


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spark-small") / "data"
    territory = Territory.create(SimulationConfig(n_retailers=300, n_managers=4, seed=3))
    export_dataset(territory.run(60), out)  # 2024-01-01 .. 2025-02-23
    return out


def _spark_features(spark, tables: dict[str, pd.DataFrame], dates, buckets=3) -> pd.DataFrame:
    from features.engines.spark import build_retailer_features_spark, features_to_pandas

    frames = {name: spark.createDataFrame(frame) for name, frame in tables.items()}
    result = build_retailer_features_spark(frames, dates, 8, buckets=buckets)
    try:
        return features_to_pandas(result.frame)
    finally:
        result.release()


def _mutate_future(tables, t: pd.Timestamp, rng: np.random.Generator) -> dict:
    """Delete, re-date, re-value and add records on or after ``t``; nothing before it."""
    out = dict(tables)
    ids = tables["orders"]["retailer_id"].unique()
    for name, column in DATE_COLUMNS.items():
        table = tables[name]
        future = (table[column] >= t).to_numpy()
        table = table.loc[~future | (rng.random(len(table)) < 0.5)].reset_index(drop=True)
        added = table.sample(n=200, replace=True, random_state=int(rng.integers(1 << 31)))
        added = added.reset_index(drop=True)
        added[column] = t + pd.to_timedelta(rng.integers(0, 60, len(added)), unit="D")
        if "retailer_id" in added:
            added["retailer_id"] = rng.choice(ids, len(added))
        if name == "orders":
            added["amount"] = rng.uniform(0, 50_000, len(added)).round(2)
        out[name] = pd.concat([table, added], ignore_index=True)
    return out


def _dated_record_tables(folder) -> dict[str, pd.DataFrame]:
    # courses and trainings feed no retailer feature, so the point-in-time tests leave them out.
    return {
        name: frame
        for name, frame in load_dataset(folder).tables.items()
        if name not in ("courses", "trainings")
    }


def test_spark_features_ignore_records_on_or_after_the_as_of_date(spark, small):
    tables = _dated_record_tables(small)
    as_of = pd.Timestamp("2024-11-20")
    base = _spark_features(spark, tables, [as_of])
    future = _mutate_future(tables, as_of, np.random.default_rng(1))
    changed = _spark_features(spark, future, [as_of])
    assert len(base) > 200
    assert_same_features(base, changed, tolerance=0.0)
    # And both equal the pandas engine (buckets of several managers, orders-only bucket keys).
    want, _, _ = build_retailer_features(tables, [as_of], 8)
    assert_same_features(want, base)


def test_orders_only_and_partitioned_parquet_and_csv(spark, small, tmp_path):
    from features.engines.spark import build_retailer_features_spark, features_to_pandas
    from features.engines.spark_session import read_spark_tables

    orders = pd.read_parquet(small / "orders.parquet")
    folder = tmp_path / "data"
    (folder / "orders").mkdir(parents=True)
    orders["month"] = pd.to_datetime(orders["order_date"]).dt.strftime("%Y-%m")
    orders.to_parquet(folder / "orders", partition_cols=["month"])  # orders/month=2024-01/...
    result = build_retailer_features_spark(read_spark_tables(spark, str(folder)), ["2024-11-20"])
    got = features_to_pandas(result.frame)
    assert "retailer attributes" in result.disabled
    want, _, _ = build_retailer_features(load_dataset(small, ["orders"]).tables, ["2024-11-20"])
    assert_same_features(want, got)
    result.release()

    # The same table as text (CSV): typed by the contract, a bad cell is one clear error.
    orders = orders.drop(columns="month").astype(str)
    orders.loc[5, "amount"] = "twelve"
    csv = tmp_path / "csv"
    csv.mkdir()
    orders.to_csv(csv / "orders.csv", index=False)
    with pytest.raises(UserInputError, match=r"orders.csv: column amount: 1 value\(s\) .*twelve"):
        read_spark_tables(spark, str(csv))


def test_spark_features_change_with_the_day_before_and_not_with_the_day_itself(spark, small):
    """The boundary of point in time, for every dated table the engine reads: records dated
    exactly ``t`` are unseen, the same records dated ``t - 1 day`` are seen (each table
    moves a feature of its own, so the property above is not vacuous for any of them)."""
    tables = _dated_record_tables(small)
    assert set(DATE_COLUMNS) <= set(tables)
    as_of = pd.Timestamp("2024-11-20")
    base = _spark_features(spark, tables, [as_of])
    # Values no record of the simulated territory has, so a seen record shows.
    new_values = {
        "orders": {"amount": 40_000.0},
        "surveys": {"satisfaction": 1},
        "assessments": {"score": 0.5},
    }

    def with_rows_on(day: pd.Timestamp) -> dict[str, pd.DataFrame]:
        out = dict(tables)
        for name, column in DATE_COLUMNS.items():
            n = min(50, len(tables[name]))
            added = tables[name].sample(n=n, random_state=5).assign(**{column: day})
            added = added.assign(**new_values.get(name, {}))
            out[name] = pd.concat([tables[name], added], ignore_index=True)
        return out

    on_t = _spark_features(spark, with_rows_on(as_of), [as_of])
    assert_same_features(base, on_t, tolerance=0.0)
    before = with_rows_on(as_of - pd.Timedelta(days=1))
    seen = _spark_features(spark, before, [as_of])
    m = base.merge(seen, on=KEY, suffixes=("", "_seen"))
    assert (m["value_13w_seen"] > m["value_13w"] + 1).sum() >= 30
    assert (m["days_since_last_visit_seen"] < m["days_since_last_visit"]).sum() >= 30
    assert (m["complaints_13w_seen"] > m["complaints_13w"]).sum() >= 30
    assert (m["latest_satisfaction_seen"] < m["latest_satisfaction"]).sum() >= 30
    skills = [f"manager_{skill}" for skill in SKILLS]
    assert (m[[f"{c}_seen" for c in skills]].to_numpy() == 0.5).any()
    assert not (m[skills].to_numpy() == 0.5).any()
    want, _, _ = build_retailer_features(before, [as_of], 8)
    assert_same_features(want, seen)

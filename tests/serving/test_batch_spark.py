"""`plan batch --engine spark` stores the plans the pandas batch stores, for every manager."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fieldcoach.cli import app
from fieldcoach.settings import get_settings
from serving.db import PrecomputedPlan, make_engine, record_feedback, session_factory
from serving.feedback_export import export_feedback

from ..conftest import copy_home
from .conftest import precompute_plans_from, settings_for

pytestmark = [pytest.mark.spark, pytest.mark.slow]
# Plans stop after a fixed number of solutions; the cap only guards against a stuck solver,
# and a loaded test machine must not reach it in one run and not in the other.
TIME_LIMIT = "120"


def _stored(url: str) -> dict[tuple[str, str, str], tuple]:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        rows = {
            (p.manager_id, p.week, p.language): (p.team_id, p.models, p.body)
            for p in session.query(PrecomputedPlan)
        }
    engine.dispose()
    return rows


def _feedback(url: str, retailer_id: str, manager_id: str, week: str, done_on: str) -> None:
    """The same stored feedback in each database: a rejection and a visit reported done."""
    engine = make_engine(url)
    session_factory(engine)().close()  # creates the tables
    with session_factory(engine)() as session:
        record_feedback(
            session,
            "decision",
            "k-reject-1",
            manager_id,
            {"retailer_id": retailer_id, "week": week, "decision": "reject", "reason": "店主不在"},
        )
        record_feedback(
            session,
            "outcome",
            "k-done-1",
            manager_id,
            {"retailer_id": retailer_id, "visit_date": done_on, "done": True},
        )
    engine.dispose()


def test_spark_batch_stores_the_pandas_batch_plans(spark, home, monkeypatch):
    data = home / "data"
    orders = pd.read_parquet(data / "orders.parquet")
    last = pd.to_datetime(orders["order_date"]).max()
    monday = last + pd.Timedelta(days=7 - last.weekday())
    week = f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}"
    # A company day off in the week (the calendar reaches every worker) and a manager with
    # no retailer and no home (their base is the company's medoid, their plan empty).
    pd.DataFrame(
        {"date": [str((monday + pd.Timedelta(days=1)).date())], "working": [0], "name": ["盘点"]}
    ).to_csv(data / "working_days.csv", index=False)
    managers = pd.read_parquet(data / "managers.parquet")
    extra = managers.iloc[:1].assign(manager_id="M9999", home_lat=None, home_lon=None)
    pd.concat([managers, extra], ignore_index=True).to_parquet(data / "managers.parquet")
    retailers = pd.read_parquet(data / "retailers.parquet")
    first = retailers.iloc[0]
    databases = {e: f"sqlite:///{(home / f'{e}.db').resolve()}" for e in ("pandas", "spark")}
    for url in databases.values():
        _feedback(url, first["retailer_id"], first["manager_id"], week, str(last.date()))
    # The done visit exported to what the service learnt (_feedback/), which both read.
    engine = make_engine(databases["pandas"])
    with session_factory(engine)() as session:
        assert export_feedback(session, data)["visits"] == 1
    engine.dispose()
    assert (data / "_feedback" / "visits.parquet").exists()

    want = precompute_plans_from(
        settings_for(home, database_url=databases["pandas"]),
        time_limit_s=float(TIME_LIMIT),
        log=lambda *_: None,
    )
    monkeypatch.setenv("FIELDCOACH_HOME", str(home))
    monkeypatch.setenv("FIELDCOACH_DATABASE_URL", databases["spark"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{(home / 'mlflow.db').resolve()}")
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(
            app, ["plan", "batch", "--engine", "spark", "--time-limit", TIME_LIMIT]
        )
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    assert f"stored plans for {want['managers']} managers, week {want['week']}" in done.output

    pandas_plans, spark_plans = _stored(databases["pandas"]), _stored(databases["spark"])
    assert want["managers"] == len(managers) + 1
    assert len(pandas_plans) == 2 * want["managers"]
    assert spark_plans.keys() == pandas_plans.keys()
    for key, (team, models, body) in pandas_plans.items():
        assert spark_plans[key][:2] == (team, models), key
        assert json.loads(spark_plans[key][2]) == json.loads(body), key
        assert spark_plans[key][2] == body, key
    plans = {k: json.loads(v[2]) for k, v in pandas_plans.items()}
    empty = plans[("M9999", want["week"], "en")]
    assert empty["visits"] == [] and empty["base"] is not None
    busy = plans[(first["manager_id"], want["week"], "en")]
    assert len(busy["visits"]) > 10
    assert str((monday + pd.Timedelta(days=1)).date()) not in busy["working_dates"]
    assert first["retailer_id"] not in {v["retailer_id"] for v in busy["visits"]}


def test_spark_plans_for_a_week_ignore_records_dated_in_it(spark, trained_home, tmp_path):
    """Point in time for plans: the week holding the data's last day, planned on Spark, is
    the same when its own orders and visits are deleted, rewritten or added to, and differs
    when the week before it changes."""
    from features.engines.spark_session import read_spark_tables
    from serving.batch import start_champions
    from serving.batch_spark import precompute_plans_spark

    home = tmp_path / "home"
    copy_home(trained_home, home)
    base = home / "data"
    orders = pd.read_parquet(base / "orders.parquet")
    last = pd.to_datetime(orders["order_date"]).max()
    monday = (last - pd.Timedelta(days=last.weekday())).normalize()
    week = f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}"
    rng = np.random.default_rng(4)

    def variant(name: str, change) -> Path:
        folder = home / name
        shutil.copytree(base, folder)
        for table, column in (("orders", "order_date"), ("visits", "visit_date")):
            frame = pd.read_parquet(base / f"{table}.parquet")
            change(table, column, frame).to_parquet(folder / f"{table}.parquet", index=False)
        return folder

    def future(table, column, frame):
        dates = pd.to_datetime(frame[column])
        inside = (dates >= monday).to_numpy()
        frame = frame.loc[~inside | (rng.random(len(frame)) < 0.5)].reset_index(drop=True)
        added = frame.sample(n=100, replace=True, random_state=1).reset_index(drop=True)
        days = rng.integers(0, (last - monday).days + 1, len(added))
        added[column] = (monday + pd.to_timedelta(days, unit="D")).astype(frame[column].dtype)
        if table == "orders":
            added["amount"] = rng.uniform(0, 50_000, len(added)).round(2)
            kept = pd.to_datetime(frame[column]) >= monday
            frame.loc[kept, "amount"] = rng.uniform(0, 50_000, int(kept.sum())).round(2)
        return pd.concat([frame, added], ignore_index=True)

    def past(table, column, frame):
        if table == "orders":
            dates = pd.to_datetime(frame[column])
            week_before = ((dates >= monday - pd.Timedelta(days=7)) & (dates < monday)).to_numpy()
            frame.loc[week_before, "amount"] = frame.loc[week_before, "amount"] * 3
        return frame

    def plans(folder: Path) -> dict[tuple[str, str], str]:
        url = f"sqlite:///{(home / f'{folder.name}.db').resolve()}"
        settings = settings_for(home, database_url=url, data_dir=folder)
        tables = read_spark_tables(spark, str(folder), positions=True)
        store = start_champions(settings, log=lambda *_: None)
        precompute_plans_spark(
            tables, store, settings, spark, week, float(TIME_LIMIT), log=lambda *_: None
        )
        return {(m, lang): body for (m, _, lang), (_, _, body) in _stored(url).items()}

    want = plans(base)
    assert len(want) >= 10 and all(json.loads(b)["visits"] for b in want.values())
    assert plans(variant("future", future)) == want
    assert plans(variant("past", past)) != want

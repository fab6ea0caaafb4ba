"""``plan batch --engine spark``: every manager's week planned in parallel on Spark, stored
where the API reads the pandas batch's plans.

The week is prepared by the planner's own steps (``planning.week``), split where the data
splits:

1. per bucket of whole managers (``features.engines.spark``), ``score_week``: each retailer
   at risk, its churn risk and visit effect, from its own records; each bucket sends back
   only the columns the company-wide figures read;
2. on the driver, ``WeekFigures`` of those columns: the high-value line, median brands per
   order by format, the mean visit effect (order-independent, exactly rounded);
3. per manager (``applyInPandas`` on that manager's rows of every table): ``score_week``
   again, ``finish_week`` with the company's figures, then ``plan_manager_languages`` with
   the manager's stored feedback, as ``serving.batch.store_week_plans`` does;
4. the driver streams the plans into the service database (``save_plan``), tagged with the
   serving champions' versions, so the API serves them as it serves the pandas batch's.

The champions are those ``ModelStore`` loads for the API; their exported copies are shipped
to the workers with ``addFile`` and loaded once per worker process. The planner routes a
manager's retailers in the order the pandas engine meets them (their first order row), so
orders carry their file position (``ROW_POSITION``) and each manager's rows are put back in
that order.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
import pandas as pd
from sqlalchemy import select

from features.calendar import WorkingCalendar
from features.engines.spark import default_buckets, map_buckets, pack_tables, spark_history
from features.engines.spark_session import ROW_POSITION
from features.errors import UserInputError
from features.i18n import Note
from features.retailer import prepare_history
from fieldcoach.champions import CHURN, EFFECT, ModelStore
from fieldcoach.settings import Settings
from planning.explore import Exploration
from planning.feedback import build_feedback
from planning.plan import manager_ids, plan_manager_languages
from planning.week import (
    Models,
    PlanContext,
    Ranking,
    ScoredWeek,
    WeekFigures,
    default_week,
    finish_week,
    ranked_by_rule,
    score_week,
    week_dates,
)
from serving.db import Feedback, make_engine, save_plan, session_factory
from serving.served_territory import LANGUAGES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

HORIZON_WEEKS = (
    8  # the horizon ``serving.served_territory.ServedTerritory.context`` prepares weeks with
)
FIGURE_COLUMNS = (
    "format string, baseline_weekly_value double, brands_per_order_26w double, effect double"
)
PLAN_COLUMNS = "manager_id string, language string, body string, problem string"
COMPANY_BASE_ID = "~company-base"  # rows standing in for the company's retailers (see below)
_LOADED: dict[str, Any] = {}  # champions loaded by this worker process, by shipped path


@dataclass(frozen=True)
class WeekSetup:
    """What every task needs to prepare the week as the pandas batch does (pickled)."""

    monday: pd.Timestamp
    as_of: pd.Timestamp
    first_day: int
    last_day: int
    notes: tuple[Note | str, ...]
    ranking: Ranking | None
    churn: str | None  # file name of the shipped champion, None when none serves
    effect: str | None
    time_limit_s: float
    working_days: pd.DataFrame | None
    has_format: bool
    exploration: Exploration | None = None  # seeded by (manager, week): the same draws
    # The company's located retailers as ``planning.plan._base_of`` samples them, for a
    # manager with none of their own (their base is the company's medoid).
    company_base: pd.DataFrame | None = None

    def models(self) -> Models:
        return Models(
            churn=_worker_model(self.churn),
            effect=_worker_model(self.effect),
            notes=list(self.notes),
            ranking=self.ranking,
        )

    def history(self, tables: dict[str, pd.DataFrame]):
        """The part's history, dated as the whole data (the thin-history rule reads it)."""
        history = prepare_history(tables)
        history.first_day, history.last_day = self.first_day, self.last_day
        return history


def _worker_model(shipped: str | None) -> Any:
    if shipped is None:
        return None
    from pyspark import SparkFiles

    path = SparkFiles.get(shipped)
    if path not in _LOADED:
        _LOADED[path] = mlflow.pyfunc.load_model(path)
    return _LOADED[path]


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name in frame:
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    return np.full(len(frame), np.nan)


def figure_columns(setup: WeekSetup, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Step 1 for one bucket: what ``WeekFigures`` reads of its retailers at risk."""
    if tables["orders"].empty:
        return pd.DataFrame({c.split()[0]: [] for c in FIGURE_COLUMNS.split(", ")})
    scored = score_week(setup.history(tables), setup.as_of, setup.models(), HORIZON_WEEKS, [])
    frame, n = scored.frame, len(scored.frame)
    return pd.DataFrame(
        {
            "format": frame["format"].astype(str).astype(object) if setup.has_format else None,
            "baseline_weekly_value": _column(frame, "baseline_weekly_value"),
            "brands_per_order_26w": _column(frame, "brands_per_order_26w"),
            "effect": np.full(n, np.nan) if scored.effect is None else scored.effect,
        },
        index=pd.RangeIndex(n),
    )


def figures_of(columns: pd.DataFrame, has_format: bool) -> WeekFigures:
    """Step 2: the company's figures from every bucket's columns (as ``WeekFigures.of``)."""
    frame = columns if has_format else columns.drop(columns="format")
    effect = columns["effect"].to_numpy(float)
    scored = ScoredWeek(frame, pd.Timestamp(0), False, effect if len(effect) else None)
    return WeekFigures.of(scored)


def manager_plans(
    setup: WeekSetup,
    figures: WeekFigures,
    feedback: dict[str, tuple[list, list]],
    manager_id: str,
    tables: dict[str, pd.DataFrame],
) -> pd.DataFrame:
    """Step 3 for one manager: the plan in every language, as the pandas batch stores it."""
    try:
        context = _manager_context(setup, figures, manager_id, tables)
        decisions, outcomes = feedback.get(manager_id, ([], []))
        plans = plan_manager_languages(
            context,
            manager_id,
            LANGUAGES,
            time_limit_s=setup.time_limit_s,
            feedback=build_feedback(decisions, outcomes),
            exploration=setup.exploration,
        )
    except Exception as exc:  # one manager's failure is reported, as in the pandas batch
        return pd.DataFrame(
            {"manager_id": [manager_id], "language": [None], "body": [None], "problem": [str(exc)]}
        )
    bodies = [
        json.dumps({**plans[language], "source": "precomputed"}, ensure_ascii=False)
        for language in LANGUAGES
    ]
    return pd.DataFrame(
        {
            "manager_id": [manager_id] * len(LANGUAGES),
            "language": list(LANGUAGES),
            "body": bodies,
            "problem": [None] * len(LANGUAGES),
        }
    )


def _manager_context(
    setup: WeekSetup, figures: WeekFigures, manager_id: str, tables: dict[str, pd.DataFrame]
) -> PlanContext:
    history = setup.history(tables)
    models = setup.models()
    notes = list(models.notes)
    scored = score_week(history, setup.as_of, models, HORIZON_WEEKS, notes)
    if scored.frame.empty:
        # No retailer of this manager at risk: the plan is empty, but its notes and the
        # frame's columns are those of any other part of the week; a made-up retailer
        # gives both (``Packing.template_tables`` does the same for the features).
        scored, notes, history = _template_week(setup, models, tables)
    finish_week(scored, history, models, figures, HORIZON_WEEKS, notes)
    planning_tables = {**tables, "working_days": setup.working_days}
    own = tables["retailers"]
    own = own[own["manager_id"] == manager_id].dropna(subset=["lat", "lon"])
    if own.empty and setup.company_base is not None:
        # ``_base_of`` falls back to the company's retailers; these rows are exactly those
        # it would measure (they hold no candidate: no feature row points at them).
        planning_tables["retailers"] = pd.concat(
            [tables["retailers"], setup.company_base], ignore_index=True
        )
    calendar = WorkingCalendar(setup.working_days)
    ranked = ranked_by_rule(models, scored.thin)
    return PlanContext(
        planning_tables,
        history,
        setup.monday,
        scored.frame,
        notes,
        HORIZON_WEEKS,
        calendar,
        ranked,
    )


def _template_week(setup: WeekSetup, models: Models, tables: dict[str, pd.DataFrame]):
    template = {name: frame.iloc[:0] for name, frame in tables.items()}
    day = pd.Timestamp(setup.as_of) - pd.Timedelta(days=1)
    template["orders"] = _one_row(tables["orders"], day)
    if "retailers" in tables:
        template["retailers"] = _one_row(tables["retailers"], day)
    history = setup.history(template)
    notes = list(models.notes)
    scored = score_week(history, setup.as_of, models, HORIZON_WEEKS, notes)
    scored.frame = scored.frame.iloc[:0]
    if scored.effect is not None:
        scored.effect = scored.effect[:0]
    return scored, notes, history


def _one_row(frame: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """One made-up row shaped like ``frame``: id '~template', dated ``day``, numbers 1."""
    row = {}
    for column, dtype in frame.dtypes.items():
        if column in ("retailer_id", "manager_id"):
            row[column] = pd.Series(["~template"], dtype=dtype)
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            # A licence that expired the day before would leave the retailer out.
            when = day + pd.Timedelta(days=3650) if "expires" in column else day
            row[column] = pd.Series([when]).astype(dtype)
        elif pd.api.types.is_numeric_dtype(dtype):
            row[column] = pd.Series([1]).astype(dtype)
        else:
            row[column] = pd.Series([None], dtype=dtype)
    return pd.DataFrame(row)


def feedback_payloads(session) -> dict[str, tuple[list, list]]:
    """Each manager's stored decisions and outcomes, in the order ``plan_feedback`` reads."""
    rows = session.scalars(
        select(Feedback).where(Feedback.kind.in_(("decision", "outcome"))).order_by(Feedback.id)
    )
    out: dict[str, tuple[list, list]] = {}
    for row in rows:
        decisions, outcomes = out.setdefault(row.manager_id, ([], []))
        (decisions if row.kind == "decision" else outcomes).append(row.payload)
    return out


def _ship(spark: SparkSession, store: ModelStore, name: str) -> str | None:
    """The serving champion's exported copy, sent to every worker; its file name there."""
    if store.get(name) is None:
        return None
    shipped = f"{name}-{uuid.uuid4().hex[:8]}"
    local = Path(tempfile.mkdtemp(prefix="fieldcoach-plan-")) / shipped
    shutil.copytree(store.models_dir / name / "model", local)
    spark.sparkContext.addFile(str(local), recursive=True)
    return shipped


def _company_base(tables: dict[str, DataFrame]) -> pd.DataFrame | None:
    """The located retailers ``_base_of`` samples for a manager with none of their own, or
    None when every manager has some."""
    from pyspark.sql import functions as F

    retailers = tables["retailers"]
    located = retailers.filter(F.col("lat").isNotNull() & F.col("lon").isNotNull())
    everyone = retailers.select("manager_id").dropna()
    if "managers" in tables:
        everyone = everyone.union(tables["managers"].select("manager_id"))
    lacking = everyone.distinct().subtract(located.select("manager_id").distinct())
    if lacking.first() is None:
        return None
    order = [c for c in ROW_POSITION if c in retailers.columns] or ["retailer_id"]
    rows = located.orderBy(*order).select("lat", "lon").toPandas()
    lat, lon = rows["lat"].to_numpy(float), rows["lon"].to_numpy(float)
    if len(lat) > 2000:  # the sample ``_base_of`` draws, so it finds the same medoid
        keep = np.random.default_rng(0).choice(len(lat), 2000, replace=False)
        lat, lon = lat[keep], lon[keep]
    ids = [f"{COMPANY_BASE_ID}-{k}" for k in range(len(lat))]
    return pd.DataFrame({"retailer_id": ids, "manager_id": None, "lat": lat, "lon": lon})


def _small_table(tables: dict[str, DataFrame], name: str) -> pd.DataFrame | None:
    """A small table (working days, managers) on the driver, dates as pandas dates."""
    if name not in tables:
        return None
    frame = tables[name].toPandas()
    for column, kind in tables[name].dtypes:
        if kind == "date":
            frame[column] = pd.to_datetime(frame[column])
    return frame


def _teams(tables: dict[str, DataFrame]) -> dict[str, str | None]:
    """Each manager's team, as ``serving.served_territory.ServedTerritory`` reads it."""
    managers = _small_table(tables, "managers")
    if managers is None or "team_id" not in managers:
        return {}
    return {
        m: (None if pd.isna(t) else t)
        for m, t in zip(managers["manager_id"], managers["team_id"], strict=True)
    }


def plan_week_spark(
    spark: SparkSession,
    tables: dict[str, DataFrame],
    store: ModelStore,
    week: str | None,
    time_limit_s: float,
    feedback: dict[str, tuple[list, list]],
    buckets: int | None = None,
    exploration: Exploration | None = None,
) -> tuple[str, DataFrame]:
    """Steps 1-3: the week and a Spark frame of every manager's plans (``PLAN_COLUMNS``)."""
    packed, packing = pack_tables(tables, buckets or default_buckets(tables))
    whole = spark_history(tables, packing)
    week = week or default_week(whole)
    monday, as_of = week_dates(whole, week)
    retailers = tables.get("retailers")
    served = Models.from_store(store)  # the notes and ranking the API's week would have
    setup = WeekSetup(
        monday=monday,
        as_of=as_of,
        first_day=whole.first_day,
        last_day=whole.last_day,
        notes=tuple(served.notes),
        ranking=served.ranking,
        churn=_ship(spark, store, CHURN),
        effect=_ship(spark, store, EFFECT),
        time_limit_s=time_limit_s,
        working_days=_small_table(tables, "working_days"),
        has_format=retailers is not None and "format" in retailers.columns,
        exploration=exploration,
    )
    columns = map_buckets(
        packed, packing, FIGURE_COLUMNS, lambda part: figure_columns(setup, part)
    ).toPandas()
    if columns.empty:
        raise UserInputError(f"no retailer at risk on {as_of.date()}")
    figures = figures_of(columns, setup.has_format)
    if retailers is not None and {"lat", "lon", "manager_id"} <= set(retailers.columns):
        setup = _with_company_base(setup, tables)
    per_manager, packing = pack_tables(tables, 1, per_manager=True)

    def plans_of(rows: pd.DataFrame) -> pd.DataFrame:
        manager_id = rows["_bucket"].iloc[0]
        if manager_id == "":  # retailers of no manager: nobody to plan for
            return pd.DataFrame({c: [] for c in ("manager_id", "language", "body", "problem")})
        # The order the pandas engine reads the orders in (see the module's docstring).
        rows = rows.sort_values(list(ROW_POSITION), kind="stable", na_position="last")
        part = packing.unpack(rows)
        if manager_id not in manager_ids(part):  # e.g. only in assessments: not planned
            return pd.DataFrame({c: [] for c in ("manager_id", "language", "body", "problem")})
        return manager_plans(setup, figures, feedback, manager_id, part)

    return week, per_manager.groupBy("_bucket").applyInPandas(plans_of, PLAN_COLUMNS)


def _with_company_base(setup: WeekSetup, tables: dict[str, DataFrame]) -> WeekSetup:
    return replace(setup, company_base=_company_base(tables))


def precompute_plans_spark(
    tables: dict[str, DataFrame],
    store: ModelStore,
    settings: Settings,
    spark: SparkSession,
    week: str | None = None,
    time_limit_s: float = 5.0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """``serving.batch.precompute_plans`` on Spark: same plans, same store, same tags.

    Args:
        tables: the company's tables as Spark reads them with their file positions
            (``read_spark_tables(..., positions=True)``: the planner's route order).
        store: the serving champions (``serving.batch.start_champions``).
    """
    engine = make_engine(settings.resolved_database_url)
    try:
        sessions = session_factory(engine)
        with sessions() as session:
            feedback = feedback_payloads(session)
        exploration = Exploration(settings.explore_share, settings.holdout_share)
        week, plans = plan_week_spark(
            spark, tables, store, week, time_limit_s, feedback, exploration=exploration
        )
        teams = _teams(tables)
        versions = store.versions_key()
        written: set[str] = set()
        with sessions() as session:
            for row in plans.toLocalIterator():
                if row["problem"] is not None:
                    log(f"  {row['manager_id']}: not planned ({row['problem']})")
                    continue
                save_plan(
                    session,
                    row["manager_id"],
                    teams.get(row["manager_id"]),
                    week,
                    row["language"],
                    row["body"],
                    versions,
                )
                written.add(row["manager_id"])
                session.commit()
    finally:
        engine.dispose()
    return {"week": week, "managers": len(written), "models": versions}

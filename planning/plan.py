"""A manager's next-best visits for a week: who, why, which day, in which order.

The expected benefit of visiting a retailer is the order value the visit is expected to
save: the registered ``visit-effect`` model's estimate (relative lift of the next H weeks'
value) times the retailer's usual value over those weeks. Where that model is missing (no
visits table, or not trained yet) the benefit falls back to churn probability x value at
risk x a fixed share, and with thin history to a recency rule; the plan says which.
Everything a plan needs comes from the data folder and registered models; this package
never imports ``training``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from features.calendar import to_days
from features.errors import UserInputError
from features.retailer import (
    RetailerHistory,
    model_input,
    prepare_history,
    retailer_snapshot,
)
from planning.optimise import PlanRules, WeekPlan, haversine_km, plan_week
from planning.purpose import choose_purposes, talking_point

EFFECT_SHRINK = 0.5  # weight of a retailer's own estimated effect against the average
FALLBACK_EFFECT_SHARE = 0.25  # share of value at risk a visit saves when no effect model exists
THIN_HISTORY_WEEKS = 26
MAX_WEEKS_AHEAD = 4


def parse_week(week: str) -> pd.Timestamp:
    """Monday of an ISO week written ``YYYY-Www`` (e.g. 2026-W01)."""
    try:
        year, number = week.upper().split("-W")
        if not 1900 <= int(year) <= 2199:  # pandas timestamps and the trading calendar
            raise ValueError(year)
        return pd.Timestamp(dt.date.fromisocalendar(int(year), int(number), 1))
    except (ValueError, AttributeError):
        raise UserInputError(
            f"--week {week!r}: write an ISO week as YYYY-Www, e.g. 2026-W01"
        ) from None


def week_of(day: int) -> str:
    year, number, _ = pd.Timestamp(day, unit="D").isocalendar()
    return f"{year}-W{number:02d}"


def default_week(history: RetailerHistory) -> str:
    """The week after the data's last day."""
    return week_of(history.last_day + 7 - pd.Timestamp(history.last_day, unit="D").weekday())


def plannable_days(history: RetailerHistory) -> tuple[int, int]:
    """Mondays (as day numbers) of the first and last week ``prepare_week`` will plan: the
    week of the data's last day up to ``MAX_WEEKS_AHEAD`` weeks after it."""
    last = history.last_day
    first_open = last + 7 - pd.Timestamp(last, unit="D").weekday()
    return first_open - 7, first_open + 7 * (MAX_WEEKS_AHEAD - 1)


@dataclass
class Models:
    """Registered champions the planner uses; any may be missing."""

    churn: Any = None
    effect: Any = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, tracking_uri: str | None) -> Models:
        models = cls()
        if tracking_uri:
            mlflow.set_tracking_uri(tracking_uri)
            mlflow.set_registry_uri(tracking_uri)
        for attr, name in (("churn", "retailer-churn"), ("effect", "visit-effect")):
            try:
                setattr(models, attr, mlflow.pyfunc.load_model(f"models:/{name}@champion"))
            except Exception:  # a missing model is a documented fallback, not an error
                models.notes.append(f"no registered {name} champion")
        return models


@dataclass
class PlanContext:
    """The data a week's plans are made from, prepared once for every manager."""

    tables: dict[str, pd.DataFrame]
    history: RetailerHistory
    week_start: pd.Timestamp
    features: pd.DataFrame
    notes: list[str]


def prepare_week(
    tables: dict[str, pd.DataFrame],
    week: str | None,
    models: Models,
    horizon_weeks: int = 8,
    history: RetailerHistory | None = None,
) -> PlanContext:
    """Features of every retailer at risk as of the week's Monday, with benefits and purposes."""
    history = history or prepare_history(tables)
    week = week or default_week(history)
    monday = parse_week(week)
    t = to_days(monday)
    last = history.last_day
    first_open = last + 7 - pd.Timestamp(last, unit="D").weekday()
    earliest, latest = plannable_days(history)
    if t < earliest:
        raise UserInputError(
            f"--week {week} is in the past: the data runs to "
            f"{pd.Timestamp(last, unit='D').date()}; plan {week_of(first_open)} or later"
        )
    if t > latest:
        raise UserInputError(
            f"--week {week} is more than {MAX_WEEKS_AHEAD} weeks after the data "
            f"(last day {pd.Timestamp(last, unit='D').date()}); plans need recent data"
        )
    as_of = pd.Timestamp(min(t, last + 1), unit="D")
    notes = list(models.notes)
    snapshot = retailer_snapshot(history, as_of, horizon_weeks)
    frame = snapshot.frame
    if frame.empty:
        raise UserInputError(f"no retailer at risk on {as_of.date()}")
    frame = frame.assign(
        value_at_risk=frame["baseline_weekly_value"].astype(float) * horizon_weeks
    )
    thin = (last - history.first_day) < 7 * THIN_HISTORY_WEEKS
    churn_p, reasons = _churn(frame, models, thin, notes)
    frame["churn_probability"] = churn_p
    frame["reasons"] = reasons
    frame["expected_benefit"] = _benefit(frame, models, thin, horizon_weeks, notes)
    frame["purpose"] = choose_purposes(frame)
    return PlanContext(tables, history, monday, frame, notes)


def _churn(frame, models: Models, thin: bool, notes: list[str]):
    if models.churn is not None and not thin:
        features = models.churn.metadata.get_input_schema().input_names()
        if set(features) <= set(frame.columns):
            predicted = models.churn.predict(model_input(frame, features))
            return (
                predicted["churn_probability"].to_numpy(),
                predicted["reasons"].map(json.loads).to_list(),
            )
        notes.append("the churn champion needs features this data lacks")
    # Without a usable model: the chance of not ordering rises with the weeks since the last.
    notes.append("churn risk from a recency rule (no usable churn model or thin history)")
    weeks = frame["days_since_last_order"].to_numpy(float) / 7
    return 1 - np.exp(-np.maximum(weeks - 1, 0) / 3), [[] for _ in range(len(frame))]


def saved_value(effect: np.ndarray, usual_value: np.ndarray) -> np.ndarray:
    """Yuan a visit is expected to save: the estimated relative lift times the usual value.

    Per-retailer effect estimates are noisy (they rank the true effects with a Spearman of
    0.2-0.35 on simulated territories), so each is shrunk halfway towards this week's
    average effect; in the policy evaluation this kept about a quarter more value than the
    raw estimates.
    """
    effect = np.asarray(effect, dtype=float)
    shrunk = EFFECT_SHRINK * effect + (1 - EFFECT_SHRINK) * np.nanmean(effect)
    return np.maximum(shrunk, 0) * np.nan_to_num(np.asarray(usual_value, dtype=float))


def _benefit(frame, models: Models, thin: bool, horizon: int, notes: list[str]) -> np.ndarray:
    if models.effect is not None and not thin:
        features = models.effect.metadata.get_input_schema().input_names()
        if set(features) <= set(frame.columns):
            effect = models.effect.predict(model_input(frame, features))["visit_effect"]
            usual = frame["baseline_weekly_value"].to_numpy(float) * horizon
            return saved_value(effect.to_numpy(float), usual)
        notes.append("the visit-effect champion needs features this data lacks")
    notes.append(
        f"expected benefit = churn probability x value at risk x {FALLBACK_EFFECT_SHARE} "
        "(no visit-effect model: the risk x value fallback)"
    )
    return frame["churn_probability"] * frame["value_at_risk"] * FALLBACK_EFFECT_SHARE


def _base_of(manager_id: str, tables, retailers: pd.DataFrame) -> tuple[float, float]:
    managers = tables.get("managers")
    if managers is not None and {"home_lat", "home_lon"} <= set(managers.columns):
        row = managers[managers["manager_id"] == manager_id]
        if len(row) and row[["home_lat", "home_lon"]].notna().all(axis=None):
            return float(row["home_lat"].iloc[0]), float(row["home_lon"].iloc[0])
    return float(retailers["lat"].median()), float(retailers["lon"].median())


def manager_capacity(tables, manager_id: str, default: int = 60) -> int:
    managers = tables.get("managers")
    if managers is not None and "weekly_capacity" in managers:
        row = managers.loc[managers["manager_id"] == manager_id, "weekly_capacity"]
        if len(row) and pd.notna(row.iloc[0]):
            return int(row.iloc[0])
    return default


def manager_ids(tables) -> set[str]:
    known = set()
    if "managers" in tables:
        known |= set(tables["managers"]["manager_id"])
    if "retailers" in tables and "manager_id" in tables["retailers"]:
        known |= set(tables["retailers"]["manager_id"].dropna())
    return known


def plan_manager(
    context: PlanContext,
    manager_id: str,
    capacity: int | None = None,
    days: int = 5,
    min_gap_days: int = 7,
    time_limit_s: float = 0.8,
    language: str = "en",
    max_days_between_visits: int | None = None,
) -> dict[str, Any]:
    """Plan one manager's week: the ranked visits and the day-by-day routes.

    ``max_days_between_visits`` is a visit-frequency rule (e.g. every retailer at least
    every 28 days): retailers that would pass it by the end of the week, or were never
    visited, become stops the optimiser must place when the week can hold them, whatever
    their expected benefit; they are marked ``due`` in the plan.
    """
    if max_days_between_visits is not None and max_days_between_visits < min_gap_days:
        raise UserInputError(
            f"--max-days-between-visits {max_days_between_visits} is shorter than "
            f"--min-gap-days {min_gap_days}: no plan can keep both"
        )
    tables = context.tables
    if manager_id not in manager_ids(tables):
        raise UserInputError(f"--manager {manager_id!r}: no such manager in the data")
    if "retailers" not in tables or not {"lat", "lon", "manager_id"} <= set(
        tables["retailers"].columns
    ):
        raise UserInputError("planning needs the retailers table with manager_id, lat and lon")
    rules = PlanRules(
        capacity=manager_capacity(tables, manager_id) if capacity is None else capacity,
        days=days,
        min_gap_days=min_gap_days,
        time_limit_s=time_limit_s,
    )
    frame = context.features
    mine = frame[frame["manager_id"] == manager_id].reset_index(drop=True)
    retailers = tables["retailers"].set_index("retailer_id")
    mine = mine.join(retailers[["lat", "lon"]], on="retailer_id")
    mine = mine[mine["lat"].notna() & mine["lon"].notna()].reset_index(drop=True)
    since = (
        mine["days_since_last_visit"].to_numpy(float)
        if "days_since_last_visit" in mine
        else np.full(len(mine), np.nan)  # no visits table: nobody was visited
    )
    # Days from the features' as-of date to the plan's Monday (0 for next week's plan).
    lead = to_days(context.week_start) - to_days(mine["as_of"].iloc[0]) if len(mine) else 0
    # The minimum gap: a retailer visited recently may only go on a later day.
    first_day = min_gap_days - since - lead
    earliest = np.where(np.isnan(first_day), 0, np.maximum(first_day, 0)).astype(int)
    benefit = mine["expected_benefit"].to_numpy(float)
    due = np.zeros(len(mine), dtype=bool)
    notes: list[str] = []
    if max_days_between_visits is not None:
        due = np.isnan(since) | (since + lead + days > max_days_between_visits)
        # A due stop still needs a value for the ranking; zero would hide it.
        benefit = np.where(due, np.maximum(benefit, 0.01), benefit)
        if due.sum() > rules.capacity:
            notes.append(
                f"{int(due.sum())} retailers are due under the "
                f"{max_days_between_visits}-day visit rule but the week holds "
                f"{rules.capacity} visits; the most valuable due ones are planned"
            )
    candidates = mine.assign(earliest_day=earliest, mandatory=due, expected_benefit=benefit)
    plan = plan_week(candidates, _base_of(manager_id, tables, retailers.reset_index()), rules)
    rendered = _render(context, manager_id, plan, rules, language)
    rendered["max_days_between_visits"] = max_days_between_visits
    rendered["notes"] = sorted(set(rendered["notes"]) | set(notes))
    return rendered


def _render(
    context: PlanContext, manager_id: str, plan: WeekPlan, rules: PlanRules, language: str
) -> dict[str, Any]:
    visits = plan.visits
    monday = context.week_start
    detour = _detour_km(visits)
    priority = visits["expected_benefit"].to_numpy(float) - detour * rules.cost_per_km
    rows = []
    for i, v in visits.assign(priority=priority).iterrows():
        reasons = v["reasons"] if isinstance(v["reasons"], list) else []
        rows.append(
            {
                "retailer_id": v["retailer_id"],
                "churn_probability": round(float(v["churn_probability"]), 4),
                "value_at_risk": round(float(v["value_at_risk"]), 2),
                "expected_benefit": round(float(v["expected_benefit"]), 2),
                "priority": round(float(v["priority"]), 2),
                "purpose": v["purpose"],
                "talking_point": talking_point(v["purpose"], language),
                "reasons": [r["zh" if language == "zh" else "en"] for r in reasons],
                "days_since_last_visit": None
                if pd.isna(v.get("days_since_last_visit"))
                else int(v["days_since_last_visit"]),
                "date": str((monday + pd.Timedelta(days=int(v["day"]))).date()),
                "stop": int(v["stop"]),
                "due": bool(v.get("mandatory", False)),
                "km_from_previous": float(v["km_from_previous"]),
                "lat": float(v["lat"]),
                "lon": float(v["lon"]),
                "_index": i,
            }
        )
    ranked = sorted(rows, key=lambda r: -r["priority"])
    for rank, row in enumerate(ranked, start=1):
        row["rank"] = rank
        row.pop("_index")
    schedule = []
    for day in plan.days:
        date = monday + pd.Timedelta(days=day["day"])
        stops = sorted(
            (r for r in ranked if r["date"] == str(date.date())), key=lambda r: r["stop"]
        )
        schedule.append(
            {
                "date": str(date.date()),
                "visits": len(stops),
                "km": day["km"],
                "route": [r["retailer_id"] for r in stops],
            }
        )
    return {
        "manager_id": manager_id,
        "week": week_of(to_days(monday)),
        "week_start": str(monday.date()),
        "capacity": rules.capacity,
        "days": rules.days,
        "min_gap_days": rules.min_gap_days,
        "visits": ranked,
        "schedule": schedule,
        "total_km": round(sum(d["km"] for d in plan.days), 2),
        "expected_benefit": round(sum(r["expected_benefit"] for r in ranked), 2),
        "candidates_left_out": plan.dropped,
        "notes": sorted(set(context.notes)),
    }


def _detour_km(visits: pd.DataFrame) -> np.ndarray:
    """Extra kilometres each stop adds to its day's route (its share of the travel cost)."""
    out = np.zeros(len(visits))
    for _, day in visits.groupby("day"):
        day = day.sort_values("stop")
        lat, lon = day["lat"].to_numpy(), day["lon"].to_numpy()
        legs_in = day["km_from_previous"].to_numpy()
        for k, index in enumerate(day.index):
            if k + 1 < len(day):
                leg_out = haversine_km(lat[k], lon[k], lat[k + 1], lon[k + 1])
                skip = haversine_km(lat[k - 1], lon[k - 1], lat[k + 1], lon[k + 1]) if k else 0
                out[index] = legs_in[k] + leg_out - skip
            else:
                out[index] = legs_in[k]
    return out


def plan_team(context: PlanContext, team_id: str, **options) -> dict[str, Any]:
    """Plans for every manager of a team for the week."""
    managers = context.tables.get("managers")
    if managers is None or "team_id" not in managers:
        raise UserInputError("team plans need the managers table with team_id")
    members = sorted(managers.loc[managers["team_id"] == team_id, "manager_id"])
    if not members:
        raise UserInputError(f"--team {team_id!r}: no such team in the data")
    return summarise_team(team_id, [plan_manager(context, m, **options) for m in members])


def summarise_team(team_id: str, plans: list[dict[str, Any]]) -> dict[str, Any]:
    """A team's week from its managers' plans."""
    return {
        "team_id": team_id,
        "week": plans[0]["week"],
        "managers": plans,
        "visits": sum(len(p["visits"]) for p in plans),
        "expected_benefit": round(sum(p["expected_benefit"] for p in plans), 2),
        "total_km": round(sum(p["total_km"] for p in plans), 2),
    }

"""A planned week as people read it: each visit with its reasons, rank and route, the
schedule per day and the notes, in one language."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from features.calendar import to_days
from features.i18n import PURPOSE_NAMES, Note, pick, render_notes
from features.reasons import restate
from planning.optimise import PlanRules, WeekPlan, haversine_km
from planning.purpose import (
    benefit_reason,
    purpose_reasons,
    reason_signals,
    talking_point,
)
from planning.week import PlanContext, week_of


def visit_reasons(
    row: pd.Series, horizon_weeks: int, hit: dict[str, bool] | None = None
) -> list[dict[str, Any]]:
    """Why visit: the signals behind the purpose, what the visit is worth, then what drives
    the churn risk, each reason once (by code), in both languages."""
    churn = row["reasons"] if isinstance(row.get("reasons"), list) else []
    reasons = [
        *purpose_reasons(row, hit),
        benefit_reason(float(row["expected_benefit"]), float(row["value_at_risk"]), horizon_weeks),
        *restate(churn, row),
    ]
    seen: set[str] = set()
    out = []
    for reason in reasons:
        if reason["code"] not in seen:
            seen.add(reason["code"])
            out.append(reason)
    return out


def render_plan(
    context: PlanContext,
    manager_id: str,
    plan: WeekPlan,
    rules: PlanRules,
    language: str,
    notes: Sequence[Note | str] = (),
    base: tuple[float, float] | None = None,
    offsets: list[int] | None = None,
) -> dict[str, Any]:
    visits = plan.visits
    monday = context.week_start
    offsets = list(range(rules.days)) if offsets is None else offsets
    detour = _detour_km(visits)
    priority = visits["expected_benefit"].to_numpy(float) - detour * rules.cost_per_km
    rows = []
    hits = reason_signals(visits)
    for (i, v), hit in zip(visits.assign(priority=priority).iterrows(), hits, strict=True):
        reasons = visit_reasons(v, context.horizon_weeks, hit)
        offset = offsets[int(v["day"])]
        # Days since the last visit as of the planned day, not as of the data's end.
        lead = to_days(monday) - to_days(v["as_of"]) + offset
        rows.append(
            {
                "retailer_id": v["retailer_id"],
                "name": _text(v.get("name")),
                "address": _text(v.get("address")),
                "churn_probability": round(float(v["churn_probability"]), 4),
                "value_at_risk": round(float(v["value_at_risk"]), 2),
                "expected_benefit": round(float(v["expected_benefit"]), 2),
                "priority": round(float(v["priority"]), 2),
                "purpose": v["purpose"],
                "purpose_name": pick(PURPOSE_NAMES[v["purpose"]], language),
                "talking_point": talking_point(v["purpose"], language),
                "reasons": [r["zh" if language == "zh" else "en"] for r in reasons],
                "days_since_last_visit": None
                if pd.isna(v.get("days_since_last_visit"))
                else int(v["days_since_last_visit"]) + lead,
                "date": str((monday + pd.Timedelta(days=offset)).date()),
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
        date = monday + pd.Timedelta(days=offsets[day["day"]])
        stops = sorted(
            (r for r in ranked if r["date"] == str(date.date())), key=lambda r: r["stop"]
        )
        schedule.append(
            {
                "date": str(date.date()),
                "visits": len(stops),
                "km": day["km"],
                "km_back_to_base": day.get("km_back_to_base", 0.0),
                "route": [r["retailer_id"] for r in stops],
            }
        )
    return {
        "manager_id": manager_id,
        "week": week_of(to_days(monday)),
        "week_start": str(monday.date()),
        "capacity": rules.capacity,
        "days": rules.days,
        "working_dates": [str((monday + pd.Timedelta(days=o)).date()) for o in offsets],
        "base": None if base is None else {"lat": base[0], "lon": base[1]},
        "min_gap_days": rules.min_gap_days,
        "visits": ranked,
        "schedule": schedule,
        "total_km": round(sum(d["km"] for d in plan.days), 2),
        "expected_benefit": round(sum(r["expected_benefit"] for r in ranked), 2),
        "candidates_left_out": plan.dropped,
        "language": language,
        "notes": render_notes([*context.notes, *notes], language),
    }


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


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

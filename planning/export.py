"""A plan as the rows a manager prints: day by day, stop by stop, from the base and back.

The JSON plan ranks visits by priority; on paper a manager follows the route, so the rows
here are in day and stop order, each day opening at the base point and closing with the
drive back, with the kilometres of every leg. Headers, yes/no and numbers are put in the
reader's language by ``features.i18n.localise_rows`` at the edge (CLI or API).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from features.i18n import WEEKDAYS, pick

ROUTE_COLUMNS = (
    "manager_id",
    "week",
    "date",
    "weekday",
    "stop",
    "retailer_id",
    "name",
    "address",
    "purpose",
    "purpose_name",
    "talking_point",
    "reasons",
    "expected_benefit",
    "churn_probability",
    "value_at_risk",
    "days_since_last_visit",
    "due",
    "km_from_previous",
    "lat",
    "lon",
    "rank",
)
BASE_LABEL = ("出发点", "base")
BACK_LABEL = ("返回出发点", "back to base")


def route_rows(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per stop in visiting order, with a base row opening and closing each day."""
    language = plan.get("language", "en")
    base = plan.get("base") or {}
    by_day: dict[str, list[dict[str, Any]]] = {}
    for visit in plan["visits"]:
        by_day.setdefault(visit["date"], []).append(visit)
    rows: list[dict[str, Any]] = []
    for day in plan["schedule"]:
        stops = sorted(by_day.get(day["date"], []), key=lambda v: v["stop"])
        if not stops:
            continue
        weekday = pick(WEEKDAYS[pd.Timestamp(day["date"]).weekday()], language)
        common = {"manager_id": plan["manager_id"], "week": plan["week"], "date": day["date"]}
        marker = {"weekday": weekday, "lat": base.get("lat"), "lon": base.get("lon")}
        rows.append(
            {
                **common,
                **marker,
                "stop": 0,
                "name": pick(BASE_LABEL, language),
                "km_from_previous": 0.0,
            }
        )
        for visit in stops:
            rows.append(
                {**common, "weekday": weekday, **{k: visit.get(k) for k in ROUTE_COLUMNS[4:]}}
            )
        rows.append(
            {
                **common,
                **marker,
                "stop": len(stops) + 1,
                "name": pick(BACK_LABEL, language),
                "km_from_previous": day.get("km_back_to_base"),
            }
        )
    return [{c: row.get(c) for c in ROUTE_COLUMNS} for row in rows]


def team_route_rows(team: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for plan in team["managers"] for row in route_rows(plan)]

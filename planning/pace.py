"""How long a visit takes, as the manager's own recent days show it.

A planned day is the drive (at ``PlanRules.speed_kmh``) plus ``service_minutes`` per visit,
within ``day_minutes``. Those figures are assumptions; the visits table is the company's
record of what its managers' days really held. Where the two disagree the record wins: on
a 3,000-retailer territory the managers made 16-19 visits a day, every day, where the
assumed pace holds 13-15, so every plan used only 68-85% of the weekly capacity the company
states, and no ranking can save value with visits it does not plan.

For each of the manager's recent days with visits, the minutes per visit the day left
after its drive (a nearest-neighbour tour from the manager's base through that day's shops
and back) is what that day shows; the median day's figure, never above the assumed one,
becomes the plan's minutes per visit. Days the manager filled lightly show more minutes per
visit than assumed and change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from planning.optimise import PlanRules, haversine_km

PACE_WEEKS = 26  # recent enough to be today's territory and habits
MIN_DAYS = 10  # fewer recorded days say too little to overrule the assumption
MIN_SERVICE_MINUTES = 5.0  # a visit is never planned shorter than this


@dataclass(frozen=True)
class Pace:
    """Minutes per visit the manager's recent days show, and what they were read from."""

    service_minutes: float
    days: int
    visits_per_day: float


def observed_pace(
    visits: pd.DataFrame | None,
    retailers: pd.DataFrame,
    manager_id: str,
    base: tuple[float, float],
    before: pd.Timestamp,
    rules: PlanRules,
) -> Pace | None:
    """The pace of ``manager_id``'s days in the ``PACE_WEEKS`` weeks before ``before``, or
    None without enough recorded days. ``retailers`` has ``retailer_id``, ``manager_id``,
    ``lat`` and ``lon``; only visits to the manager's own located retailers count, so a
    week planned in parts (one manager's rows of every table) reads the same days."""
    if visits is None or not {"retailer_id", "manager_id", "visit_date"} <= set(visits):
        return None
    own = retailers[retailers["manager_id"] == manager_id].dropna(subset=["lat", "lon"])
    own = own.drop_duplicates("retailer_id").set_index("retailer_id")
    dates = pd.to_datetime(visits["visit_date"])
    recent = (dates >= before - pd.Timedelta(weeks=PACE_WEEKS)) & (dates < before)
    mine = visits[recent & (visits["manager_id"] == manager_id)]
    mine = mine[mine["retailer_id"].isin(own.index)]
    if mine.empty:
        return None
    days = pd.to_datetime(mine["visit_date"]).dt.normalize().to_numpy()
    lat = own["lat"].reindex(mine["retailer_id"]).to_numpy(float)
    lon = own["lon"].reindex(mine["retailer_id"]).to_numpy(float)
    minutes, counts = [], []
    for day in np.unique(days):
        at = days == day
        drive = _tour_km(base, lat[at], lon[at]) / rules.speed_kmh * 60
        minutes.append((rules.day_minutes - drive) / int(at.sum()))
        counts.append(int(at.sum()))
    if len(minutes) < MIN_DAYS:
        return None
    shown = float(np.clip(np.median(minutes), MIN_SERVICE_MINUTES, rules.service_minutes))
    return Pace(round(shown, 1), len(minutes), float(np.median(counts)))


def paced(rules: PlanRules, pace: Pace | None) -> PlanRules:
    """``rules`` with the minutes per visit the record shows, when it shows fewer."""
    if pace is None or pace.service_minutes >= rules.service_minutes:
        return rules
    return replace(rules, service_minutes=pace.service_minutes)


def _tour_km(base: tuple[float, float], lat: np.ndarray, lon: np.ndarray) -> float:
    """Kilometres of a nearest-neighbour tour from ``base`` through the points and back."""
    here_lat, here_lon = base
    left = np.ones(len(lat), dtype=bool)
    km = 0.0
    for _ in range(len(lat)):
        step = np.where(left, haversine_km(here_lat, here_lon, lat, lon), np.inf)
        k = int(np.argmin(step))
        km += float(step[k])
        left[k] = False
        here_lat, here_lon = lat[k], lon[k]
    return km + float(haversine_km(here_lat, here_lon, base[0], base[1]))

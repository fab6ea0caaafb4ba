"""The minutes a visit is planned for come from the manager's recorded days when those days
held more visits than the assumed pace allows, and from nothing after the planned week."""

from __future__ import annotations

import pandas as pd
import pytest

from planning.optimise import PlanRules
from planning.pace import MIN_DAYS, observed_pace, paced

BASE = (30.0, 120.0)
BEFORE = pd.Timestamp("2026-01-05")


def _record(per_day: int, days: int, manager: str = "M1") -> tuple[pd.DataFrame, pd.DataFrame]:
    """``days`` weekdays before BEFORE with ``per_day`` visits each, every shop at the base
    (no drive), so a day shows exactly 480 / per_day minutes a visit."""
    shops = [f"R{k:02d}" for k in range(per_day)]
    retailers = pd.DataFrame(
        {"retailer_id": shops, "manager_id": manager, "lat": BASE[0], "lon": BASE[1]}
    )
    dates = pd.bdate_range(end=BEFORE - pd.Timedelta(days=1), periods=days)
    visits = pd.DataFrame(
        [(shop, manager, day) for day in dates for shop in shops],
        columns=["retailer_id", "manager_id", "visit_date"],
    )
    return visits, retailers


def test_busy_recorded_days_set_the_minutes_a_visit():
    visits, retailers = _record(per_day=24, days=20)
    pace = observed_pace(visits, retailers, "M1", BASE, BEFORE, PlanRules())
    assert pace is not None and pace.service_minutes == 20.0  # 480 minutes / 24 visits
    assert pace.days == 20 and pace.visits_per_day == 24
    assert paced(PlanRules(), pace).service_minutes == 20.0


def test_light_recorded_days_keep_the_assumed_pace():
    visits, retailers = _record(per_day=12, days=20)  # 40 minutes a visit: never longer
    pace = observed_pace(visits, retailers, "M1", BASE, BEFORE, PlanRules())
    assert pace is not None and pace.service_minutes == PlanRules().service_minutes
    assert paced(PlanRules(), pace) == PlanRules()


def test_the_drive_counts_against_the_day():
    visits, retailers = _record(per_day=24, days=20)
    far = retailers.assign(lat=BASE[0] + 0.09)  # ~10 km north: 20 km there and back
    pace = observed_pace(visits, far, "M1", BASE, BEFORE, PlanRules())
    assert pace is not None
    drive = 2 * 10.0 / PlanRules().speed_kmh * 60  # about 48 minutes at 25 km/h
    assert pace.service_minutes == pytest.approx((480 - drive) / 24, abs=0.2)


def test_too_few_days_or_none_of_the_managers_own_say_nothing():
    visits, retailers = _record(per_day=24, days=MIN_DAYS - 1)
    assert observed_pace(visits, retailers, "M1", BASE, BEFORE, PlanRules()) is None
    visits, retailers = _record(per_day=24, days=20)
    assert observed_pace(visits, retailers, "M2", BASE, BEFORE, PlanRules()) is None
    assert observed_pace(None, retailers, "M1", BASE, BEFORE, PlanRules()) is None
    # Shops now someone else's are not this manager's days any more.
    moved = retailers.assign(manager_id="M2")
    assert observed_pace(visits, moved, "M1", BASE, BEFORE, PlanRules()) is None


def test_days_in_or_after_the_planned_week_are_not_read():
    visits, retailers = _record(per_day=24, days=20)
    later = visits.assign(visit_date=visits["visit_date"] + pd.Timedelta(weeks=5))
    crowded = pd.concat([visits, later, later.assign(retailer_id="R00")], ignore_index=True)
    before = observed_pace(visits, retailers, "M1", BASE, BEFORE, PlanRules())
    assert observed_pace(crowded, retailers, "M1", BASE, BEFORE, PlanRules()) == before

"""The trading and working calendar: weeks, Chinese New Year (the season that moves every
order book), and which days a manager works (public holidays, 调休, the company's own days).

Orders swell in the weeks before the Spring Festival (gift cartons) and collapse in the
holiday week. Its date moves between late January and mid February, so "the same week last
year" must be aligned on the festival, not on the calendar week.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.errors import UserInputError

# First day of the lunar year (春节).
CHINESE_NEW_YEAR: dict[int, str] = {
    2016: "2016-02-08",
    2017: "2017-01-28",
    2018: "2018-02-16",
    2019: "2019-02-05",
    2020: "2020-01-25",
    2021: "2021-02-12",
    2022: "2022-02-01",
    2023: "2023-01-22",
    2024: "2024-02-10",
    2025: "2025-01-29",
    2026: "2026-02-17",
    2027: "2027-02-06",
    2028: "2028-01-26",
    2029: "2029-02-13",
    2030: "2030-02-03",
    2031: "2031-01-23",
    2032: "2032-02-11",
}
_CNY_DAYS = np.array(
    [pd.Timestamp(d).value // 86_400_000_000_000 for d in CHINESE_NEW_YEAR.values()],
    dtype=np.int64,
)


def week_start(dates: pd.Series | pd.DatetimeIndex) -> pd.Series:
    """Monday of each date's ISO week."""
    dates = pd.to_datetime(pd.Series(dates))
    return (dates - pd.to_timedelta(dates.dt.weekday, unit="D")).dt.normalize()


def weeks_from_new_year(week_first_days: np.ndarray) -> np.ndarray:
    """Signed weeks from the nearest Chinese New Year of weeks starting on the given days.

    Week 0 is the 7-day week that contains the festival; -1 the week before it.
    """
    first = np.asarray(week_first_days, dtype=np.int64)
    last = first + 6
    idx = np.clip(np.searchsorted(_CNY_DAYS, first), 1, len(_CNY_DAYS) - 1)
    before, after = _CNY_DAYS[idx - 1], _CNY_DAYS[idx]
    nearest = np.where(first - before < after - first, before, after)
    return np.floor_divide(last - nearest, 7).astype(np.int64)


def new_year_factor(days_since_epoch: np.ndarray) -> np.ndarray:
    """Multiplier on order value for the week starting at each day (1.0 away from the festival)."""
    offset = weeks_from_new_year(days_since_epoch)
    factors = {-3: 1.3, -2: 1.6, -1: 1.8, 0: 0.45, 1: 0.75}
    out = np.ones(offset.shape, dtype=np.float64)
    for week, factor in factors.items():
        out[offset == week] = factor
    return out


def parse_date(value: str | pd.Timestamp, option: str) -> pd.Timestamp:
    """A date the user gave (``option`` names where), as midnight; a clear error if not one."""
    try:
        return pd.Timestamp(value).normalize()
    except (ValueError, TypeError):
        raise UserInputError(f"{option} {value!r} is not a date (use YYYY-MM-DD)") from None


def to_days(timestamp: str | pd.Timestamp) -> int:
    """Days since 1970-01-01 of a date."""
    return int(pd.Timestamp(timestamp).value // 86_400_000_000_000)


# -- working days: public holidays and adjusted working days (调休) ----------------------

OFFICIAL_SOURCE = "chinesecalendar"  # the State Council's yearly schedule, shipped as a package


@dataclass(frozen=True)
class DayKind:
    """What a date is for field work, and why."""

    working: bool
    holiday: str | None = None  # the public holiday's English name (None: a plain day)
    adjusted: bool = False  # a weekend day worked in lieu of a holiday (调休)
    source: str = "weekdays"  # chinesecalendar, company, or weekdays (no official data)


class WorkingCalendar:
    """China's official working days, overridden day by day by the company's own file.

    The official schedule (holidays such as 元旦 and the weekend days worked in lieu) comes
    from ``chinesecalendar``, which ships the State Council's yearly notice; a year it does
    not cover yet falls back to Monday-Friday, and ``years_without_official_data`` says so.
    The company's ``working_days`` table (date, working 0/1, optional name) wins over both.
    """

    def __init__(self, overrides: pd.DataFrame | None = None) -> None:
        self.overrides: dict[dt.date, tuple[bool, str | None]] = {}
        if overrides is not None and len(overrides):
            names = overrides["name"] if "name" in overrides else [None] * len(overrides)
            for day, working, name in zip(
                pd.to_datetime(overrides["date"]).dt.date,
                overrides["working"].astype(int),
                names,
                strict=True,
            ):
                self.overrides[day] = (bool(working), None if pd.isna(name) else str(name))
        self.years_without_official_data: set[int] = set()

    def kind(self, day: dt.date | pd.Timestamp) -> DayKind:
        day = pd.Timestamp(day).date()
        if day in self.overrides:
            working, name = self.overrides[day]
            return DayKind(
                working,
                None if working else (name or "company day off"),
                working and day.weekday() >= 5,
                "company",
            )
        import chinese_calendar

        try:
            on_holiday, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:  # a year the package does not cover yet
            self.years_without_official_data.add(day.year)
            return DayKind(day.weekday() < 5)
        if not on_holiday:
            return DayKind(True, None, day.weekday() >= 5, OFFICIAL_SOURCE)
        return DayKind(False, name, False, OFFICIAL_SOURCE)


def week_working_offsets(
    monday: pd.Timestamp,
    days: int,
    calendar: WorkingCalendar,
    include_non_working: bool = False,
) -> tuple[list[int], list[tuple[int, DayKind]]]:
    """The days of the week (0 = Monday) a manager works, and the days skipped with why.

    The week's first ``days`` days are working days unless they are a public holiday or the
    company's day off (so ``days=6`` still means Saturdays); a weekend day beyond them takes
    the place of a lost day when it is an adjusted working day (调休) or the company says it
    is worked. The week never holds more than ``days`` days.
    """
    offsets, skipped = [], []
    for offset in range(7):
        kind = calendar.kind(monday + pd.Timedelta(days=offset))
        if offset < days:
            if include_non_working or kind.working or kind.holiday is None:
                offsets.append(offset)
            else:
                skipped.append((offset, kind))
        elif kind.working and (kind.adjusted or kind.source == "company"):
            offsets.append(offset)
    # A weekend day worked in lieu replaces a day lost to a holiday; it does not stretch the
    # week past the days asked for.
    return offsets[:days], skipped

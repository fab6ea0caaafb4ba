"""The trading calendar: weeks, and Chinese New Year, the season that moves every order book.

Orders swell in the weeks before the Spring Festival (gift cartons) and collapse in the
holiday week. Its date moves between late January and mid February, so "the same week last
year" must be aligned on the festival, not on the calendar week.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def to_days(timestamp: str | pd.Timestamp) -> int:
    """Days since 1970-01-01 of a date."""
    return int(pd.Timestamp(timestamp).value // 86_400_000_000_000)

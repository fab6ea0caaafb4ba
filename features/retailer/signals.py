"""The feature families of a retailer snapshot beyond the order weeks (the buyer's rhythm,
visits, the shop's attributes, its manager) and the numeric helpers they share."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.btyd import order_rhythm
from features.contract import AREA_TYPES, FORMATS, SKILLS, VISIT_PURPOSES
from features.retailer.history import (
    EventLog,
    RetailerHistory,
    counts_by_group,
    day_numbers,
    weekly_matrices,
)

# Fixed levels from the contract, so frames of different snapshots stack and match.
CATEGORICAL: dict[str, tuple[str, ...]] = {"format": FORMATS, "area_type": AREA_TYPES}


def slope(matrix: np.ndarray) -> np.ndarray:
    """OLS slope of each row against time (oldest week first), per week."""
    weeks = matrix.shape[1]
    x = -np.arange(weeks, dtype=np.float64)
    x -= x.mean()
    return (matrix - matrix.mean(axis=1, keepdims=True)) @ x / (x @ x)


def nan_slope(matrix: np.ndarray, min_points: int = 3) -> np.ndarray:
    """``slope`` over the weeks that have a value (NaN elsewhere); NaN under ``min_points``."""
    weeks = matrix.shape[1]
    x = np.broadcast_to(-np.arange(weeks, dtype=np.float64), matrix.shape)
    seen = np.isfinite(matrix)
    points = seen.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_mean = np.where(seen, x, 0).sum(axis=1) / points
        y_mean = np.where(seen, matrix, 0).sum(axis=1) / points
        dx = np.where(seen, x - x_mean[:, None], 0)
        dy = np.where(seen, matrix - y_mean[:, None], 0)
        slope = (dx * dy).sum(axis=1) / (dx * dx).sum(axis=1)
    return np.where(points >= min_points, slope, np.nan)


def safe_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / b, np.nan)


def take(values: np.ndarray, index: np.ndarray, fill) -> np.ndarray:
    """``values[index]`` where ``index`` points at an event; ``fill`` where it is -1.

    A table can be present and still have no event at all (a bucket of the Spark engine,
    a company whose visits are all routine), so an empty ``values`` must not be indexed.
    """
    if not len(values):
        return np.full(len(index), fill)
    return np.where(index >= 0, values[np.maximum(index, 0)], fill)


def days_since(log: EventLog | None, n: int, t: int, mask: np.ndarray | None = None):
    if log is None:
        return None
    last = log.last_before(n, t, mask)
    days = t - take(log.day if mask is None else log.day[mask], last, t)
    return np.where(last >= 0, days, np.nan)


def rhythm_features(f: dict[str, Any], log: EventLog, n: int, t: int) -> None:
    """What a buy-till-you-die model reads, and the buyer's own rhythm: a monthly buyer
    three weeks quiet is on time, a weekly one is not."""
    rhythm = order_rhythm(log.code, log.day, n, t)
    f["btyd_frequency"] = rhythm["frequency"]
    f["btyd_recency_weeks"] = rhythm["recency_weeks"]
    f["btyd_age_weeks"] = rhythm["age_weeks"]
    with np.errstate(divide="ignore", invalid="ignore"):
        f["order_days_per_week"] = (rhythm["frequency"] + 1) / np.maximum(rhythm["age_weeks"], 1.0)
    f["gap_mean_days"] = rhythm["gap_mean_days"]
    f["gap_cv"] = rhythm["gap_cv"]
    since = f["days_since_last_order"]
    f["recency_vs_gap"] = safe_ratio(since, rhythm["gap_mean_days"])
    f["recency_vs_max_gap"] = safe_ratio(since, rhythm["gap_max_days"])
    # Order days the buyer's own rate since its first order says should have come since
    # the last one: 0 means on time, 3 means three orders missed.
    f["orders_missed"] = np.maximum(since * f["order_days_per_week"] / 7 - 1, 0)


def visit_features(f: dict[str, Any], visits: EventLog, n: int, t: int) -> None:
    f["days_since_last_visit"] = days_since(visits, n, t)
    count = weekly_matrices(visits, n, t, 26, {"count": None})["count"]
    for w in (4, 13, 26):
        f[f"visits_{w}w"] = count[:, :w].sum(axis=1)
    code = visits.values.get("purpose_code")
    if code is None:
        return
    by_purpose = counts_by_group(visits, n, t, 13, code, len(VISIT_PURPOSES))
    for k, name in enumerate(VISIT_PURPOSES):
        f[f"visits_13w_{name}"] = by_purpose[:, k]
    purposeful = code != VISIT_PURPOSES.index("routine")
    f["days_since_purposeful_visit"] = days_since(visits, n, t, purposeful)


def attribute_features(frame: pd.DataFrame, attrs: pd.DataFrame, t: int) -> None:
    values = attrs.reset_index(drop=True)
    for column, levels in CATEGORICAL.items():
        if column in values:
            frame[column] = pd.Categorical(values[column].astype("object"), categories=levels)
    if "grade" in values:
        frame["grade"] = values["grade"].astype("float32")
    if "manager_id" in values:
        frame["manager_id"] = values["manager_id"].astype("object")
    if "licensed_on" in values:
        frame["licence_age_days"] = (
            t - day_numbers(values["licensed_on"].fillna(pd.Timestamp(t, unit="D")))
        ).astype("float32")
        frame.loc[values["licensed_on"].isna().to_numpy(), "licence_age_days"] = np.nan
    if "licence_expires_on" in values:
        expires = values["licence_expires_on"]
        days = day_numbers(expires.fillna(pd.Timestamp(t, unit="D"))) - t
        frame["days_to_licence_expiry"] = np.where(expires.isna(), np.nan, days).astype("float32")


def manager_context(
    frame: pd.DataFrame, history: RetailerHistory, t: int, population: np.ndarray
) -> None:
    managers = history.managers
    manager = frame["manager_id"]
    size = manager[population].value_counts()
    frame["territory_size"] = manager.map(size).astype("float32")
    if "hired_on" in managers:
        hired = managers["hired_on"].reindex(manager.to_numpy())
        tenure = t - day_numbers(hired.fillna(pd.Timestamp(t, unit="D")))
        frame["manager_tenure_days"] = np.where(
            hired.isna().to_numpy() | (tenure < 0), np.nan, tenure
        ).astype("float32")
    if "weekly_capacity" in managers:
        frame["manager_weekly_capacity"] = (
            managers["weekly_capacity"].reindex(manager.to_numpy()).to_numpy(dtype="float32")
        )
    assessments = history.assessments
    if assessments is not None:
        before = assessments[day_numbers(assessments["assessed_on"]) < t]
        latest = (
            before.sort_values("assessed_on")
            .groupby(["manager_id", "skill"], observed=True)["score"]
            .last()
            .unstack("skill")
            .reindex(columns=list(SKILLS))
        )
        scores = latest.reindex(manager.to_numpy())
        for skill in SKILLS:
            frame[f"manager_{skill}"] = scores[skill].to_numpy(dtype="float32")

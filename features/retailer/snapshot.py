"""A retailer snapshot: the features of every retailer at risk at one as-of date, from
records strictly before it; and the stack of snapshots a training run or a plan reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.calendar import to_days
from features.errors import UserInputError
from features.retailer.history import (
    RetailerHistory,
    day_numbers,
    last_year_anchor,
    prepare_history,
    weekly_matrices,
    weekly_matrix,
)
from features.retailer.signals import (
    attribute_features,
    days_since,
    manager_context,
    nan_slope,
    rhythm_features,
    safe_ratio,
    slope,
    take,
    visit_features,
)

WINDOWS = (4, 8, 13, 26, 52)
HISTORY_WEEKS = 52
DEFAULT_ACTIVE_WEEKS = 13


@dataclass
class Snapshot:
    """Features at one as-of date, and who was left out of the population and why."""

    as_of: pd.Timestamp
    frame: pd.DataFrame
    excluded: dict[str, int]


def retailer_snapshot(
    history: RetailerHistory,
    as_of: pd.Timestamp | str,
    active_weeks: int = DEFAULT_ACTIVE_WEEKS,
    lapsed: bool = False,
) -> Snapshot:
    """Features of every retailer at risk at ``as_of`` from records strictly before it.

    The population at risk: licensed before ``as_of`` (when licences are known), licence not
    expired, and at least one order in the ``active_weeks`` before it. Retailers with no
    order in that window have lapsed: left out by default, kept with ``lapsed=True`` (then
    the frame has a ``lapsed`` column and ``weeks_since_last_order``), so that a model can
    score their chance of coming back.
    """
    t = to_days(as_of)
    n, log = history.n, history.orders
    weights: dict[str, np.ndarray | None] = {"value": log.values["amount"], "count": None}
    for column in ("quantity", "brand_count"):
        if column in log.values:
            weights[column] = log.values[column]
    if "premium_share" in log.values:
        weights["premium_value"] = log.values["premium_share"] * log.values["amount"]
    matrices = weekly_matrices(log, n, t, HISTORY_WEEKS, weights)
    value, count = matrices["value"], matrices["count"]
    ordered = count > 0
    last_order = log.last_before(n, t)
    first_order = log.first_index(n)
    has_history = last_order >= 0
    first_day = np.where(first_order >= 0, take(log.day, first_order, t), t)

    excluded: dict[str, int] = {}
    population = has_history.copy()
    excluded["no order before the as-of date"] = int((~has_history).sum())
    attrs = history.attributes
    if attrs is not None:
        licensed = day_numbers(attrs["licensed_on"]) if "licensed_on" in attrs else None
        expires = (
            day_numbers(attrs["licence_expires_on"].fillna(pd.Timestamp("2262-01-01")))
            if "licence_expires_on" in attrs
            else None
        )
        if expires is not None:
            gone = population & (expires < t)
            excluded["licence expired before the as-of date"] = int(gone.sum())
            population &= ~gone
        if licensed is not None:
            future = population & (licensed >= t)
            excluded["licensed on or after the as-of date"] = int(future.sum())
            population &= ~future
    recent = count[:, :active_weeks].sum(axis=1) > 0
    dormant = population & ~recent
    if not lapsed:
        excluded[f"no order in the {active_weeks} weeks before (already gone)"] = int(
            dormant.sum()
        )
        population &= recent

    f: dict[str, Any] = {}
    last_day = take(log.day, last_order, t)
    f["days_since_last_order"] = np.where(last_order >= 0, t - last_day, np.nan)
    f["customer_age_days"] = t - first_day
    weeks_known = np.clip((t - first_day) // 7, 1, HISTORY_WEEKS)
    for w in WINDOWS:
        f[f"value_{w}w"] = value[:, :w].sum(axis=1)
        f[f"orders_{w}w"] = count[:, :w].sum(axis=1)
        f[f"weeks_ordered_share_{w}w"] = ordered[:, :w].sum(axis=1) / np.minimum(w, weeks_known)
    f["weeks_without_order"] = np.where(ordered.any(axis=1), ordered.argmax(axis=1), HISTORY_WEEKS)
    baseline = value[:, :26].sum(axis=1) / np.minimum(26, weeks_known)
    f["baseline_weekly_value"] = baseline
    f["value_1w_vs_baseline"] = safe_ratio(value[:, 0], baseline)
    f["value_2w_vs_baseline"] = safe_ratio(value[:, :2].sum(axis=1) / 2, baseline)
    f["value_4w_vs_baseline"] = safe_ratio(f["value_4w"] / 4, baseline)
    # Recent weeks weigh most (half-life 3 weeks): a smoothed reading of the current level.
    decay = 0.5 ** (np.arange(13) / 3.0)
    f["recent_level_vs_baseline"] = safe_ratio(value[:, :13] @ decay / decay.sum(), baseline)
    f["log_value_trend_8w"] = slope(np.log1p(value[:, :8]))
    with np.errstate(divide="ignore", invalid="ignore"):
        f["order_value_trend_8w"] = nan_slope(np.log(value[:, :8] / count[:, :8]))
    f["value_8w_vs_baseline"] = safe_ratio(f["value_8w"] / 8, baseline)
    f["trend_13w"] = safe_ratio(slope(value[:, :13]), value[:, :13].mean(axis=1))
    f["trend_26w"] = safe_ratio(slope(value[:, :26]), value[:, :26].mean(axis=1))
    f["volatility_13w"] = safe_ratio(value[:, :13].std(axis=1), value[:, :13].mean(axis=1))
    f["volatility_26w"] = safe_ratio(value[:, :26].std(axis=1), value[:, :26].mean(axis=1))
    last_year = weekly_matrix(log, n, last_year_anchor(t), 13, log.values["amount"])
    for w in (8, 13):
        f[f"value_{w}w_vs_last_year"] = safe_ratio(f[f"value_{w}w"], last_year[:, :w].sum(1))
    if "quantity" in matrices:
        qty = matrices["quantity"][:, :13].sum(axis=1)
        f["cartons_per_order_13w"] = safe_ratio(qty, f["orders_13w"])
    if "brand_count" in matrices:
        brands = matrices["brand_count"]
        f["brands_per_order_4w"] = safe_ratio(brands[:, :4].sum(axis=1), f["orders_4w"])
        f["brands_per_order_26w"] = safe_ratio(brands[:, :26].sum(axis=1), f["orders_26w"])
        f["brand_breadth_change"] = safe_ratio(f["brands_per_order_4w"], f["brands_per_order_26w"])
        # A decline narrows the brand mix week by week, and the mix hardly widens again
        # afterwards, so the slope over recent ordering weeks tells an ongoing decline
        # from an old one better than the 4-week against 26-week ratio does.
        with np.errstate(divide="ignore", invalid="ignore"):
            per_order = np.log(brands[:, :8] / count[:, :8])
        f["brand_trend_8w"] = nan_slope(per_order)
    if "premium_value" in matrices:
        premium = matrices["premium_value"][:, :13].sum(axis=1)
        f["premium_share_13w"] = safe_ratio(premium, f["value_13w"])

    rhythm_features(f, log, n, t)
    if history.visits is not None:
        visit_features(f, history.visits, n, t)
    if history.complaints is not None:
        complaints = history.complaints
        for w in (13, 52):
            f[f"complaints_{w}w"] = weekly_matrix(complaints, n, t, w, None).sum(axis=1)
        f["days_since_last_complaint"] = days_since(complaints, n, t)
    if history.surveys is not None:
        surveys = history.surveys
        last = surveys.last_before(n, t)
        sat = surveys.values["satisfaction"].astype(np.float64)
        f["latest_satisfaction"] = np.where(last >= 0, take(sat, last, np.nan), np.nan)
        f["days_since_survey"] = days_since(surveys, n, t)
        total = weekly_matrix(surveys, n, t, 52, sat).sum(axis=1)
        answered = weekly_matrix(surveys, n, t, 52, None).sum(axis=1)
        f["mean_satisfaction_52w"] = safe_ratio(total, answered)

    frame = pd.DataFrame(f)
    for column in frame.columns:
        if frame[column].dtype == np.float64:
            frame[column] = frame[column].astype(np.float32)
    frame.insert(0, "retailer_id", history.ids.to_numpy())
    frame.insert(1, "as_of", pd.Timestamp(as_of).normalize())
    if lapsed:
        frame["lapsed"] = dormant
        frame["weeks_since_last_order"] = (frame["days_since_last_order"] / 7).astype("float32")
    if attrs is not None:
        attribute_features(frame, attrs, t)
        if history.managers is not None:
            # Territory size counts the retailers a manager actively serves, lapsed or not.
            manager_context(frame, history, t, population & recent)
    frame = frame.loc[population].reset_index(drop=True)
    return Snapshot(pd.Timestamp(as_of).normalize(), frame, excluded)


def build_retailer_features(
    tables: dict[str, pd.DataFrame],
    as_of_dates: list[pd.Timestamp] | list[str],
    active_weeks: int = DEFAULT_ACTIVE_WEEKS,
    history: RetailerHistory | None = None,
    lapsed: bool = False,
) -> tuple[pd.DataFrame, RetailerHistory, list[Snapshot]]:
    """Features for every snapshot date, stacked; plus the prepared history and snapshots."""
    history = history or prepare_history(tables)
    snapshots = [retailer_snapshot(history, d, active_weeks, lapsed) for d in as_of_dates]
    frames = [s.frame for s in snapshots]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    # pandas keeps attrs in Parquet metadata, so the file itself says what is switched off.
    frame.attrs["disabled_features"] = dict(history.disabled)
    frame.attrs["left_out"] = {str(s.as_of.date()): s.excluded for s in snapshots}
    return frame, history, snapshots


def check_as_of(history: RetailerHistory, as_of: pd.Timestamp) -> None:
    """A snapshot needs orders before it and may be up to a week after the data ends.

    The week after is allowed so that this week's scores can be dated on its Monday when
    the export ended on the Friday before.
    """
    t = to_days(as_of)
    if not history.first_day < t <= history.last_day + 7:
        first = pd.Timestamp(history.first_day, unit="D").date()
        last = pd.Timestamp(history.last_day, unit="D").date()
        raise UserInputError(
            f"--as-of {pd.Timestamp(as_of).date()} is outside the data ({first} .. {last}); "
            "a snapshot needs orders before it and at most a week after the last one"
        )

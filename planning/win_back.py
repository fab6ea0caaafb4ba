"""Lapsed retailers worth winning back, as candidates of the week's plan (issue 14).

A week's plan is made from the retailers that ordered within its window. Those that have
stopped ordering are scored by a churn champion that learnt from lapsed retailers (its
probability is then the chance that they do not come back within the horizon); the ones
that may still come back (``planning.purpose.worth_winning_back``) join the candidates with
purpose ``win_back``, under the same capacity, minimum-gap and feedback rules as any other.

What such a visit is worth: the same benefit as any other candidate's, by the ranking the
plan uses (the effect model's saved value, a checked simple ranking, or churn risk x value
x a share), computed on the value the retailer used to order (its usual weekly value while
it ordered, over the horizon) rather than its 26-week average, which counts the quiet weeks
as zeros. So win-backs compete with the active retailers on one scale.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from features.i18n import Note
from features.retailer import RetailerHistory, model_input, retailer_snapshot
from planning.purpose import worth_winning_back


def scores_lapsed(churn: Any) -> bool:
    """Whether the churn champion learnt from (and so can score) lapsed retailers."""
    if churn is None:
        return False
    metadata = getattr(churn.metadata, "metadata", None) or {}
    return str(metadata.get("scores_lapsed", False)).lower() == "true"


def usual_weekly_value(frame: pd.DataFrame) -> np.ndarray:
    """A lapsed retailer's usual weekly value: its value per order (last 26 weeks) times
    the order days per week it kept since its first order, the quiet spell included. The
    26-week baseline would count weeks before its first order in the window against it; a
    rate from its gaps alone would make two orders a week apart a weekly habit."""
    orders = frame["orders_26w"].to_numpy(float)
    value = frame["value_26w"].to_numpy(float)
    rate = (
        frame["order_days_per_week"].to_numpy(float)
        if "order_days_per_week" in frame
        else np.full(len(frame), np.nan)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        rhythm = value / orders * np.minimum(rate, 7)
    baseline = frame["baseline_weekly_value"].to_numpy(float)
    return np.where(np.isfinite(rhythm) & (orders > 0), rhythm, baseline)


def add_win_back(
    frame: pd.DataFrame,
    history: RetailerHistory,
    as_of: pd.Timestamp,
    churn: Any,
    horizon_weeks: int,
    value: Callable[[pd.DataFrame], np.ndarray],
) -> pd.DataFrame:
    """``frame`` (the week's active candidates, scored) with the lapsed retailers worth a
    win-back visit appended, flagged ``lapsed``; unchanged without a champion that scores
    lapsed retailers. ``value`` is the week's benefit of visiting candidate rows (the
    planner's, by the ranking it uses), given rows whose baseline is their usual value."""
    if not scores_lapsed(churn) or frame.empty:
        return frame
    snapshot = retailer_snapshot(history, as_of, horizon_weeks, lapsed=True).frame
    out = snapshot[snapshot["lapsed"] & ~snapshot["retailer_id"].isin(frame["retailer_id"])]
    if "manager_id" in out and "manager_id" in frame:  # a week prepared in parts: this part's
        out = out[out["manager_id"].isin(frame["manager_id"].dropna().unique())]
    features = churn.metadata.get_input_schema().input_names()
    if out.empty or not set(features) <= set(out.columns):
        return frame
    out = out.reset_index(drop=True)
    predicted = churn.predict(model_input(out, features))
    out["churn_probability"] = predicted["churn_probability"].to_numpy(float)
    out["reasons"] = predicted["reasons"].map(json.loads).to_list()
    out = out[worth_winning_back(out)].reset_index(drop=True)
    usual = usual_weekly_value(out)
    out["usual_weekly_value"] = usual
    out["value_at_risk"] = usual * horizon_weeks
    out["expected_benefit"] = value(out.assign(baseline_weekly_value=usual)) if len(out) else []
    out = out[out["expected_benefit"] > 0].reset_index(drop=True)
    out["purpose"] = "win_back"
    return pd.concat([frame.assign(lapsed=False), out], ignore_index=True)


def win_back_note(mine: pd.DataFrame, horizon_weeks: int) -> list[Note]:
    """How many of a manager's candidates are win-backs, for the plan's notes."""
    count = int(mine["lapsed"].fillna(False).sum()) if "lapsed" in mine else 0
    return [Note.of("win_back_candidates", count=count, weeks=horizon_weeks)] if count else []

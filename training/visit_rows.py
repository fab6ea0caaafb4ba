"""The rows the visit-effect model learns from: retailer-weeks with treatment and outcome.

Each row is a retailer at risk on a Monday snapshot, with ``_t`` (visited in the week from
the snapshot), ``_m`` (visited with the purpose the planner would give it) and ``_y`` (order
value over the next ``horizon_weeks`` relative to the retailer's own baseline). Why the
treatment and outcome are defined so is in ``training.visits``; this module also chooses
which Mondays train the model and which are held out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.calendar import to_days
from features.contract import VISIT_PURPOSES
from features.errors import UserInputError
from features.retailer import RetailerHistory, retailer_snapshot


@dataclass(frozen=True)
class VisitEffectConfig:
    """How the visit-effect model is trained; every field is logged with the run."""

    horizon_weeks: int = 8
    snapshot_every_weeks: int = 2
    min_history_weeks: int = 26
    holdout_weeks: int = 4  # the latest complete weekly snapshots, held out
    folds: int = 2
    max_rows: int = 400_000
    propensity_clip: float = 0.05
    max_outcome: float = 3.0
    nuisance_rounds: int = 250
    effect_rounds: int = 150
    seed: int = 0


@dataclass
class SnapshotWeeks:
    """The Monday snapshots a visit-effect run learns from, the ones it holds out, and the
    span of the data they were chosen in."""

    train: list[pd.Timestamp]
    holdout: list[pd.Timestamp]
    data_span: tuple[pd.Timestamp, pd.Timestamp]


def _monday_on_or_after(day: int) -> int:
    # Day 0 (1970-01-01) was a Thursday, so Mondays are the days with day % 7 == 4.
    return day + (4 - day) % 7


def plan_weeks(history: RetailerHistory, config: VisitEffectConfig) -> SnapshotWeeks:
    """Choose training and holdout Mondays, or say why the data is too short."""
    first, last = history.first_day, history.last_day
    span = (pd.Timestamp(first, unit="D"), pd.Timestamp(last, unit="D"))
    horizon = 7 * config.horizon_weeks
    earliest = _monday_on_or_after(first + 7 * config.min_history_weeks)
    latest = last + 1 - horizon  # the outcome window [t, t + H weeks) must be in the data
    latest -= (latest - 4) % 7
    holdout = [latest - 7 * k for k in range(config.holdout_weeks)][::-1]
    train_end = holdout[0] - horizon  # outcome windows of training weeks end before the holdout
    train = list(range(train_end, earliest - 1, -7 * config.snapshot_every_weeks))[::-1]
    if len(train) < 2 or holdout[0] < earliest:
        weeks = (last - first + 1) // 7
        raise UserInputError(
            f"--horizon-weeks {config.horizon_weeks} is longer than the data allows: "
            f"{weeks} weeks of orders ({span[0].date()} .. {span[1].date()}) must hold "
            f"{config.min_history_weeks} weeks of history, two training weeks and "
            f"{config.holdout_weeks} held-out weeks, each followed by a "
            f"{config.horizon_weeks}-week outcome window"
        )
    return SnapshotWeeks(
        train=[pd.Timestamp(d, unit="D") for d in train],
        holdout=[pd.Timestamp(d, unit="D") for d in holdout],
        data_span=span,
    )


def _window_sums(
    history: RetailerHistory, kind: str, codes: np.ndarray, start: int, days: int
) -> np.ndarray:
    """Per row (retailer code): order value (``orders``) or visit count in [start, start+days)."""
    log = history.orders if kind == "orders" else history.visits
    window = log.window(start, start + days)
    weights = log.values["amount"][window] if kind == "orders" else None
    sums = np.bincount(log.code[window], weights=weights, minlength=history.n)
    return sums[codes]


PurposeRule = Callable[[pd.DataFrame], pd.Series]


def _planned_purpose_visited(
    history: RetailerHistory,
    frame: pd.DataFrame,
    codes: np.ndarray,
    t: int,
    visited: np.ndarray,
    planned_purpose: pd.Series | None,
) -> np.ndarray:
    """Per row: visited in the week from ``t`` with the purpose a plan would give it now.

    Without logged purposes every visit counts (the purpose cannot be told apart); a row
    the planner gives no purpose (a lapsed shop not worth winning back) counts any visit.
    """
    log = history.visits
    logged = log.values.get("purpose_code") if log is not None else None
    if logged is None or planned_purpose is None:
        return visited
    planned = pd.Categorical(planned_purpose, categories=VISIT_PURPOSES).codes
    window = log.window(t, t + 7)
    width = len(VISIT_PURPOSES) + 1
    done = log.code[window].astype(np.int64) * width + logged[window]
    match = np.isin(codes.astype(np.int64) * width + planned, done)
    return np.where(planned < 0, visited, match & visited)


def visit_rows(
    history: RetailerHistory,
    date: pd.Timestamp,
    config: VisitEffectConfig,
    purposes: PurposeRule | None = None,
) -> pd.DataFrame:
    """Features at ``date`` with ``_t`` (visited that week), ``_m`` (visited with the
    planner's purpose, see ``training.visits``), that purpose ``_purpose`` and outcome ``_y``."""
    snapshot = retailer_snapshot(history, date, active_weeks=config.horizon_weeks)
    frame = snapshot.frame
    codes = history.ids.get_indexer(frame["retailer_id"])
    t = to_days(date)
    visited = _window_sums(history, "visits", codes, t, 7) > 0
    planned = purposes(frame) if purposes is not None else None
    matched = _planned_purpose_visited(history, frame, codes, t, visited, planned)
    value = _window_sums(history, "orders", codes, t, 7 * config.horizon_weeks)
    expected = frame["baseline_weekly_value"].to_numpy(dtype=np.float64) * config.horizon_weeks
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.clip(value / expected, 0.0, config.max_outcome)
    keep = np.isfinite(y) & (expected > 0)
    rows = frame.assign(
        _t=visited.astype(np.int8),
        _m=matched.astype(np.int8),
        _y=y,
        _purpose=planned.to_numpy() if planned is not None else None,
    )
    return rows.loc[keep].reset_index(drop=True)

"""A churn run's settings and the snapshots it trains, calibrates and is checked on."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from features.calendar import to_days
from features.errors import UserInputError
from features.retailer import (
    RetailerHistory,
)
from training.churn_labels import LabelSpec

SEGMENTS = ("format", "area_type")
MODELS = ("lightgbm", "logistic", "recency", "bgnbd")
LGBM_GRID = (
    {"num_leaves": 15, "min_child_samples": 100},
    {"num_leaves": 31, "min_child_samples": 200},
)


LABELS = ("hard", "soft")
RECENCY_FEATURE = "days_since_last_order"
BTYD_FEATURES = ("btyd_frequency", "btyd_recency_weeks", "btyd_age_weeks")
MIN_HISTORY_FLOOR_WEEKS = 13  # the shortest history before a training snapshot
MIN_TRAINING_SNAPSHOTS = 4  # snapshots come closer together until the span holds this many
CALIBRATION_FOLDS = 3
CALIBRATION_SNAPSHOTS = 3  # out-of-fold scores of the newest snapshots fit the calibration


@dataclass(frozen=True)
class ChurnConfig:
    """How a churn model is trained; every field is logged with the run."""

    horizon_weeks: int = 8
    label: str = "hard"
    soft_threshold: float = 0.5
    snapshot_every_weeks: int = 4
    min_history_weeks: int = 26
    active_weeks: int | None = None  # default: the horizon (not churned by the label's rule)
    follow_up_share: float = 0.2  # share of a week's visits managers spend on risk follow-ups
    top_k: int | None = None
    max_train_rows: int = 1_500_000
    max_tune_rows: int = 400_000  # rolling-origin folds fit on at most this many rows
    tune: bool = True
    lapsed: bool = True  # score (and learn from) retailers with no order in the window too
    seed: int = 0

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise UserInputError(f"--label must be hard or soft, got {self.label!r}")
        if self.horizon_weeks < 1:
            raise UserInputError("--horizon-weeks must be at least 1")
        if not 0 < self.soft_threshold < 1:
            raise UserInputError(
                f"--soft-threshold must be between 0 and 1, got {self.soft_threshold}"
            )

    @property
    def population_weeks(self) -> int:
        return self.active_weeks or self.horizon_weeks

    @property
    def label_spec(self) -> LabelSpec:
        return LabelSpec(self.horizon_weeks, self.label, self.soft_threshold)


@dataclass
class SnapshotPlan:
    cutoff: pd.Timestamp
    calibration: pd.Timestamp  # the latest training snapshot (calibration is out-of-fold)
    fit_dates: list[pd.Timestamp]
    data_span: tuple[pd.Timestamp, pd.Timestamp]
    min_history_weeks: int = 26
    step_weeks: int = 4


def _latest_cutoff(last: int, horizon_weeks: int) -> tuple[int, int]:
    """The last day whose label window fits in the data, and the Monday on or before it."""
    latest = last + 1 - 7 * horizon_weeks
    return latest, latest - (latest + 3) % 7


def _fits(first: int, cutoff: int, horizon_weeks: int) -> bool:
    """One training snapshot with a full label window before ``cutoff``, after the floor."""
    return cutoff - 7 * horizon_weeks >= first + 7 * MIN_HISTORY_FLOOR_WEEKS


def plan_snapshots(
    history: RetailerHistory, config: ChurnConfig, cutoff: pd.Timestamp | None = None
) -> SnapshotPlan:
    """Choose the holdout and training snapshot dates, or say why it can't.

    The holdout needs one label window after it and the training snapshots one each before
    it; nothing else. Calibration is fitted out of fold on the training snapshots, so no
    window is spent on it. When the span is short the snapshots come closer together
    (overlapping label windows are fine: they are different retailers' weeks at different
    ages) and the history before the first one shrinks towards 13 weeks, which the features
    tolerate (their windows are scaled to the weeks each retailer has been known).
    """
    first, last = history.first_day, history.last_day
    span = (pd.Timestamp(first, unit="D"), pd.Timestamp(last, unit="D"))
    shown = f"{span[0].date()} .. {span[1].date()}"
    horizon_days = 7 * config.horizon_weeks
    latest, latest_monday = _latest_cutoff(last, config.horizon_weeks)
    if not _fits(first, latest if cutoff is not None else latest_monday, config.horizon_weeks):
        weeks = (last - first + 1) // 7
        raise UserInputError(
            f"--horizon-weeks {config.horizon_weeks} is longer than the data allows: "
            f"{weeks} weeks of orders ({shown}) must hold {MIN_HISTORY_FLOOR_WEEKS} weeks of "
            f"history plus two {config.horizon_weeks}-week label windows; "
            f"{_what_would_work(first, last)}"
        )
    if cutoff is None:
        # The latest Monday: the week's state is then fully known, which keeps the
        # simulator oracle exact; any date may still be given with --cutoff.
        t = latest_monday
    else:
        t = to_days(cutoff)
        if not first <= t <= last:
            raise UserInputError(f"--cutoff {cutoff.date()} is outside the data ({shown})")
        if t > latest:
            raise UserInputError(
                f"--cutoff {cutoff.date()}: its {config.horizon_weeks}-week label window ends "
                f"after the data; the latest possible cutoff is "
                f"{pd.Timestamp(latest, unit='D').date()}"
            )
        if not _fits(first, t, config.horizon_weeks):
            earliest_cutoff = first + 7 * MIN_HISTORY_FLOOR_WEEKS + horizon_days
            raise UserInputError(
                f"--cutoff {cutoff.date()} leaves too little history before it; the earliest "
                f"possible cutoff is {pd.Timestamp(earliest_cutoff, unit='D').date()}"
            )
    last_fit = t - horizon_days
    # Short spans give up history before the first snapshot, keeping a few weekly ones.
    room = (last_fit - first) // 7 - (MIN_TRAINING_SNAPSHOTS - 1)
    history_weeks = max(min(config.min_history_weeks, room), MIN_HISTORY_FLOOR_WEEKS)
    earliest = first + 7 * history_weeks
    step = config.snapshot_every_weeks
    while step > 1 and (last_fit - earliest) // (7 * step) + 1 < MIN_TRAINING_SNAPSHOTS:
        step -= 1
    fit = []
    day = last_fit
    while day >= earliest:
        fit.append(pd.Timestamp(day, unit="D"))
        day -= 7 * step
    return SnapshotPlan(
        cutoff=pd.Timestamp(t, unit="D"),
        calibration=pd.Timestamp(last_fit, unit="D"),
        fit_dates=sorted(fit),
        data_span=span,
        min_history_weeks=history_weeks,
        step_weeks=step,
    )


def _what_would_work(first: int, last: int) -> str:
    """The longest horizon this span holds and the cutoffs that would work with it."""
    for weeks in range(52, 0, -1):
        latest, latest_monday = _latest_cutoff(last, weeks)
        # The default cutoff (a Monday) must fit too, so the horizon works without --cutoff.
        if _fits(first, latest_monday, weeks):
            earliest = first + 7 * (MIN_HISTORY_FLOOR_WEEKS + weeks)
            return (
                f"the longest horizon it holds is {weeks} weeks "
                f"(--horizon-weeks {weeks} with --cutoff "
                f"{pd.Timestamp(earliest, unit='D').date()} .. "
                f"{pd.Timestamp(latest, unit='D').date()})"
            )
    return f"it holds no horizon: give at least {MIN_HISTORY_FLOOR_WEEKS + 2} weeks of orders"

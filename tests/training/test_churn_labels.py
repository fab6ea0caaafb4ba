"""Churn labels on hand-made orders, and how training snapshots are placed in time."""

from __future__ import annotations

import pandas as pd
import pytest

from features.calendar import to_days
from features.errors import UserInputError
from features.retailer import prepare_history, retailer_snapshot
from training.churn import ChurnConfig, plan_snapshots
from training.churn_labels import LabelSpec, churn_labels
from training.churn_snapshots import MIN_HISTORY_FLOOR_WEEKS, MIN_TRAINING_SNAPSHOTS

T = pd.Timestamp("2024-03-06")  # a Wednesday
H = 2  # weeks: the label window is [T, T + 14 days)


def _orders(rows: list[tuple[str, int, float]]) -> pd.DataFrame:
    """Orders from (retailer, days relative to T, amount)."""
    return pd.DataFrame(
        {
            "retailer_id": [r for r, _, _ in rows],
            "order_date": [T + pd.Timedelta(days=d) for _, d, _ in rows],
            "amount": [a for _, _, a in rows],
        }
    )


ORDERS = _orders(
    [
        ("on_t", -3, 100.0),
        ("on_t", 0, 100.0),  # on the snapshot date: inside the window
        ("at_end", -3, 100.0),
        ("at_end", 14, 500.0),  # exactly T + 7H: outside the window
        ("last_day", -3, 100.0),
        ("last_day", 13, 100.0),  # the window's last day
        ("none", -3, 100.0),
        ("before", -1, 100.0),  # the day before T: not part of the future
        ("small", -3, 100.0),
        ("small", 5, 99.99),
        ("enough", -3, 100.0),
        ("enough", 5, 60.0),
        ("enough", 6, 40.0),
    ]
)
BASELINE = 50.0  # weekly: the soft threshold 0.5 x 50 x 2 weeks is 50.0


@pytest.fixture(scope="module")
def history():
    return prepare_history({"orders": ORDERS})


def _frame(ids: list[str], as_of: pd.Timestamp = T, baseline: float = BASELINE) -> pd.DataFrame:
    return pd.DataFrame({"retailer_id": ids, "as_of": as_of, "baseline_weekly_value": baseline})


IDS = ["on_t", "at_end", "last_day", "none", "before", "small", "enough"]


def test_hard_label_window_is_t_inclusive_to_t_plus_7h_exclusive(history):
    labels = churn_labels(history, _frame(IDS), LabelSpec(H, "hard"))
    got = dict(zip(IDS, labels, strict=True))
    assert got == {
        "on_t": 0, "at_end": 1, "last_day": 0, "none": 1, "before": 1, "small": 0, "enough": 0,
    }  # fmt: skip
    assert labels.name == "churned"


def test_soft_label_compares_window_value_with_the_baseline(history):
    labels = churn_labels(history, _frame(IDS, baseline=BASELINE), LabelSpec(H, "soft", 0.5))
    got = dict(zip(IDS, labels, strict=True))
    # Threshold 50: on_t 100 and last_day 100 and enough (60 + 40) stay; small 99.99 stays;
    # at_end's 500 is outside the window; none and before have nothing in it.
    assert got == {
        "on_t": 0, "at_end": 1, "last_day": 0, "none": 1, "before": 1, "small": 0, "enough": 0,
    }  # fmt: skip
    # The comparison is strict: exactly the threshold is not churn, a cent less is.
    exact = churn_labels(history, _frame(["enough"], baseline=50.0), LabelSpec(H, "soft", 1.0))
    assert exact.tolist() == [0]
    above = churn_labels(history, _frame(["small"], baseline=50.0), LabelSpec(H, "soft", 1.0))
    assert above.tolist() == [1]


def test_soft_label_uses_the_snapshot_baseline(history):
    snapshot = retailer_snapshot(history, T, active_weeks=1).frame
    # Each retailer ordered 100 three days before T, on its first day: baseline 100 a week.
    assert snapshot["baseline_weekly_value"].tolist() == [100.0] * len(snapshot)
    labels = churn_labels(history, snapshot, LabelSpec(H, "soft", 0.5)).tolist()
    got = dict(zip(snapshot["retailer_id"], labels, strict=True))
    # The threshold is 0.5 x 100 x 2 weeks = 100: exactly 100 is not below it, 99.99 is.
    assert got == {
        "on_t": 0, "at_end": 1, "last_day": 0, "none": 1, "before": 1, "small": 1, "enough": 0,
    }  # fmt: skip


def test_labels_follow_each_rows_own_snapshot_date(history):
    later = T + pd.Timedelta(days=7)
    frame = pd.concat(
        [_frame(["at_end", "on_t"]), _frame(["at_end", "on_t"], as_of=later)], ignore_index=True
    )
    frame.index = [10, 11, 12, 13]
    labels = churn_labels(history, frame, LabelSpec(H, "hard"))
    # From T + 7 the window reaches T + 20: at_end's order is in it, on_t's is before it.
    assert labels.to_dict() == {10: 1, 11: 0, 12: 0, 13: 1}


def test_window_complete():
    spec = LabelSpec(H)
    t = to_days(T)
    assert spec.window_complete(T, t + 7 * H - 1)
    assert spec.window_complete(T, t + 7 * H + 30)
    assert not spec.window_complete(T, t + 7 * H - 2)


def test_invalid_label_spec_raises():
    with pytest.raises(ValueError, match="label kind 'medium'"):
        LabelSpec(8, "medium")
    with pytest.raises(ValueError, match="at least one week"):
        LabelSpec(0)


# ------------------------------------------------------------------ snapshot plan
def _span_history(first: str, last: str):
    days = pd.date_range(first, last, freq="D")
    return prepare_history(
        {"orders": pd.DataFrame({"retailer_id": "R1", "order_date": days, "amount": 1.0})}
    )


def _check_plan(history, config, plan) -> None:
    horizon = pd.Timedelta(weeks=config.horizon_weeks)
    first = pd.Timestamp(history.first_day, unit="D")
    last = pd.Timestamp(history.last_day, unit="D")
    assert config.label_spec.window_complete(plan.cutoff, history.last_day)
    # Calibration is out of fold: the newest training snapshot's labels end at the cutoff.
    assert plan.calibration + horizon == plan.cutoff == plan.fit_dates[-1] + horizon
    assert MIN_HISTORY_FLOOR_WEEKS <= plan.min_history_weeks <= config.min_history_weeks
    assert 1 <= plan.step_weeks <= config.snapshot_every_weeks
    assert plan.fit_dates == sorted(plan.fit_dates)
    for date in plan.fit_dates:
        assert date + horizon <= plan.cutoff
        assert date >= first + pd.Timedelta(weeks=plan.min_history_weeks)
    # Snapshots come closer together rather than fall under four, while the span allows.
    room = (plan.fit_dates[-1] - first).days // 7 - MIN_HISTORY_FLOOR_WEEKS
    assert len(plan.fit_dates) >= min(MIN_TRAINING_SNAPSHOTS, room + 1)
    assert plan.data_span == (first, last)


@pytest.mark.parametrize("last", ["2025-02-21", "2025-02-23", "2025-02-24", "2025-03-01"])
def test_default_cutoff_is_a_monday_with_its_window_inside_the_data(last):
    history = _span_history("2024-01-01", last)
    config = ChurnConfig(horizon_weeks=8)
    plan = plan_snapshots(history, config)
    assert plan.cutoff.weekday() == 0
    assert plan.cutoff + pd.Timedelta(weeks=8) <= pd.Timestamp(last) + pd.Timedelta(days=1)
    # The newest such Monday.
    assert plan.cutoff + pd.Timedelta(weeks=9) > pd.Timestamp(last) + pd.Timedelta(days=1)
    _check_plan(history, config, plan)


@pytest.mark.parametrize("horizon", [1, 4, 8, 13])
@pytest.mark.parametrize("extra_days", range(7))
def test_default_cutoff_meets_the_rules_of_a_given_one(horizon, extra_days):
    # Data just long enough for the horizon, plus 0..6 days: the default cutoff (a Monday)
    # must still leave room for two training snapshots, as a given cutoff must.
    config = ChurnConfig(horizon_weeks=horizon)
    first = pd.Timestamp("2024-01-03")
    needed_weeks = MIN_HISTORY_FLOOR_WEEKS + 2 * horizon
    last = first + pd.Timedelta(weeks=needed_weeks, days=extra_days - 1)
    history = _span_history(str(first.date()), str(last.date()))
    try:
        plan = plan_snapshots(history, config)
    except UserInputError as exc:
        assert "--horizon-weeks" in str(exc)
        return
    _check_plan(history, config, plan)
    again = plan_snapshots(history, config, plan.cutoff)
    assert again == plan


@pytest.fixture(scope="module")
def year():
    return _span_history("2024-01-01", "2025-02-21")  # Monday .. Friday, 60 weeks


@pytest.mark.parametrize("cutoff", ["2024-12-18", "2024-12-28", "2024-12-20"])
def test_given_cutoff_any_weekday(year, cutoff):
    config = ChurnConfig(horizon_weeks=8, snapshot_every_weeks=4)
    plan = plan_snapshots(year, config, pd.Timestamp(cutoff))
    assert plan.cutoff == pd.Timestamp(cutoff)
    assert plan.calibration == pd.Timestamp(cutoff) - pd.Timedelta(weeks=8)
    _check_plan(year, config, plan)
    gaps = {b - a for a, b in zip(plan.fit_dates, plan.fit_dates[1:], strict=False)}
    assert gaps <= {pd.Timedelta(weeks=4)}


@pytest.mark.parametrize(
    ("horizon", "cutoff", "message"),
    [
        (8, "2023-06-01", r"^--cutoff 2023-06-01 is outside the data "
                          r"\(2024-01-01 \.\. 2025-02-21\)$"),
        (8, "2025-03-01", r"^--cutoff 2025-03-01 is outside the data"),
        (8, "2025-02-21", r"^--cutoff 2025-02-21: its 8-week label window ends after the data; "
                          r"the latest possible cutoff is 2024-12-28$"),
        (8, "2024-12-29", r"label window ends after the data"),
        (8, "2024-03-01", r"^--cutoff 2024-03-01 leaves too little history before it; "
                          r"the earliest possible cutoff is 2024-05-27$"),
        (8, "2024-05-26", r"too little history"),
        (200, None, r"^--horizon-weeks 200 is longer than the data allows: 59 weeks of orders"),
        (24, None, r"^--horizon-weeks 24 is longer than the data allows: .*; the longest "
                   r"horizon it holds is 23 weeks \(--horizon-weeks 23 with --cutoff "
                   r"2024-09-09 \.\. 2024-09-14\)$"),
    ],
)  # fmt: skip
def test_plan_errors_say_what_to_change(year, horizon, cutoff, message):
    config = ChurnConfig(horizon_weeks=horizon)
    with pytest.raises(UserInputError, match=message) as caught:
        plan_snapshots(year, config, pd.Timestamp(cutoff) if cutoff else None)
    assert "\n" not in str(caught.value)


def test_plan_edges_are_accepted(year):
    config = ChurnConfig(horizon_weeks=8)
    for cutoff in ("2024-05-27", "2024-12-28"):
        assert plan_snapshots(year, config, pd.Timestamp(cutoff)).cutoff == pd.Timestamp(cutoff)

"""Point-in-time retailer features: no look-ahead, known answers, switched-off tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.calendar import to_days
from features.contract import SKILLS, VISIT_PURPOSES
from features.retailer import (
    build_retailer_features,
    last_year_anchor,
    prepare_history,
    retailer_snapshot,
)
from features.validate import load_dataset
from simulator import SimulationConfig, Territory, export_dataset

# Wednesday (also an assessment date in the simulated data), Saturday, Monday.
AS_OF = ("2024-11-20", "2024-09-07", "2024-10-14")
DATE_COLUMNS = {
    "orders": "order_date",
    "visits": "visit_date",
    "complaints": "complained_on",
    "surveys": "surveyed_on",
    "assessments": "assessed_on",
    "trainings": "completed_on",
}


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    out: Path = tmp_path_factory.mktemp("retailer-features")
    territory = Territory.create(SimulationConfig(n_retailers=400, n_managers=4, seed=3))
    territory.run(60)
    export_dataset(territory, out)
    return load_dataset(out).tables


@pytest.fixture(scope="module")
def base_frames(tables) -> dict[str, pd.DataFrame]:
    history = prepare_history(tables)
    return {d: retailer_snapshot(history, d).frame for d in AS_OF}


# ------------------------------------------------------------------ point in time
def _mutate_future(
    tables: dict[str, pd.DataFrame], t: pd.Timestamp, rng: np.random.Generator, rates: dict
) -> dict[str, pd.DataFrame]:
    """Delete, rewrite and add records dated on or after ``t``; leave everything else alone."""
    out = dict(tables)
    retailer_ids = tables["orders"]["retailer_id"].unique()
    for name, date_column in DATE_COLUMNS.items():
        table = tables[name].copy()
        future = (table[date_column] >= t).to_numpy()
        # Delete a share of the future rows.
        drop = future & (rng.random(len(table)) < rates["delete"])
        table = table.loc[~drop].reset_index(drop=True)
        future = (table[date_column] >= t).to_numpy()
        change = np.flatnonzero(future & (rng.random(len(table)) < rates["change"]))
        # New rows: copies of random rows, dated from t (inclusive) onwards.
        source = table.sample(
            n=rates["add"], replace=True, random_state=int(rng.integers(1 << 31))
        ).reset_index(drop=True)
        source[date_column] = t + pd.to_timedelta(rng.integers(0, 60, len(source)), unit="D")
        source.loc[0, date_column] = t  # always one record exactly on the as-of date
        table = pd.concat([table, source], ignore_index=True)
        change = np.concatenate([change, np.arange(len(table) - len(source), len(table))])
        k = len(change)
        if k:
            table.loc[change, date_column] = t + pd.to_timedelta(rng.integers(0, 90, k), unit="D")
            _rewrite_values(name, table, change, rng, retailer_ids)
        out[name] = table
    return out


def _rewrite_values(name, table, rows, rng, retailer_ids) -> None:
    k = len(rows)
    if "retailer_id" in table:
        table.loc[rows, "retailer_id"] = rng.choice(retailer_ids, k)
    if name == "orders":
        table.loc[rows, "amount"] = rng.uniform(0, 50_000, k).round(2)
        table.loc[rows, "quantity"] = rng.integers(0, 200, k).astype(float)
        table.loc[rows, "brand_count"] = rng.integers(1, 40, k)
        table.loc[rows, "premium_share"] = rng.uniform(0, 1, k).round(3)
    elif name == "visits":
        table.loc[rows, "purpose"] = rng.choice(list(VISIT_PURPOSES), k)
        table.loc[rows, "duration_min"] = rng.uniform(1, 120, k).round()
    elif name == "complaints":
        table.loc[rows, "category"] = rng.choice(table["category"].dropna().unique(), k)
    elif name == "surveys":
        table.loc[rows, "satisfaction"] = rng.integers(1, 6, k)
    elif name == "assessments":
        table.loc[rows, "score"] = rng.uniform(0, 100, k).round()
        table.loc[rows, "skill"] = rng.choice(list(SKILLS), k)
    elif name == "trainings":
        table.loc[rows, "course_id"] = rng.choice(table["course_id"].unique(), k)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    as_of=st.sampled_from(AS_OF),
    seed=st.integers(0, 2**32 - 1),
    delete=st.sampled_from([0.0, 0.3, 1.0]),
    change=st.sampled_from([0.0, 0.5, 1.0]),
    add=st.integers(1, 300),
)
def test_features_ignore_records_on_or_after_the_as_of_date(
    tables, base_frames, as_of, seed, delete, change, add
):
    t = pd.Timestamp(as_of)
    rates = {"delete": delete, "change": change, "add": add}
    changed = _mutate_future(tables, t, np.random.default_rng(seed), rates)
    frame = retailer_snapshot(prepare_history(changed), as_of).frame
    pd.testing.assert_frame_equal(frame, base_frames[as_of])


def test_base_snapshot_is_not_trivial(base_frames):
    for frame in base_frames.values():
        assert len(frame) > 300
        assert frame["value_13w"].gt(0).all()
        assert frame["manager_market_insight"].notna().any() or frame["as_of"].iloc[0] < (
            pd.Timestamp("2024-05-23")
        )


# ------------------------------------------------------------------ known answers
T = pd.Timestamp("2024-03-06")  # a Wednesday


def _orders(rows: list[tuple[str, int, float]]) -> pd.DataFrame:
    """Orders from (retailer, days relative to T, amount)."""
    return pd.DataFrame(
        {
            "retailer_id": [r for r, _, _ in rows],
            "order_date": [T + pd.Timedelta(days=d) for _, d, _ in rows],
            "amount": [a for _, _, a in rows],
            "quantity": [1.0] * len(rows),
        }
    )


KNOWN = _orders(
    [
        ("A", -200, 10.0),  # first order: week 28
        ("A", -30, 200.0),  # week 4
        ("A", -10, 50.0),  # week 1
        ("A", -1, 100.0),  # week 0
        ("A", 0, 1000.0),  # on the as-of date: not seen
        ("A", 3, 5000.0),
        ("B", -22, 40.0),  # week 3, first order
        ("B", -15, 80.0),  # week 2
        ("C", -100, 70.0),  # older than 13 weeks: already gone
        ("C", 2, 70.0),
        ("D", 0, 30.0),  # only on/after the as-of date
        ("D", 5, 30.0),
    ]
)


@pytest.fixture(scope="module")
def known():
    snapshot = retailer_snapshot(prepare_history({"orders": KNOWN}), T, active_weeks=13)
    return snapshot, snapshot.frame.set_index("retailer_id")


def test_known_values_and_order_counts(known):
    _, f = known
    assert sorted(f.index) == ["A", "B"]
    a, b = f.loc["A"], f.loc["B"]
    expected_a = {
        "value_4w": 150, "orders_4w": 2, "value_8w": 350, "orders_8w": 3,
        "value_13w": 350, "value_26w": 350, "value_52w": 360, "orders_52w": 4,
    }  # fmt: skip
    for column, value in expected_a.items():
        assert a[column] == pytest.approx(value), column
    assert (b["value_4w"], b["orders_4w"], b["value_52w"]) == (120, 2, 120)


def test_known_recency(known):
    _, f = known
    assert f.loc["A", "days_since_last_order"] == 1
    assert f.loc["B", "days_since_last_order"] == 15
    assert f.loc["A", "weeks_without_order"] == 0
    assert f.loc["B", "weeks_without_order"] == 2
    assert f.loc["A", "customer_age_days"] == 200
    assert f.loc["B", "customer_age_days"] == 22


def test_known_shares_and_baseline(known):
    _, f = known
    # A has 28 full weeks of history; B only 3, so its shares are over the weeks it existed.
    assert f.loc["A", "weeks_ordered_share_4w"] == pytest.approx(2 / 4)
    assert f.loc["A", "weeks_ordered_share_8w"] == pytest.approx(3 / 8)
    assert f.loc["A", "weeks_ordered_share_52w"] == pytest.approx(4 / 28)
    assert f.loc["B", "weeks_ordered_share_4w"] == pytest.approx(2 / 3)
    assert f.loc["A", "baseline_weekly_value"] == pytest.approx(350 / 26)
    assert f.loc["B", "baseline_weekly_value"] == pytest.approx(120 / 3)
    assert f.loc["A", "value_4w_vs_baseline"] == pytest.approx((150 / 4) / (350 / 26))
    assert f.loc["B", "value_4w_vs_baseline"] == pytest.approx((120 / 4) / 40)


def test_order_on_the_as_of_date_is_not_counted():
    # Moving A's as-of-date order a day earlier makes it visible; on the day it is not.
    shifted = KNOWN.copy()
    on_t = (shifted["retailer_id"] == "A") & (shifted["order_date"] == T)
    shifted.loc[on_t, "order_date"] = T - pd.Timedelta(days=1)
    before = retailer_snapshot(prepare_history({"orders": shifted}), T).frame
    before = before.set_index("retailer_id")
    assert before.loc["A", "value_4w"] == pytest.approx(1150)
    assert before.loc["A", "orders_4w"] == 3
    # The day after, the as-of-date order is in week 0.
    later = retailer_snapshot(prepare_history({"orders": KNOWN}), T + pd.Timedelta(days=1))
    later_a = later.frame.set_index("retailer_id").loc["A"]
    assert later_a["days_since_last_order"] == 1
    assert later_a["value_4w"] == pytest.approx(1150)


def test_population_exclusions_are_counted(known):
    snapshot, _ = known
    assert snapshot.excluded["no order before the as-of date"] == 1  # D
    assert snapshot.excluded["no order in the 13 weeks before (already gone)"] == 1  # C
    # With a longer active window C is back.
    longer = retailer_snapshot(prepare_history({"orders": KNOWN}), T, active_weeks=26)
    assert sorted(longer.frame["retailer_id"]) == ["A", "B", "C"]
    assert longer.excluded["no order in the 26 weeks before (already gone)"] == 0


def test_licence_rules_exclude_and_count():
    retailers = pd.DataFrame(
        {
            "retailer_id": ["A", "B", "C", "E"],
            "licensed_on": pd.to_datetime(["2020-01-01", "2024-03-06", "2019-05-01", None]),
            "licence_expires_on": pd.to_datetime(["2024-03-05", None, "2030-01-01", None]),
        }
    )
    snapshot = retailer_snapshot(
        prepare_history({"orders": KNOWN, "retailers": retailers}), T, active_weeks=26
    )
    assert list(snapshot.frame["retailer_id"]) == ["C"]
    assert snapshot.excluded["licence expired before the as-of date"] == 1  # A
    assert snapshot.excluded["licensed on or after the as-of date"] == 1  # B
    assert snapshot.excluded["no order before the as-of date"] == 2  # D (orders) and E
    # A licence expiring on the as-of date is still valid that day.
    expiring = retailers.assign(licence_expires_on=pd.to_datetime([T, None, None, None]))
    kept = retailer_snapshot(
        prepare_history({"orders": KNOWN, "retailers": expiring}), T, active_weeks=26
    )
    assert "A" in set(kept.frame["retailer_id"])


# ------------------------------------------------------------------ last year
def test_last_year_anchor_aligns_on_chinese_new_year():
    # 2025-01-29 and 2024-02-10 are the festival days.
    assert last_year_anchor(to_days("2025-01-08")) == to_days("2024-01-20")
    assert last_year_anchor(to_days("2025-01-29")) == to_days("2024-02-10")
    assert last_year_anchor(to_days("2025-07-15")) == to_days("2025-07-15") - 364
    assert last_year_anchor(to_days("2024-07-03")) == to_days("2024-07-03") - 364


# ------------------------------------------------------------------ optional tables
def test_orders_only_builds_and_says_what_is_switched_off():
    frame, history, snapshots = build_retailer_features(
        {"orders": KNOWN.drop(columns="quantity")}, [T, T + pd.Timedelta(days=3)]
    )
    assert [len(s.frame) for s in snapshots] == [2, 4]  # C and D ordered on T+2 and T
    assert len(frame) == 6
    disabled = " | ".join(history.disabled)
    for what in ("visit", "complaint", "satisfaction", "retailer attributes", "manager context"):
        assert what in disabled, (what, history.disabled)
    for absent in ("days_since_last_visit", "complaints_13w", "latest_satisfaction",
                   "format", "territory_size", "cartons_per_order_13w"):  # fmt: skip
        assert absent not in frame


def test_full_tables_give_visit_complaint_survey_and_manager_features(tables, base_frames):
    frame = base_frames["2024-11-20"]
    history = prepare_history(tables)
    assert not any(k.startswith(("visit", "complaint", "satisfaction")) for k in history.disabled)
    expected = [
        "days_since_last_visit", "visits_4w", "visits_13w", "visits_26w",
        "days_since_purposeful_visit", "complaints_13w", "complaints_52w",
        "days_since_last_complaint", "latest_satisfaction", "days_since_survey",
        "mean_satisfaction_52w", "format", "area_type", "grade", "licence_age_days",
        "days_to_licence_expiry", "territory_size", "manager_tenure_days",
        "manager_weekly_capacity",
        *(f"visits_13w_{p}" for p in VISIT_PURPOSES),
        *(f"manager_{s}" for s in SKILLS),
    ]  # fmt: skip
    assert not [c for c in expected if c not in frame], frame.columns
    assert frame["visits_13w"].gt(0).any()
    assert frame["latest_satisfaction"].notna().any()


def _count_before(events: pd.DataFrame, date_column: str, t: pd.Timestamp, days: int):
    window = events[
        (events[date_column] < t) & (events[date_column] >= t - pd.Timedelta(days=days))
    ]
    return window.groupby("retailer_id").size()


@pytest.mark.parametrize("as_of", AS_OF)
def test_event_features_match_a_direct_count(tables, base_frames, as_of):
    t = pd.Timestamp(as_of)
    frame = base_frames[as_of].set_index("retailer_id")
    ids = frame.index
    visits = _count_before(tables["visits"], "visit_date", t, 91).reindex(ids, fill_value=0)
    np.testing.assert_array_equal(frame["visits_13w"].to_numpy(), visits.to_numpy())
    complaints = _count_before(tables["complaints"], "complained_on", t, 364)
    complaints = complaints.reindex(ids, fill_value=0)
    np.testing.assert_array_equal(frame["complaints_52w"].to_numpy(), complaints.to_numpy())
    surveys = tables["surveys"]
    latest = (
        surveys[surveys["surveyed_on"] < t]
        .sort_values("surveyed_on", kind="stable")
        .groupby("retailer_id")["satisfaction"]
        .last()
        .reindex(ids)
    )
    np.testing.assert_allclose(frame["latest_satisfaction"].to_numpy(), latest.to_numpy())


@pytest.mark.parametrize("as_of", ["2024-05-22", "2024-11-20", "2024-11-21", "2024-08-22"])
def test_manager_skills_use_only_assessments_before_the_as_of_date(tables, as_of):
    t = pd.Timestamp(as_of)
    frame = retailer_snapshot(prepare_history(tables), t).frame
    assessments = tables["assessments"]
    seen = assessments[assessments["assessed_on"] < t]
    latest = (
        seen.sort_values("assessed_on", kind="stable")
        .groupby(["manager_id", "skill"])["score"]
        .last()
        .unstack("skill")
        .reindex(index=frame["manager_id"].to_numpy(), columns=list(SKILLS))
    )
    for skill in SKILLS:
        np.testing.assert_allclose(
            frame[f"manager_{skill}"].to_numpy(dtype=float),
            latest[skill].to_numpy(dtype=float),
            err_msg=f"{as_of} {skill}",
        )
    if as_of == "2024-05-22":  # the first assessments are on that day: none seen yet
        assert frame[[f"manager_{s}" for s in SKILLS]].isna().all().all()


def test_nan_slope_uses_only_the_weeks_with_a_value():
    from features.retailer.signals import nan_slope

    # Columns run from the latest week back; the level fell by 0.1 a week, with gaps.
    falling = np.array([[0.0, np.nan, 0.2, 0.3, np.nan, 0.5]])
    too_few = np.array([[1.0, np.nan, np.nan, 2.0, np.nan, np.nan]])
    flat = np.array([[3.0, 3.0, 3.0, 3.0, 3.0, 3.0]])
    assert nan_slope(falling)[0] == pytest.approx(-0.1)
    assert np.isnan(nan_slope(too_few)[0])
    assert nan_slope(flat)[0] == pytest.approx(0.0)

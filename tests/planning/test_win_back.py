"""Lapsed retailers worth winning back are candidates of the week's plan (issue 14), with
purpose ``win_back`` and a reason in both languages, under the usual capacity and gap rules."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from features.validate import load_dataset
from planning.plan import plan_manager, plan_manager_languages
from planning.week import FALLBACK_EFFECT_SHARE, Models, prepare_week
from simulator import SimulationConfig, Territory, export_dataset

RETURN_WEEKS = 20  # the fake champion gives lapsed retailers quiet up to this a fair chance


class LapsedChurnModel:
    """A churn champion that learnt from lapsed retailers: a fair chance of coming back for
    one quiet up to RETURN_WEEKS weeks, almost none after; little risk for the active."""

    def __init__(self, scores_lapsed: bool = True, come_back: float = 0.6) -> None:
        self.come_back = come_back
        self.metadata = SimpleNamespace(
            metadata={"scores_lapsed": str(scores_lapsed).lower(), "horizon_weeks": "8"},
            get_input_schema=lambda: SimpleNamespace(
                input_names=lambda: ["days_since_last_order"]
            ),
        )

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        weeks = frame["days_since_last_order"].to_numpy(float) / 7
        churn = np.where(weeks > 8, 1 - self.come_back, 0.1 + 0.02 * weeks)
        churn = np.where(weeks > RETURN_WEEKS, 0.99, churn)
        return pd.DataFrame({"churn_probability": churn, "reasons": ["[]"] * len(frame)})


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """Irregular buyers: sporadic ones go quiet for months and some come back."""
    data = tmp_path_factory.mktemp("win-back-data")
    config = SimulationConfig(n_retailers=500, n_managers=2, seed=2, ordering="irregular")
    export_dataset(Territory.create(config).run(40), data)
    return load_dataset(data).tables


@pytest.fixture(scope="module")
def lapsed_context(tables):
    return prepare_week(tables, None, Models(churn=LapsedChurnModel()))


def _managers(tables) -> list[str]:
    return sorted(tables["managers"]["manager_id"])


def test_lapsed_retailers_worth_it_are_win_back_candidates(tables, lapsed_context):
    frame = lapsed_context.features
    lapsed = frame[frame["lapsed"]]
    assert len(lapsed) > 0 and set(lapsed["purpose"]) == {"win_back"}
    weeks = lapsed["days_since_last_order"] / 7
    assert (weeks > 8).all() and (weeks <= RETURN_WEEKS).all()  # not those gone for good
    assert (lapsed["expected_benefit"] > 0).all()
    # Valued as the active ones are (here without a visit-effect model: churn risk x value
    # at risk x the fallback share), on the value they used to order.
    expected = 0.4 * lapsed["value_at_risk"] * FALLBACK_EFFECT_SHARE
    assert np.allclose(lapsed["expected_benefit"], expected, rtol=1e-6)
    active = frame[~frame["lapsed"]]
    assert (lapsed["value_at_risk"] > 0).all()
    # The active candidates are those of a plan without win-backs, unchanged.
    plain = prepare_week(tables, None, Models(churn=LapsedChurnModel(False)))
    assert "lapsed" not in plain.features
    assert list(active["retailer_id"]) == list(plain.features["retailer_id"])
    assert np.allclose(active["expected_benefit"], plain.features["expected_benefit"])


def test_lapsed_retailers_unlikely_to_come_back_are_not_candidates(tables):
    unlikely = prepare_week(tables, None, Models(churn=LapsedChurnModel(come_back=0.05)))
    assert "lapsed" not in unlikely.features or not unlikely.features["lapsed"].any()


def test_win_back_visits_are_planned_within_capacity_and_gap_with_reasons(tables, lapsed_context):
    frame = lapsed_context.features
    lapsed_ids = set(frame.loc[frame["lapsed"], "retailer_id"])
    planned = []
    for manager in _managers(tables):
        plans = plan_manager_languages(lapsed_context, manager, ("zh", "en"), capacity=60)
        zh, en = plans["zh"], plans["en"]
        assert len(zh["visits"]) <= zh["capacity"] == 60
        monday = pd.Timestamp(zh["week_start"])
        for visit in zh["visits"]:
            last = visit["days_since_last_visit"]
            assert last is None or last >= 7, visit  # the minimum gap holds for all
            assert pd.Timestamp(visit["date"]) >= monday
        mine = frame[(frame["manager_id"] == manager) & frame["lapsed"]]
        if len(mine):
            assert any(f"{len(mine)} retailers with no order" in n for n in en["notes"])
        for chinese, english in zip(zh["visits"], en["visits"], strict=True):
            if chinese["retailer_id"] in lapsed_ids:
                planned.append((chinese, english))
    assert planned, "no win-back visit planned"
    for chinese, english in planned:
        assert chinese["purpose"] == "win_back" and chinese["purpose_name"] == "停订客户挽回"
        assert re.fullmatch(
            r"已经\d+周没有订货（最后一次在\d{4}-\d\d-\d\d），此前常态每周约[\d,]+元；"
            r"回来订货的可能约60%。",
            chinese["reasons"][0],
        ), chinese["reasons"][0]
        assert english["reasons"][0].startswith("It has not ordered for ")
        assert "the chance it comes back is about 60%" in english["reasons"][0]


def test_the_frequency_rule_does_not_make_win_backs_due(tables, lapsed_context):
    frame = lapsed_context.features
    lapsed_ids = set(frame.loc[frame["lapsed"], "retailer_id"])
    manager = _managers(tables)[0]
    plan = plan_manager(lapsed_context, manager, capacity=40, max_days_between_visits=28)
    due = [v for v in plan["visits"] if v["due"]]
    assert due and not any(v["retailer_id"] in lapsed_ids for v in due)
    json.dumps(plan)  # the plan with win-backs is still plain JSON


def test_a_week_prepared_for_one_manager_gives_the_plans_of_the_whole_week(tables):
    """`plan visits` scores only the manager's retailers; the plan is the whole week's."""
    models = Models(churn=LapsedChurnModel())
    whole = prepare_week(tables, None, models)
    for manager in _managers(tables):
        part = prepare_week(tables, None, models, managers=[manager])
        assert set(part.features["manager_id"]) == {manager}
        assert plan_manager_languages(part, manager) == plan_manager_languages(whole, manager)

"""Purposes read from a retailer's signals deliver what the simulator's truth says they should."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contract import VISIT_PURPOSES
from features.retailer import prepare_history, retailer_snapshot
from features.validate import load_dataset
from planning.purpose import TALKING_POINTS, choose_purposes
from simulator import SimulationConfig, Territory, export_dataset
from simulator.rules import delivered as delivered_share


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    data = tmp_path_factory.mktemp("purpose-data")
    territory = Territory.create(SimulationConfig(n_retailers=1500, n_managers=5, seed=21))
    export_dataset(territory.run(60), data)
    history = prepare_history(load_dataset(data).tables)
    frame = retailer_snapshot(history, territory.current_date, 8).frame
    needs = territory.needs()
    delivered = pd.DataFrame(
        {p: delivered_share(needs, p) for p in VISIT_PURPOSES}, index=territory.retailer_ids()
    )
    delivered["base_value"] = territory.retailers.base_value
    return frame.join(delivered, on="retailer_id")


def _delivered_share(frame: pd.DataFrame, purposes: pd.Series) -> float:
    """Value-weighted share of the best purpose's effect, over the visits worth the most."""
    effects = frame[list(VISIT_PURPOSES)].to_numpy()
    best = effects.max(axis=1) * frame["base_value"].to_numpy()
    chosen = effects[np.arange(len(frame)), [VISIT_PURPOSES.index(p) for p in purposes]]
    chosen = chosen * frame["base_value"].to_numpy()
    worth_visiting = best >= np.quantile(best, 0.65)
    return chosen[worth_visiting].sum() / best[worth_visiting].sum()


def test_chosen_purposes_deliver_most_of_the_best_purposes_effect(snapshot):
    share = _delivered_share(snapshot, choose_purposes(snapshot))
    routine = _delivered_share(snapshot, pd.Series("routine", index=snapshot.index))
    assert share >= 0.9
    assert routine < 0.5  # the measure can fail: a purposeless visit delivers far less


def test_every_purpose_has_a_talking_point_and_signals_pick_the_expected_one():
    frame = pd.DataFrame(
        {
            "days_since_last_complaint": [10.0, 200.0, np.nan, np.nan, np.nan, np.nan],
            "recent_level_vs_baseline": [1.0, 0.5, 1.1, 1.1, 1.2, 1.0],
            "weeks_without_order": [0, 0, 0, 0, 0, 0],
            "log_value_trend_8w": [0.0, -0.3, 0.0, 0.0, 0.0, 0.0],
            "brand_breadth_change": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
            "brands_per_order_26w": [5.0, 5.0, 5.0, 1.0, 5.0, 5.0],
            "customer_age_days": [900, 900, 30, 900, 900, 900],
            "baseline_weekly_value": [100.0, 110.0, 120.0, 130.0, 900.0, 50.0],
            "format": ["a"] * 6,
        }
    )
    purposes = choose_purposes(frame).tolist()
    assert purposes == [
        "complaint_recovery",  # a complaint ten days ago outranks everything
        "order_decline_followup",  # the complaint 200 days ago has faded; orders fell
        "onboarding",
        "brand_cultivation",  # a fifth of its peers' brands with steady orders
        "relationship_maintenance",  # the high-value shop with nothing wrong
        "business_guidance",
    ]
    assert set(purposes) <= set(TALKING_POINTS)

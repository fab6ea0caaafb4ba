"""The simulator's causal stories: the default is unchanged, ``contested`` differs as told.

See docs/simulator.md ("A second story: contested").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.errors import UserInputError
from simulator import SimulationConfig, Territory
from simulator.scenarios import SCENARIOS, get_scenario

WEEKS = 30


def _orders(territory: Territory) -> pd.DataFrame:
    chunks = territory.records["orders"]
    return pd.DataFrame(
        {
            "retailer": np.concatenate([c["retailer"] for c in chunks]),
            "amount": np.concatenate([c["amount"] for c in chunks]),
        }
    )


@pytest.fixture(scope="module")
def runs() -> dict[str, Territory]:
    return {
        name: Territory.create(
            SimulationConfig(n_retailers=300, n_managers=3, seed=3, scenario=name)
        ).run(WEEKS)
        for name in SCENARIOS
    }


def test_default_story_is_the_one_from_before_scenarios(runs) -> None:
    """Fingerprint of 300 retailers, 3 managers, 30 weeks, seed 3, measured on the code
    before scenarios existed (the exported tables were byte-identical)."""
    orders = _orders(runs["default"])
    assert len(orders) == 8531
    assert round(float(orders["amount"].sum()), 2) == 13613466.86
    assert sum(len(c["retailer"]) for c in runs["default"].records["visits"]) == 3113
    assert "scenario" not in runs["default"].describe()["config"]


def test_contested_is_another_world(runs) -> None:
    contested = runs["contested"]
    assert contested.describe()["config"]["scenario"] == "contested"
    assert len(_orders(contested)) != len(_orders(runs["default"]))


def test_competitor_pressure_is_smooth_over_space_and_drives_declines() -> None:
    territory = Territory.create(
        SimulationConfig(n_retailers=1500, n_managers=6, seed=4, scenario="contested")
    )
    pressure = territory.competitor_pressure()
    assert pressure is not None and pressure.min() >= 0 and pressure.max() <= 1
    r = territory.retailers
    # Smooth: a retailer's nearest neighbour has nearly the same pressure.
    d = (r.lat[:, None] - r.lat[None, :]) ** 2 + (r.lon[:, None] - r.lon[None, :]) ** 2
    np.fill_diagonal(d, np.inf)
    neighbour = pressure[np.argmin(d, axis=1)]
    assert np.corrcoef(pressure, neighbour)[0, 1] > 0.9
    assert pressure.std() > 0.1
    territory.run(40)
    # Declines start more often where the competitor is strong (they last ~25 weeks either
    # way, so the share of time in decline moves less than the onsets).
    n = len(pressure)
    starts, was = np.zeros(n), np.zeros(n, dtype=bool)
    for chunk in territory.truth["retailer_weeks"]:
        mine = chunk["retailer"] < n
        idx, now = chunk["retailer"][mine], chunk["decline"][mine] > 0.005
        np.add.at(starts, idx, now & ~was[idx])
        was[idx] = now
    high = pressure > np.quantile(pressure, 2 / 3)
    low = pressure < np.quantile(pressure, 1 / 3)
    assert starts[high].mean() > 1.1 * starts[low].mean(), (
        starts[high].mean(),
        starts[low].mean(),
    )
    assert (
        Territory.create(SimulationConfig(n_retailers=50, n_managers=2)).competitor_pressure()
        is None
    )


def test_contested_managers_visit_big_shops_more_and_skill_has_a_threshold(runs) -> None:
    def value_visit_correlation(territory: Territory) -> float:
        visits = np.concatenate([c["retailer"] for c in territory.records["visits"]])
        n = 300
        counts = np.bincount(visits[visits < n], minlength=n)
        return float(np.corrcoef(territory.retailers.base_value[:n], counts)[0, 1])

    assert (
        value_visit_correlation(runs["contested"]) > value_visit_correlation(runs["default"]) + 0.2
    )
    story = get_scenario("contested")
    s = np.array([0.3, 0.55, 0.8])
    assert story.skill(s)[0] < 0.05 and story.skill(s)[2] > 0.95
    assert get_scenario("default").skill(s) is s


def test_unknown_scenario_is_a_clear_error() -> None:
    with pytest.raises(UserInputError, match=r"--scenario 'nope'.*contested, default"):
        SimulationConfig(scenario="nope")

"""The planner's self-check on data where the value of every ranking is known.

Synthetic held-out weeks: 20 managers x 4 weeks x 100 retailers, visits at random with a
known propensity, and a visit effect that depends on a hidden need the effect model may or
may not have learnt. The doubly robust pseudo-outcome is built from the true nuisances, so
each ranking's policy value is estimated without bias and the test asks only whether the
decision follows the evidence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.visit_policy import EFFECT_MODEL, MODEL_MARGIN, overlap_advice, policy_values

HORIZON = 8


def _weeks(seed: int = 0, propensity: float = 0.3):
    rng = np.random.default_rng(seed)
    managers, weeks, per = 20, 4, 100
    n = managers * weeks * per
    retailer = np.tile(np.arange(managers * per), weeks)
    manager = retailer // per
    week = np.repeat(np.arange(weeks), managers * per)
    value = np.exp(rng.normal(np.log(1000), 0.4, managers * per))[retailer]
    need = (rng.random(managers * per) < 0.2)[retailer]  # hidden: who a visit helps
    effect = np.where(need, 0.3, 0.01)  # relative lift of the next 8 weeks' value
    e = np.full(n, propensity)
    t = (rng.random(n) < e).astype(int)
    mu0 = np.full(n, 0.9)
    y = np.clip(mu0 + t * effect + rng.normal(0, 0.3, n), 0, 3)
    mu1 = mu0 + effect
    phi = mu1 - mu0 + t * (y - mu1) / e - (1 - t) * (y - mu0) / (1 - e)
    frame = pd.DataFrame(
        {
            "retailer_id": retailer.astype(str),
            "manager_id": manager.astype(str),
            "as_of": week,
            "_t": t,
            "baseline_weekly_value": value,
        }
    )
    return frame, phi, e, effect, value, rng


def _simple(value, rng, n):
    return {
        "churn_x_value": rng.random(n) * value,
        "churn": rng.random(n),
        "value": value,
        "rotation": rng.integers(0, 30, n).astype(float),
    }


def test_a_right_model_is_kept():
    frame, phi, e, effect, value, rng = _weeks()
    scores = {EFFECT_MODEL: effect * value, **_simple(value, rng, len(frame))}
    result = policy_values(frame, phi, e, scores, HORIZON, clip=0.05)
    assert result["chosen"] == EFFECT_MODEL, result["reason"]
    assert result["candidates"][EFFECT_MODEL]["chosen"]
    model = result["candidates"][EFFECT_MODEL]
    best = result["candidates"][result["best_simple"]]
    assert model["ci_low"] > best["estimate"], (model, best)
    assert "beyond the 5% margin" in result["reason"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_useless_model_falls_back_to_the_simple_ranking(seed):
    """The plan then ranks by churn probability (here noise), the reference rule, or by the
    best simple rule if that clearly beats it (here usual value: the same relative lift is
    worth more yuan in a bigger shop)."""
    frame, phi, e, effect, value, rng = _weeks(seed)
    shuffled = rng.permutation(effect * value)
    scores = {EFFECT_MODEL: shuffled, **_simple(value, rng, len(frame))}
    result = policy_values(frame, phi, e, scores, HORIZON, clip=0.05)
    assert result["chosen"] == result["fallback"] != EFFECT_MODEL, result["reason"]
    assert result["fallback"] in ("churn", result["best_simple"]), result["reason"]
    assert result["candidates"][result["fallback"]]["chosen"]
    assert sum(c["chosen"] for c in result["candidates"].values()) == 1
    assert result["yuan_per_score"] > 0


def test_a_simple_rule_that_clearly_beats_churn_replaces_it():
    """Visits help the big shops most: ranking by usual value clearly beats churn
    probability, so without a trusted model the plan ranks by value."""
    frame, phi, e, effect, value, rng = _weeks(6)
    big = value > np.quantile(value, 0.7)
    effect = np.where(big, 0.3, 0.01)
    t = frame["_t"].to_numpy()
    y = np.clip(0.9 + t * effect + rng.normal(0, 0.3, len(frame)), 0, 3)
    phi = effect + t * (y - 0.9 - effect) / e - (1 - t) * (y - 0.9) / (1 - e)
    scores = {EFFECT_MODEL: rng.random(len(frame)), **_simple(value, rng, len(frame))}
    result = policy_values(frame, phi, e, scores, HORIZON, clip=0.05)
    assert result["fallback"] == result["chosen"] == "value", result["reason"]
    assert "beyond the margin" in result["reason"]


def test_noise_does_not_move_the_plan_off_churn_probability():
    """A visit lifts every shop by the same yuan: no rule is better than another, and the
    luckiest of them does not replace churn probability."""
    frame, _, e, _, value, rng = _weeks(7)
    usual = value * HORIZON
    t = frame["_t"].to_numpy()
    lift = 50.0 / usual  # the same 50 yuan everywhere
    y = np.clip(0.9 + t * lift + rng.normal(0, 0.3, len(frame)), 0, 3)
    phi = lift + t * (y - 0.9 - lift) / e - (1 - t) * (y - 0.9) / (1 - e)
    scores = {EFFECT_MODEL: rng.random(len(frame)), **_simple(value, rng, len(frame))}
    result = policy_values(frame, phi, e, scores, HORIZON, clip=0.05)
    assert result["chosen"] == result["fallback"] == "churn", result["reason"]


def test_intervals_cover_the_true_value():
    """With known effects the true value of a ranking is computable; the 95% interval of
    the estimate should contain it."""
    frame, phi, e, effect, value, rng = _weeks(4)
    scores = {"value": value, "rotation": rng.random(len(frame))}
    result = policy_values(frame, phi, e, scores, HORIZON, clip=0.05)
    groups = frame["manager_id"] + "|" + frame["as_of"].astype(str)
    budget = frame.groupby(groups)["_t"].transform("sum")
    rank = frame.assign(s=value).groupby(groups)["s"].rank(ascending=False, method="first")
    chosen = rank <= budget
    true = (effect * value * HORIZON)[chosen.to_numpy()].sum() / groups.nunique()
    entry = result["candidates"]["value"]
    assert entry["ci_low"] < true < entry["ci_high"], (entry, true)


def test_an_edge_only_outside_the_overlap_is_not_trusted():
    """The model wins only on retailers managers almost never visit (propensity below the
    clip), where the estimate is extrapolation: the simple ranking is kept."""
    frame, phi, e, effect, value, rng = _weeks(5)
    e = e.copy()
    outside = effect > 0.1
    e[outside] = 0.01  # such rows are outside the overlap
    scores = {EFFECT_MODEL: effect * value, **_simple(value, rng, len(frame))}
    result = policy_values(frame, phi, e, scores, HORIZON, clip=0.05)
    assert result["chosen"] != EFFECT_MODEL
    assert "overlap" in result["reason"]


def test_margin_is_stated():
    assert 0 < MODEL_MARGIN < 0.2


def test_overlap_advice_says_what_to_do():
    poor = {"share_clipped": 0.6, "share_clipped_low": 0.45, "share_clipped_high": 0.15}
    text = overlap_advice(poor, 0.05)
    assert "60%" in text and "poor" in text and "at random" in text
    good = {"share_clipped": 0.05, "share_clipped_low": 0.03, "share_clipped_high": 0.02}
    assert "good" in overlap_advice(good, 0.05)


def test_the_ranking_in_use_stays_unless_clearly_beaten():
    """Every rule is worth the same: the rules alone pick churn probability, but it does
    not clearly beat the ranking in use, so the plan keeps ranking by value."""
    frame, _, e, _, value, rng = _weeks(7)
    t = frame["_t"].to_numpy()
    lift = 50.0 / (value * HORIZON)
    y = np.clip(0.9 + t * lift + rng.normal(0, 0.3, len(frame)), 0, 3)
    phi = lift + t * (y - 0.9 - lift) / e - (1 - t) * (y - 0.9) / (1 - e)
    scores = {EFFECT_MODEL: rng.random(len(frame)), **_simple(value, rng, len(frame))}
    result = policy_values(frame, phi, e, scores, HORIZON, clip=0.05, incumbent="value")
    assert result["challenger"] == "churn", result["reason"]
    assert result["chosen"] == "value" and result["kept_incumbent"], result["reason"]
    assert result["challenger_minus_incumbent"]["ci_low"] <= 0
    assert result["candidates"]["value"]["chosen"]
    assert sum(c["chosen"] for c in result["candidates"].values()) == 1
    assert "keeps" in result["reason"]


def test_a_clearly_better_model_replaces_the_ranking_in_use():
    frame, phi, e, effect, value, rng = _weeks()
    scores = {EFFECT_MODEL: effect * value, **_simple(value, rng, len(frame))}
    result = policy_values(frame, phi, e, scores, HORIZON, clip=0.05, incumbent="churn")
    assert result["chosen"] == EFFECT_MODEL and not result["kept_incumbent"], result["reason"]
    assert result["challenger_minus_incumbent"]["ci_low"] > 0
    assert "replaces" in result["reason"]

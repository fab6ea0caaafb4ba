"""BG/NBD: the likelihood recovers known parameters, and its churn score matches the story.

The CDNOW sample of Fader, Hardie & Lee (2005) is not available here, so the published
estimates (r=0.243, alpha=4.414, a=0.793, b=2.426, weeks) are the truth of a simulated
sample drawn by the model's own generative story; the fit must find them again.
"""

from __future__ import annotations

import numpy as np
import pytest

from features.btyd import bgnbd_p_alive, order_rhythm
from training.bgnbd import BGNBD, simulate_bgnbd

CDNOW = (0.243, 4.414, 0.793, 2.426)


@pytest.mark.slow
def test_fit_recovers_the_published_cdnow_parameters() -> None:
    x, t_x, big_t, _ = simulate_bgnbd(CDNOW, 20_000, 39.0, seed=0)
    model = BGNBD().fit(x, t_x, big_t)
    assert model.converged_
    for got, want in zip(model.params_, CDNOW, strict=True):
        assert abs(got - want) <= 0.12 * want, (model.describe(), CDNOW)


@pytest.mark.slow
def test_no_order_probability_matches_what_the_simulated_customers_do() -> None:
    # Observe 39 weeks, then 13 more: the predicted share with no order in those 13 weeks
    # must match the share that really placed none, overall and by predicted risk.
    x39, t39, big_t, ordered = simulate_bgnbd(CDNOW, 20_000, 39.0, seed=1, ahead=13.0)
    no_order = ~ordered
    model = BGNBD().fit(x39, t39, big_t)
    p = model.no_order_probability(x39, t39, big_t, 13.0)
    assert abs(p.mean() - no_order.mean()) < 0.02, (p.mean(), no_order.mean())
    bins = np.empty(len(p), dtype=int)
    bins[np.argsort(p, kind="stable")] = np.arange(len(p)) * 4 // len(p)  # quarters by risk
    for k in range(4):
        assert abs(p[bins == k].mean() - no_order[bins == k].mean()) < 0.04, k


def test_p_alive_is_one_without_repeat_orders_and_falls_with_silence() -> None:
    params = np.array(CDNOW)
    assert bgnbd_p_alive(params, np.array([0.0]), np.array([0.0]), np.array([30.0]))[0] == 1.0
    alive = bgnbd_p_alive(params, np.full(3, 5.0), np.array([30.0, 20.0, 5.0]), np.full(3, 30.0))
    assert alive[0] > alive[1] > alive[2]


def test_order_rhythm_reads_frequency_recency_age_and_gaps() -> None:
    # Retailer 0 orders on days 0, 7, 7 (twice that day), 21; retailer 1 once; 2 never.
    code = np.array([0, 0, 0, 0, 1])
    day = np.array([0, 7, 7, 21, 3])
    got = order_rhythm(code, day, 3, t=28)
    assert got["frequency"][:2].tolist() == [2, 0] and np.isnan(got["frequency"][2])
    assert got["recency_weeks"][0] == 3 and got["age_weeks"][0] == 4
    assert got["gap_mean_days"][0] == 10.5 and got["gap_max_days"][0] == 14
    assert np.isclose(got["gap_cv"][0], 3.5 / 10.5)
    assert np.isnan(got["gap_mean_days"][1])
    # Point in time: an order on day 28 is not seen at t=28.
    later = order_rhythm(np.r_[code, 0], np.r_[day, 28], 3, t=28)
    assert later["frequency"][0] == 2

"""Reason codes turn contributions into sentences with the retailer's own numbers."""

import json

import numpy as np
import pandas as pd
import pytest

from features.reasons import describe, reasons_json, top_reasons


@pytest.mark.parametrize(
    ("feature", "value", "zh", "en"),
    [
        (
            "value_8w_vs_last_year",
            0.58,
            "订货额较去年同期下降42%",
            "order value down 42% on last year",
        ),
        ("weeks_without_order", 3, "已连续3周未订货", "no order for 3 weeks"),
        ("latest_satisfaction", 2.0, "满意度仅2分", "satisfaction only 2/5"),
        ("brand_breadth_change", float("nan"), "近期没有订货", "no recent orders"),
    ],
)
def test_sentences_carry_the_numbers(feature, value, zh, en):
    reason = describe(feature, value)
    assert (reason["zh"], reason["en"]) == (zh, en)


def test_only_risk_raising_contributions_become_reasons_and_codes_are_not_repeated():
    features = ["days_since_last_order", "weeks_without_order", "latest_satisfaction", "grade"]
    frame = pd.DataFrame(
        {
            "days_since_last_order": [30.0, 2.0],
            "weeks_without_order": [4.0, 0],
            "latest_satisfaction": [2.0, 5.0],
            "grade": [10.0, 10.0],
        }
    )
    contributions = np.array([[1.5, 1.2, 0.4, -0.3, -4.0], [-1.0, -0.5, -0.2, -0.1, -4.0]])
    first, second = top_reasons(frame, contributions, features, k=3)
    assert [r["code"] for r in first] == ["order_gap", "low_satisfaction"]
    assert first[0]["en"] == "no order for 30 days"
    assert second == []
    assert json.loads(reasons_json([first])[0])[1]["zh"] == "满意度仅2分"

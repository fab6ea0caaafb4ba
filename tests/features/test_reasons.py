"""Reason codes turn contributions into sentences with the retailer's own numbers."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from features.i18n import FEATURE_NAMES
from features.reasons import TEMPLATES, describe, reasons_json, restate, top_reasons


@pytest.mark.parametrize(
    ("feature", "value", "zh", "en"),
    [
        (
            "value_8w_vs_last_year",
            0.58,
            "近8周订货额比去年同期下降42%。",
            "Its order value over 8 weeks is down 42% on the same weeks last year.",
        ),
        (
            "weeks_without_order",
            3,
            "已经连续3周没有订货。",
            "It has not ordered for 3 weeks in a row.",
        ),
        (
            "latest_satisfaction",
            2.0,
            "最近一次满意度只有2分（满分5分）。",
            "Its latest satisfaction is only 2/5.",
        ),
        (
            "brand_breadth_change",
            float("nan"),
            "近期没有订货。",
            "It has placed no recent orders.",
        ),
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
    assert first[0]["en"] == "It has not ordered for 30 days."
    assert second == []
    assert json.loads(reasons_json([first])[0])[1]["zh"] == "最近一次满意度只有2分（满分5分）。"


def test_an_old_shop_is_not_called_new_from_the_data_window():
    """725 days since the first order on record is the data window, not the licence age."""
    row = pd.Series({"customer_age_days": 725.0, "licence_age_days": 14.2 * 365})
    reason = describe("customer_age_days", 725.0, row)
    assert reason["zh"] == "持证经营约14年。" and reason["en"] == "Licensed about 14 years ago."
    assert "新客户" not in reason["zh"] and "new" not in reason["en"].lower()
    young = describe("customer_age_days", 40.0, pd.Series({"licence_age_days": 40.0}))
    assert young["zh"] == "新客户：持证仅40天。"
    unknown = describe("customer_age_days", 725.0)
    assert unknown["en"] == "Its first order on record was 725 days ago."
    assert "新客户" not in unknown["zh"]


def test_top_reasons_use_the_licence_age_when_the_frame_has_it():
    features = ["customer_age_days", "licence_age_days"]
    frame = pd.DataFrame({"customer_age_days": [726.0], "licence_age_days": [5200.0]})
    (reasons,) = top_reasons(frame, np.array([[0.9, 0.1, -3.0]]), features)
    assert reasons[0]["zh"] == "持证经营约14年。"


def _raw_names(text: str) -> list[str]:
    """Feature names found in a sentence: raw, or read out as "brands per order 26w"."""
    lowered = text.lower()
    found = [f for f in FEATURE_NAMES | dict.fromkeys(TEMPLATES) if "_" in f and f in lowered]
    return found + re.findall(r"\b\d+w\b|unusual|异常", lowered)


@pytest.mark.parametrize("feature", sorted(set(FEATURE_NAMES) | set(TEMPLATES)))
@pytest.mark.parametrize("value", [0.3, 12.0, float("nan")])
def test_no_reason_shows_a_feature_name(feature, value):
    """Every feature, at any value or missing, reads as a sentence in both languages."""
    reason = describe(feature, value)
    assert not _raw_names(reason["zh"]) and not _raw_names(reason["en"]), reason
    assert not re.search(r"[A-Za-z]{2,}", reason["zh"].replace("CRM", "")), reason
    assert reason["zh"].endswith("。") and reason["en"].endswith("."), reason
    assert reason["en"][0].isupper(), reason


def test_categorical_features_read_in_words():
    assert describe("format", "grocery")["zh"] == "业态为食杂店。"
    assert describe("area_type", "rural")["en"] == "Its urban or rural area is rural."


def test_restate_rewords_what_an_older_model_returned():
    old = [{"feature": "brands_per_order_26w", "code": "x", "zh": "brands per order 26w异常"}]
    (new,) = restate(old, pd.Series({"brands_per_order_26w": 6.4}))
    assert new["zh"] == "近半年每单平均订6.4个品规。" and new["feature"] == "brands_per_order_26w"

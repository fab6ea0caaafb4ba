"""Reason codes: a model's feature contributions turned into sentences a manager can act on.

Each reason names a feature, a stable code for scripts, and a sentence in Chinese and
English filled with the retailer's own numbers ("订货额较去年同期下降42% / order value down
42% on last year"). Only contributions that push the risk up are reasons.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import SKILL_NAMES_ZH, SKILLS


@dataclass(frozen=True)
class ReasonTemplate:
    code: str
    zh: str
    en: str
    value: Callable[[float], float | int] = round


def _down_pct(ratio: float) -> int:
    return round(max(0.0, 1 - ratio) * 100)


def _weekly_drop_pct(log_slope: float) -> int:
    return round(max(0.0, 1 - float(np.exp(log_slope))) * 100)


def _pct(share: float) -> int:
    return round(share * 100)


_T = ReasonTemplate
TEMPLATES: dict[str, ReasonTemplate] = {
    "days_since_last_order": _T("order_gap", "已{v}天未订货", "no order for {v} days"),
    "weeks_without_order": _T("order_gap", "已连续{v}周未订货", "no order for {v} weeks"),
    "value_8w_vs_last_year": _T(
        "value_down_yoy",
        "订货额较去年同期下降{v}%",
        "order value down {v}% on last year",
        _down_pct,
    ),
    "value_13w_vs_last_year": _T(
        "value_down_yoy",
        "近13周订货额较去年同期下降{v}%",
        "13-week order value down {v}% on last year",
        _down_pct,
    ),
    "value_4w_vs_baseline": _T(
        "value_down",
        "近4周订货额比自身常态低{v}%",
        "last 4 weeks {v}% below its usual level",
        _down_pct,
    ),
    "value_8w_vs_baseline": _T(
        "value_down",
        "近8周订货额比自身常态低{v}%",
        "last 8 weeks {v}% below its usual level",
        _down_pct,
    ),
    "trend_13w": _T("value_falling", "近13周订货额持续下滑", "order value falling for 13 weeks"),
    "trend_26w": _T("value_falling", "近半年订货额持续下滑", "order value falling for 26 weeks"),
    "volatility_13w": _T("erratic_orders", "订货很不稳定", "orders have become erratic"),
    "weeks_ordered_share_4w": _T(
        "order_frequency",
        "近4周仅{v}%的周有订货",
        "ordered in only {v}% of the last 4 weeks",
        _pct,
    ),
    "weeks_ordered_share_8w": _T(
        "order_frequency",
        "近8周仅{v}%的周有订货",
        "ordered in only {v}% of the last 8 weeks",
        _pct,
    ),
    "weeks_ordered_share_13w": _T(
        "order_frequency",
        "近13周仅{v}%的周有订货",
        "ordered in only {v}% of the last 13 weeks",
        _pct,
    ),
    "brand_breadth_change": _T(
        "brand_mix_narrowing", "订购品规减少{v}%", "brand mix narrowed by {v}%", _down_pct
    ),
    "brand_trend_8w": _T(
        "brand_mix_narrowing",
        "近8周订购品规每周减少约{v}%",
        "brand mix narrowing by about {v}% a week for 8 weeks",
        _weekly_drop_pct,
    ),
    "order_value_trend_8w": _T(
        "value_falling",
        "近8周单笔订货额每周下降约{v}%",
        "value per order falling by about {v}% a week for 8 weeks",
        _weekly_drop_pct,
    ),
    "brands_per_order_4w": _T(
        "brand_mix_narrow", "每单仅订{v}个品规", "only {v} brands per order"
    ),
    "complaints_13w": _T("complaints", "近13周投诉{v}次", "{v} complaint(s) in 13 weeks"),
    "complaints_52w": _T("complaints", "近一年投诉{v}次", "{v} complaint(s) in a year"),
    "days_since_last_complaint": _T(
        "recent_complaint", "{v}天前有投诉", "complained {v} days ago"
    ),
    "latest_satisfaction": _T("low_satisfaction", "满意度仅{v}分", "satisfaction only {v}/5"),
    "mean_satisfaction_52w": _T(
        "low_satisfaction",
        "近一年平均满意度{v}分",
        "average satisfaction {v}/5 this year",
        lambda v: round(v, 1),
    ),
    "days_since_last_visit": _T("not_visited", "已{v}天未拜访", "not visited for {v} days"),
    "days_since_purposeful_visit": _T(
        "no_purposeful_visit", "{v}天无针对性拜访", "no purposeful visit for {v} days"
    ),
    "days_to_licence_expiry": _T(
        "licence_expiring", "许可证{v}天后到期", "licence expires in {v} days"
    ),
    "value_4w": _T("low_value", "近4周订货额仅{v}元", "only {v} yuan ordered in 4 weeks"),
    "value_1w_vs_baseline": _T(
        "value_down",
        "上周订货额比自身常态低{v}%",
        "last week {v}% below its usual level",
        _down_pct,
    ),
    "value_2w_vs_baseline": _T(
        "value_down",
        "近2周订货额比自身常态低{v}%",
        "last 2 weeks {v}% below its usual level",
        _down_pct,
    ),
    "recent_level_vs_baseline": _T(
        "value_down",
        "近期订货水平比自身常态低{v}%",
        "recent orders {v}% below its usual level",
        _down_pct,
    ),
    "log_value_trend_8w": _T(
        "value_falling", "近8周订货额下滑", "order value falling for 8 weeks"
    ),
    "orders_4w": _T("order_frequency", "近4周仅订货{v}次", "only {v} orders in 4 weeks"),
    "orders_8w": _T("order_frequency", "近8周仅订货{v}次", "only {v} orders in 8 weeks"),
    "weeks_ordered_share_26w": _T(
        "order_frequency",
        "近半年仅{v}%的周有订货",
        "ordered in only {v}% of the last 26 weeks",
        _pct,
    ),
    "weeks_ordered_share_52w": _T(
        "order_frequency",
        "近一年仅{v}%的周有订货",
        "ordered in only {v}% of the last 52 weeks",
        _pct,
    ),
    "orders_13w": _T("order_frequency", "近13周仅订货{v}次", "only {v} orders in 13 weeks"),
    "orders_52w": _T("order_frequency", "近一年仅订货{v}次", "only {v} orders in a year"),
    "volatility_26w": _T("erratic_orders", "近半年订货很不稳定", "orders erratic over 26 weeks"),
    "days_since_survey": _T(
        "no_recent_survey", "{v}天未做满意度回访", "no satisfaction survey for {v} days"
    ),
    "visits_4w": _T("few_visits", "近4周拜访{v}次", "{v} visit(s) in 4 weeks"),
    "visits_13w": _T("few_visits", "近13周仅拜访{v}次", "only {v} visit(s) in 13 weeks"),
    "visits_26w": _T("few_visits", "近半年仅拜访{v}次", "only {v} visit(s) in 26 weeks"),
    "customer_age_days": _T("new_customer", "新客户（{v}天）", "new customer ({v} days)"),
    "territory_size": _T("large_territory", "客户经理负责{v}户", "manager serves {v} retailers"),
    "manager_tenure_days": _T(
        "new_manager", "客户经理入职仅{v}天", "manager joined only {v} days ago"
    ),
}
for _skill in SKILLS:
    TEMPLATES[f"manager_{_skill}"] = _T(
        f"manager_{_skill}",
        f"客户经理{SKILL_NAMES_ZH[_skill]}偏弱（{{v}}分）",
        f"manager's {_skill.replace('_', ' ')} is weak ({{v}}/100)",
    )

# The buyer's own rhythm (features.btyd): what makes a quiet monthly buyer normal.
TEMPLATES.update(
    {
        "recency_vs_gap": _T(
            "late_for_own_rhythm",
            "距上次订货已是平时订货间隔的{v}倍",
            "quiet for {v} times its usual gap between orders",
            lambda v: round(v, 1),
        ),
        "recency_vs_max_gap": _T(
            "late_for_own_rhythm",
            "未订货时间已达以往最长间隔的{v}%",
            "quiet for {v}% of its longest gap so far",
            _pct,
        ),
        "orders_missed": _T(
            "late_for_own_rhythm",
            "按自身节奏已少订约{v}次",
            "about {v} order(s) missed at its own rhythm",
            lambda v: round(v, 1),
        ),
        "gap_cv": _T("erratic_orders", "订货间隔很不规律", "irregular gaps between orders"),
        "gap_mean_days": _T(
            "infrequent_orders", "平均{v}天才订货一次", "orders only every {v} days on average"
        ),
        "order_days_per_week": _T(
            "infrequent_orders",
            "每周平均订货{v}次",
            "{v} order days a week on average",
            lambda v: round(v, 2),
        ),
        "btyd_frequency": _T("order_frequency", "累计仅复购{v}次", "only {v} repeat orders"),
        "btyd_recency_weeks": _T(
            "order_gap", "最后一次订货在首单后第{v}周", "last order {v} weeks after its first"
        ),
        "btyd_age_weeks": _T("new_customer", "首单仅{v}周前", "first order only {v} weeks ago"),
    }
)

# Per-order ratios and trends are undefined when the window holds no order at all.
NO_RECENT_ORDERS = {"code": "no_recent_orders", "zh": "近期没有订货", "en": "no recent orders"}
ORDER_RATIO_PREFIXES = (
    "value_",
    "brand",
    "trend_",
    "volatility_",
    "premium_",
    "cartons_",
    "recent_level",
    "log_value",
)


def describe(feature: str, value: float | None) -> dict[str, str]:
    """The reason sentence for one feature at one value."""
    template = TEMPLATES.get(feature)
    missing = value is None or (isinstance(value, float) and np.isnan(value))
    if missing and feature.startswith(ORDER_RATIO_PREFIXES):
        return dict(NO_RECENT_ORDERS)
    if template is None or missing:
        readable = feature.replace("_", " ")
        return {
            "code": template.code if template else feature,
            "zh": f"{readable}异常",
            "en": f"unusual {readable}",
        }
    shown = template.value(float(value))
    return {
        "code": template.code,
        "zh": template.zh.format(v=shown),
        "en": template.en.format(v=shown),
    }


def top_reasons(
    frame: pd.DataFrame, contributions: np.ndarray, features: list[str], k: int = 3
) -> list[list[dict]]:
    """For each row, the ``k`` features that raise its risk most, as reason dicts.

    Args:
        frame: the model input rows (feature values for the sentences).
        contributions: (rows, features + 1) log-odds contributions, bias last (LightGBM's
            ``pred_contrib`` layout).
    """
    contrib = np.asarray(contributions)[:, : len(features)]
    order = np.argsort(-contrib, axis=1)[:, :k]
    values = frame[features]
    out: list[list[dict]] = []
    for row, top in enumerate(order):
        reasons = []
        seen: set[str] = set()
        for j in top:
            if contrib[row, j] <= 0:
                break
            feature = features[j]
            value = values.iat[row, j]
            reason = describe(feature, None if pd.isna(value) else value)
            if reason["code"] in seen:
                continue
            seen.add(reason["code"])
            reasons.append(
                {"feature": feature, "contribution": round(float(contrib[row, j]), 4), **reason}
            )
        out.append(reasons)
    return out


def reasons_json(reasons: list[list[dict]]) -> list[str]:
    return [json.dumps(r, ensure_ascii=False) for r in reasons]

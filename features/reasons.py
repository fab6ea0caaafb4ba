"""Reason codes: a model's feature contributions turned into sentences a manager can act on.

Each reason names a feature, a stable code for scripts, and a sentence in Chinese and
English, each a full sentence filled with the retailer's own numbers ("近8周订货额比去年同期
下降42%。" / "Its order value over 8 weeks is down 42% on the same weeks last year.").
Only contributions that push the risk up are reasons. The words come from
``features.i18n``; no feature's raw name ever reaches a reader.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.i18n import (
    AREA_NAMES,
    FEATURE_NAMES,
    FORMAT_NAMES,
    PURPOSE_NAMES,
    SKILL_NAMES,
    feature_name,
    yuan,
)


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


def _one_decimal(value: float) -> float:
    return round(value, 1)


def _pct(share: float) -> int:
    return round(share * 100)


_T = ReasonTemplate
# Full sentences with the retailer's own numbers; ``{v}`` is the rounded value.
TEMPLATES: dict[str, ReasonTemplate] = {
    "days_since_last_order": _T(
        "order_gap", "已经{v}天没有订货。", "It has not ordered for {v} days."
    ),
    "weeks_without_order": _T(
        "order_gap", "已经连续{v}周没有订货。", "It has not ordered for {v} weeks in a row."
    ),
    "value_8w_vs_last_year": _T(
        "value_down_yoy",
        "近8周订货额比去年同期下降{v}%。",
        "Its order value over 8 weeks is down {v}% on the same weeks last year.",
        _down_pct,
    ),
    "value_13w_vs_last_year": _T(
        "value_down_yoy",
        "近13周订货额比去年同期下降{v}%。",
        "Its order value over 13 weeks is down {v}% on the same weeks last year.",
        _down_pct,
    ),
    "value_1w_vs_baseline": _T(
        "value_down",
        "上周订货额比自身常态低{v}%。",
        "Last week it ordered {v}% below its usual level.",
        _down_pct,
    ),
    "value_2w_vs_baseline": _T(
        "value_down",
        "近2周订货额比自身常态低{v}%。",
        "Over the last 2 weeks it ordered {v}% below its usual level.",
        _down_pct,
    ),
    "value_4w_vs_baseline": _T(
        "value_down",
        "近4周订货额比自身常态低{v}%。",
        "Over the last 4 weeks it ordered {v}% below its usual level.",
        _down_pct,
    ),
    "value_8w_vs_baseline": _T(
        "value_down",
        "近8周订货额比自身常态低{v}%。",
        "Over the last 8 weeks it ordered {v}% below its usual level.",
        _down_pct,
    ),
    "recent_level_vs_baseline": _T(
        "value_down",
        "近期订货水平比自身常态低{v}%。",
        "Its recent orders are {v}% below its usual level.",
        _down_pct,
    ),
    "trend_13w": _T(
        "value_falling", "近13周订货额持续下滑。", "Its order value has fallen for 13 weeks."
    ),
    "trend_26w": _T(
        "value_falling", "近半年订货额持续下滑。", "Its order value has fallen for 26 weeks."
    ),
    "log_value_trend_8w": _T(
        "value_falling", "近8周订货额在下滑。", "Its order value has fallen over 8 weeks."
    ),
    "order_value_trend_8w": _T(
        "value_falling",
        "近8周单笔订货额每周下降约{v}%。",
        "Its value per order has fallen by about {v}% a week for 8 weeks.",
        _weekly_drop_pct,
    ),
    "volatility_13w": _T(
        "erratic_orders", "近13周订货很不稳定。", "Its orders have become erratic over 13 weeks."
    ),
    "volatility_26w": _T(
        "erratic_orders", "近半年订货很不稳定。", "Its orders have been erratic over 26 weeks."
    ),
    "brand_breadth_change": _T(
        "brand_mix_narrowing",
        "近4周订购的品规比近半年减少{v}%。",
        "It orders {v}% fewer brands than over the last 26 weeks.",
        _down_pct,
    ),
    "brand_trend_8w": _T(
        "brand_mix_narrowing",
        "近8周订购品规每周减少约{v}%。",
        "Its brand mix has narrowed by about {v}% a week for 8 weeks.",
        _weekly_drop_pct,
    ),
    "brands_per_order_4w": _T(
        "brand_mix_narrow",
        "近4周每单只订{v}个品规。",
        "It orders only {v} brands per order.",
        _one_decimal,
    ),
    "brands_per_order_26w": _T(
        "brand_mix_narrow",
        "近半年每单平均订{v}个品规。",
        "Over 26 weeks it ordered {v} brands per order on average.",
        _one_decimal,
    ),
    "premium_share_13w": _T(
        "premium_share",
        "近13周中高档烟占订货额的{v}%。",
        "Premium brands were {v}% of its order value over 13 weeks.",
        _pct,
    ),
    "cartons_per_order_13w": _T(
        "order_size",
        "近13周每单平均{v}条。",
        "Over 13 weeks it ordered {v} cartons per order on average.",
        _one_decimal,
    ),
    "complaints_13w": _T(
        "complaints", "近13周投诉{v}次。", "It complained {v} time(s) in 13 weeks."
    ),
    "complaints_52w": _T(
        "complaints", "近一年投诉{v}次。", "It complained {v} time(s) in a year."
    ),
    "days_since_last_complaint": _T(
        "recent_complaint", "{v}天前有过投诉。", "It complained {v} days ago."
    ),
    "latest_satisfaction": _T(
        "low_satisfaction",
        "最近一次满意度只有{v}分（满分5分）。",
        "Its latest satisfaction is only {v}/5.",
    ),
    "mean_satisfaction_52w": _T(
        "low_satisfaction",
        "近一年平均满意度{v}分（满分5分）。",
        "Its average satisfaction this year is {v}/5.",
        _one_decimal,
    ),
    "days_since_survey": _T(
        "no_recent_survey",
        "已经{v}天没有做满意度回访。",
        "It has had no satisfaction survey for {v} days.",
    ),
    "days_since_last_visit": _T(
        "not_visited", "已经{v}天没有拜访。", "It has not been visited for {v} days."
    ),
    "days_since_purposeful_visit": _T(
        "no_purposeful_visit",
        "已经{v}天没有针对性拜访。",
        "It has had no purposeful visit for {v} days.",
    ),
    "visits_4w": _T("few_visits", "近4周拜访{v}次。", "It was visited {v} time(s) in 4 weeks."),
    "visits_13w": _T(
        "few_visits", "近13周只拜访了{v}次。", "It was visited only {v} time(s) in 13 weeks."
    ),
    "visits_26w": _T(
        "few_visits", "近半年只拜访了{v}次。", "It was visited only {v} time(s) in 26 weeks."
    ),
    "days_to_licence_expiry": _T(
        "licence_expiring", "许可证{v}天后到期。", "Its licence expires in {v} days."
    ),
    "customer_age_days": _T(
        "first_order",
        "数据中的第一笔订货在{v}天前。",
        "Its first order on record was {v} days ago.",
    ),
    "territory_size": _T(
        "large_territory", "客户经理负责{v}户。", "Its manager serves {v} retailers."
    ),
    "manager_tenure_days": _T(
        "new_manager", "客户经理入职仅{v}天。", "Its manager joined only {v} days ago."
    ),
    "manager_weekly_capacity": _T(
        "manager_capacity",
        "客户经理每周只能拜访{v}户。",
        "Its manager can make only {v} visits a week.",
    ),
    "grade": _T("grade", "档位为{v}档。", "It is a grade {v} retailer."),
    "baseline_weekly_value": _T(
        "usual_value", "常态每周订货约{v}元。", "It usually orders about {v} yuan a week.", yuan
    ),
}
_WINDOW_WORDS = {4: ("近4周", "4 weeks"), 8: ("近8周", "8 weeks"), 13: ("近13周", "13 weeks")}
_WINDOW_WORDS.update({26: ("近半年", "26 weeks"), 52: ("近一年", "52 weeks")})
for _w, (_zh, _en) in _WINDOW_WORDS.items():
    TEMPLATES[f"weeks_ordered_share_{_w}w"] = _T(
        "order_frequency",
        f"{_zh}只有{{v}}%的周有订货。",
        f"It ordered in only {{v}}% of the last {_en}.",
        _pct,
    )
    TEMPLATES[f"orders_{_w}w"] = _T(
        "order_frequency", f"{_zh}只订货{{v}}次。", f"It placed only {{v}} orders in {_en}."
    )
    TEMPLATES[f"value_{_w}w"] = _T(
        "low_value", f"{_zh}订货额仅{{v}}元。", f"It ordered only {{v}} yuan in {_en}.", yuan
    )
for _purpose, (_zh, _en) in PURPOSE_NAMES.items():
    TEMPLATES[f"visits_13w_{_purpose}"] = _T(
        "visit_mix",
        f"近13周有{{v}}次{_zh}拜访。",
        f"It had {{v}} {_en} visit(s) in 13 weeks.",
    )
for _skill, (_zh, _en) in SKILL_NAMES.items():
    TEMPLATES[f"manager_{_skill}"] = _T(
        f"manager_{_skill}",
        f"客户经理的{_zh}偏弱（{{v}}分）。",
        f"Its manager's {_en} is weak ({{v}}/100).",
    )

# The buyer's own rhythm (features.btyd): what makes a quiet monthly buyer normal.
TEMPLATES.update(
    {
        "recency_vs_gap": _T(
            "late_for_own_rhythm",
            "距上次订货已是平时订货间隔的{v}倍。",
            "Quiet for {v} times its usual gap between orders.",
            lambda v: round(v, 1),
        ),
        "recency_vs_max_gap": _T(
            "late_for_own_rhythm",
            "未订货时间已达以往最长间隔的{v}%。",
            "Quiet for {v}% of its longest gap so far.",
            _pct,
        ),
        "orders_missed": _T(
            "late_for_own_rhythm",
            "按自身节奏已少订约{v}次。",
            "About {v} order(s) missed at its own rhythm.",
            lambda v: round(v, 1),
        ),
        "gap_cv": _T("erratic_orders", "订货间隔很不规律。", "Irregular gaps between orders."),
        "gap_mean_days": _T(
            "infrequent_orders", "平均{v}天才订货一次。", "Orders only every {v} days on average."
        ),
        "order_days_per_week": _T(
            "infrequent_orders",
            "每周平均订货{v}次。",
            "Orders on {v} days a week on average.",
            lambda v: round(v, 2),
        ),
        "btyd_frequency": _T("order_frequency", "累计仅复购{v}次。", "Only {v} repeat orders."),
        "btyd_recency_weeks": _T(
            "order_gap", "最后一次订货在首单后第{v}周。", "Last order {v} weeks after its first."
        ),
        "btyd_age_weeks": _T("new_customer", "首单仅{v}周前。", "First order only {v} weeks ago."),
    }
)

# Per-order ratios and trends are undefined when the window holds no order at all.
NO_RECENT_ORDERS = {
    "code": "no_recent_orders",
    "zh": "近期没有订货。",
    "en": "It has placed no recent orders.",
}
ORDER_RATIO_PREFIXES = (
    "value_",
    "brand",
    "trend_",
    "volatility_",
    "premium_",
    "cartons_",
    "recent_level",
    "log_value",
    "order_value",
)
YEAR_DAYS = 365


def _licence_age(days: float) -> dict[str, str]:
    """The licence's age in the words a manager uses: days while new, then years."""
    if days < YEAR_DAYS:
        shown = round(days)
        return {
            "code": "new_customer",
            "zh": f"新客户：持证仅{shown}天。",
            "en": f"A new retailer: licensed only {shown} days ago.",
        }
    years = round(days / YEAR_DAYS)
    return {
        "code": "licence_age",
        "zh": f"持证经营约{years}年。",
        "en": f"Licensed about {years} years ago.",
    }


def _category_sentence(feature: str, value: str) -> dict[str, str]:
    names = FORMAT_NAMES if feature == "format" else AREA_NAMES
    zh, en = names.get(value, ("其他", "other"))
    what_zh, what_en = FEATURE_NAMES[feature]
    return {"code": feature, "zh": f"{what_zh}为{zh}。", "en": f"Its {what_en} is {en}."}


def describe(
    feature: str, value: float | str | None, row: dict | pd.Series | None = None
) -> dict[str, str]:
    """The reason sentence for one feature at one value, in Chinese and English.

    ``row`` (the retailer's other features) lets a sentence use better evidence than the
    feature itself: the days since the first order on record count the data window for an
    old shop, so when the licence date is known the sentence speaks of the licence's age.
    """
    missing = value is None or (isinstance(value, float) and np.isnan(value))
    if feature == "customer_age_days" and row is not None:
        licence = row.get("licence_age_days") if hasattr(row, "get") else None
        if licence is not None and not pd.isna(licence):
            feature, value, missing = "licence_age_days", float(licence), False
    if feature == "licence_age_days" and not missing:
        return _licence_age(float(value))
    if feature in ("format", "area_type") and not missing:
        return _category_sentence(feature, str(value))
    if missing and feature.startswith(ORDER_RATIO_PREFIXES):
        return dict(NO_RECENT_ORDERS)
    template = TEMPLATES.get(feature)
    if missing:
        return {
            "code": template.code if template else "missing_record",
            "zh": f"没有{feature_name(feature, 'zh')}的记录。",
            "en": f"There is no record of its {feature_name(feature, 'en')}.",
        }
    if template is None:
        shown = round(float(value), 2)
        return {
            "code": "other_signal",
            "zh": f"{feature_name(feature, 'zh')}为{shown:g}。",
            "en": f"Its {feature_name(feature, 'en')} is {shown:g}.",
        }
    shown = template.value(float(value))
    return {
        "code": template.code,
        "zh": template.zh.format(v=shown),
        "en": template.en.format(v=shown),
    }


def restate(reasons: list[dict], row: dict | pd.Series) -> list[dict]:
    """Reasons a registered model returned, re-worded from this catalogue with the row.

    A model carries the code of the day it was trained, sentences included; re-wording
    them from their feature keeps what a person reads current without retraining.
    """
    out, seen = [], set()
    for reason in reasons:
        feature = reason.get("feature")
        if feature is None:
            out.append(reason)
            continue
        value = row.get(feature) if feature in row else None
        if isinstance(value, (float, np.floating)) and np.isnan(value):
            value = None
        text = describe(feature, value, row)
        if text["code"] in seen:
            continue
        seen.add(text["code"])
        out.append({**reason, **text})
    return out


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
            reason = describe(
                feature,
                None if pd.isna(value) else value,
                values.iloc[row] if feature == "customer_age_days" else None,
            )
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

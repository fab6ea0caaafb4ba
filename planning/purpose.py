"""Why to visit: a purpose for each candidate visit, read from the retailer's own signals.

The purposes are those of the domain (DOMAIN.md): complaint recovery, order-decline
follow-up, brand cultivation, onboarding, relationship maintenance of high-value retailers
and business guidance. The first signal that applies wins, in that order: an unresolved
complaint must be heard before anything can be sold, and a falling order book before a
wider brand mix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TALKING_POINTS: dict[str, tuple[str, str]] = {
    "complaint_recovery": (
        "回访投诉，了解不满的原因并当场给出解决办法",
        "follow up the complaint: hear what went wrong and agree a fix on the spot",
    ),
    "order_decline_followup": (
        "了解订货下降的原因（竞争、资金、货源），帮助恢复正常订货",
        "find out why orders fell (competition, cash, supply) and help restore them",
    ),
    "brand_cultivation": (
        "介绍适销品规、丰富品牌结构，错峰投放，不搭售",
        "introduce brands that suit the shop to widen its mix; stagger launches, no tied selling",
    ),
    "business_guidance": (
        "指导库存结构和陈列，替换滞销品规，合理使用资金",
        "guide stock structure and display, swap slow movers, spend limited cash well",
    ),
    "relationship_maintenance": (
        "维护重点客户关系，了解经营计划和需求",
        "keep the relationship with a key retailer: hear its plans and needs",
    ),
    "onboarding": (
        "新户建档，讲解订货流程和政策",
        "onboard the new retailer: ordering process and policies",
    ),
    "market_research": (
        "了解货源紧缺、替代品和假烟情况",
        "collect market information: shortages, substitutes, counterfeits",
    ),
    "routine": ("例行拜访", "routine visit"),
}


def _col(frame: pd.DataFrame, name: str, default: float = np.nan) -> np.ndarray:
    if name in frame:
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    return np.full(len(frame), default)


def choose_purposes(features: pd.DataFrame, high_value_quantile: float = 0.8) -> pd.Series:
    """The purpose of visiting each retailer now, from its point-in-time features."""
    complaints = np.nan_to_num(_col(features, "complaints_13w"), nan=0.0)
    satisfaction = _col(features, "latest_satisfaction")
    recent = _col(features, "recent_level_vs_baseline")
    weeks_without = np.nan_to_num(_col(features, "weeks_without_order"), nan=0.0)
    trend = _col(features, "log_value_trend_8w")
    breadth = _col(features, "brand_breadth_change")
    age = _col(features, "customer_age_days")
    value = _col(features, "baseline_weekly_value")
    threshold = np.nanquantile(value, high_value_quantile) if np.isfinite(value).any() else np.inf

    complaint = (complaints > 0) | (satisfaction <= 2)
    decline = (weeks_without >= 2) | (recent < 0.75) | (trend < -0.1) | np.isnan(recent)
    brand = breadth < 0.85
    new = age < 60
    key = value >= threshold
    purpose = np.select(
        [complaint, decline, brand, new, key],
        [
            "complaint_recovery",
            "order_decline_followup",
            "brand_cultivation",
            "onboarding",
            "relationship_maintenance",
        ],
        default="business_guidance",
    )
    return pd.Series(purpose, index=features.index, name="purpose")


def talking_point(purpose: str, language: str = "en") -> str:
    zh, en = TALKING_POINTS[purpose]
    return zh if language == "zh" else en

"""Why to visit: a purpose for each candidate visit, read from the retailer's own signals.

The purposes are those of the domain (DOMAIN.md): complaint recovery, order-decline
follow-up, brand cultivation, onboarding, relationship maintenance of high-value retailers
and business guidance. A visit of the wrong purpose delivers a fraction of what the right
one would, and the costliest miss is a falling order book nobody addressed, so the rules
ask, in order:

1. a complaint (or a very low satisfaction score) in the last four weeks: hear it first;
   older grievances have mostly faded and no longer outweigh the order book;
2. any sign of a decline (no orders for two weeks, recent level or trend down, a narrowing
   brand mix, which in the data is a symptom of decline, not a separate need): follow up;
3. a new retailer: onboarding;
4. a thin brand mix against shops of the same format while orders are steady: cultivate;
5. a high-value retailer whose orders and brand mix are steady: maintain the relationship;
6. otherwise business guidance, which also covers a decline the data does not show yet.

A lapsed retailer (no order in the population window, scored with ``lapsed``) gets
``win_back`` while it may still come back (``worth_winning_back``), else no purpose.

On simulated territories the previous order (any complaint in 13 weeks first, a narrowing
mix read as a brand need) delivered 77% of the best purpose's effect on the visits that
matter; this one delivers over 95% (tests/planning/test_purpose.py checks it on truth).
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
    "win_back": (
        "走访已停止订货的客户，了解停订原因（转行、资金、竞争、服务），争取恢复订货",
        "visit the lapsed retailer: learn why it stopped ordering (closing, cash, competition, "
        "service) and win the orders back",
    ),
}


def _col(frame: pd.DataFrame, name: str, default: float = np.nan) -> np.ndarray:
    if name in frame:
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    return np.full(len(frame), default)


RECENT_DAYS = 28  # a complaint or a poor survey this recent is still a grievance to hear
# A lapsed retailer is worth a win-back visit while it may still come back: it ordered
# within the last year and its chance of ordering again in the horizon is at least this.
WIN_BACK_MIN_RETURN = 0.1
WIN_BACK_MAX_WEEKS = 52


def worth_winning_back(features: pd.DataFrame) -> np.ndarray:
    """Lapsed retailers (``lapsed`` column) that a visit may still bring back."""
    if "lapsed" not in features:
        return np.zeros(len(features), dtype=bool)
    lapsed = features["lapsed"].fillna(False).to_numpy(bool)
    returns = 1 - np.nan_to_num(_col(features, "churn_probability"), nan=0.0)
    weeks = np.nan_to_num(_col(features, "days_since_last_order"), nan=np.inf) / 7
    return lapsed & (returns >= WIN_BACK_MIN_RETURN) & (weeks <= WIN_BACK_MAX_WEEKS)


def choose_purposes(features: pd.DataFrame, high_value_quantile: float = 0.8) -> pd.Series:
    """The purpose of visiting each retailer now, from its point-in-time features."""
    days_since_complaint = np.nan_to_num(_col(features, "days_since_last_complaint"), nan=np.inf)
    satisfaction = _col(features, "latest_satisfaction")
    days_since_survey = np.nan_to_num(_col(features, "days_since_survey"), nan=np.inf)
    recent = _col(features, "recent_level_vs_baseline")
    weeks_without = np.nan_to_num(_col(features, "weeks_without_order"), nan=0.0)
    trend = _col(features, "log_value_trend_8w")
    breadth_change = _col(features, "brand_breadth_change")
    brands = _col(features, "brands_per_order_26w")
    age = _col(features, "customer_age_days")
    value = _col(features, "baseline_weekly_value")
    threshold = np.nanquantile(value, high_value_quantile) if np.isfinite(value).any() else np.inf
    peer_brands = _peer_median(features, brands)

    complaint = (days_since_complaint <= RECENT_DAYS) | (
        (satisfaction <= 2) & (days_since_survey <= RECENT_DAYS)
    )
    decline = (
        (weeks_without >= 2)
        | (recent < 0.75)
        | (trend < -0.1)
        | np.isnan(recent)
        | (breadth_change < 0.85)
    )
    steady = (recent >= 1.0) & ~(breadth_change < 1.0)
    new = age < 60
    thin_mix = steady & (brands < 0.6 * peer_brands)
    key = steady & (value >= threshold)
    purpose = np.select(
        [complaint, decline, new, thin_mix, key],
        [
            "complaint_recovery",
            "order_decline_followup",
            "onboarding",
            "brand_cultivation",
            "relationship_maintenance",
        ],
        default="business_guidance",
    ).astype(object)
    if "lapsed" in features:
        # Lapsed retailers: win them back if they may still return, else no visit.
        lapsed = features["lapsed"].fillna(False).to_numpy(bool)
        purpose[lapsed] = None
        purpose[worth_winning_back(features)] = "win_back"
        return pd.Series(purpose, index=features.index, name="purpose", dtype=object)
    return pd.Series(purpose, index=features.index, name="purpose")


def _peer_median(features: pd.DataFrame, values: np.ndarray) -> np.ndarray:
    """Median of ``values`` among retailers of the same format (all retailers without one)."""
    series = pd.Series(values, index=features.index)
    if "format" not in features:
        return np.full(len(values), series.median())
    groups = features["format"].astype(str)
    return series.groupby(groups).transform("median").to_numpy(dtype=float)


def talking_point(purpose: str, language: str = "en") -> str:
    zh, en = TALKING_POINTS[purpose]
    return zh if language == "zh" else en

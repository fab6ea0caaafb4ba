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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.i18n import COMPLAINT_CATEGORIES, TALKING_POINTS, pick, yuan
from features.reasons import describe


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


HIGH_VALUE_QUANTILE = 0.8


@dataclass(frozen=True)
class PeerFigures:
    """What a retailer's purpose is measured against: figures of all the retailers planned
    together (the high-value line, median brands per order by format). One week's plans
    share them, so an engine that prepares the week in parts computes them once on the
    whole and hands them to each part."""

    value_threshold: float
    brands_by_format: dict[str, float] | None  # None: no format column, one median for all
    brands_median: float

    @classmethod
    def of(
        cls, features: pd.DataFrame, high_value_quantile: float = HIGH_VALUE_QUANTILE
    ) -> PeerFigures:
        value = _col(features, "baseline_weekly_value")
        threshold = (
            float(np.nanquantile(value, high_value_quantile))
            if np.isfinite(value).any()
            else np.inf
        )
        brands = pd.Series(_col(features, "brands_per_order_26w"), index=features.index)
        by_format = None
        if "format" in features:
            by_format = brands.groupby(features["format"].astype(str)).median().to_dict()
        return cls(threshold, by_format, float(brands.median()))

    def peer_brands(self, features: pd.DataFrame) -> np.ndarray:
        """Median brands per order among retailers of the same format (all, without one)."""
        if self.brands_by_format is None or "format" not in features:
            return np.full(len(features), self.brands_median)
        groups = features["format"].astype(str)
        return groups.map(self.brands_by_format).to_numpy(dtype=float)


def _signals(
    features: pd.DataFrame,
    high_value_quantile: float = HIGH_VALUE_QUANTILE,
    figures: PeerFigures | None = None,
):
    """The masks the purpose rules read, and the numbers behind them (``figures`` of the
    whole week when ``features`` is a part of it)."""
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
    figures = figures or PeerFigures.of(features, high_value_quantile)
    threshold = figures.value_threshold
    peer_brands = figures.peer_brands(features)
    m = {
        "recent_complaint": days_since_complaint <= RECENT_DAYS,
        "poor_survey": (satisfaction <= 2) & (days_since_survey <= RECENT_DAYS),
        "order_gap": weeks_without >= 2,
        "level_down": recent < 0.75,
        "no_recent_level": np.isnan(recent),
        "falling": trend < -0.1,
        "narrowing": breadth_change < 0.85,
    }
    m["complaint"] = m["recent_complaint"] | m["poor_survey"]
    m["decline"] = (
        m["order_gap"] | m["level_down"] | m["falling"] | m["no_recent_level"] | m["narrowing"]
    )
    steady = (recent >= 1.0) & ~(breadth_change < 1.0)
    m["new"] = age < 60
    m["thin_mix"] = steady & (brands < 0.6 * peer_brands)
    m["key"] = steady & (value >= threshold)
    numbers = {"peer_brands": peer_brands, "value_threshold": threshold}
    return m, numbers


def choose_purposes(
    features: pd.DataFrame,
    high_value_quantile: float = HIGH_VALUE_QUANTILE,
    figures: PeerFigures | None = None,
) -> pd.Series:
    """The purpose of visiting each retailer now, from its point-in-time features."""
    m, _ = _signals(features, high_value_quantile, figures)
    purpose = np.select(
        [m["complaint"], m["decline"], m["new"], m["thin_mix"], m["key"]],
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


def peer_brands(features: pd.DataFrame, figures: PeerFigures | None = None) -> pd.Series:
    """Median brands per order of shops of the same format (the brand-cultivation yardstick)."""
    _, numbers = _signals(features, figures=figures)
    return pd.Series(numbers["peer_brands"], index=features.index, name="peer_brands_per_order")


def talking_point(purpose: str, language: str = "en") -> str:
    return pick(TALKING_POINTS[purpose], language)


def _get(row: pd.Series, name: str) -> float:
    value = row.get(name) if name in row else None
    if value is None:
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _reason(code: str, zh: str, en: str) -> dict[str, str]:
    return {"code": code, "zh": zh, "en": en}


# The signals behind the reasons; each reads its own row only (no territory quantile).
ROW_SIGNALS = (
    "recent_complaint",
    "poor_survey",
    "order_gap",
    "level_down",
    "no_recent_level",
    "falling",
    "narrowing",
)


def reason_signals(frame: pd.DataFrame) -> list[dict[str, bool]]:
    """Per row, the signals ``purpose_reasons`` reads, computed once for many rows (each
    depends on its own row only, so this equals computing them row by row)."""
    m, _ = _signals(frame)
    return [{k: bool(m[k][i]) for k in ROW_SIGNALS} for i in range(len(frame))]


def purpose_reasons(row: pd.Series, hit: dict[str, bool] | None = None) -> list[dict[str, str]]:
    """Why this visit has its purpose: the signals that chose it, as full sentences.

    ``row`` is the retailer's features with ``purpose`` and, where the complaints table
    exists, ``last_complaint_on`` and ``last_complaint_category``; brand cultivation reads
    ``peer_brands_per_order``.
    """
    if hit is None:  # ``hit``: this row's ``reason_signals``, when already computed
        hit = reason_signals(row.to_frame().T.infer_objects())[0]
    purpose = row["purpose"]
    usual = _get(row, "baseline_weekly_value")
    out: list[dict[str, str]] = []
    if purpose == "complaint_recovery":
        if hit["recent_complaint"]:
            days = round(_get(row, "days_since_last_complaint"))
            day = row.get("last_complaint_on")
            category = COMPLAINT_CATEGORIES.get(
                str(row.get("last_complaint_category")), ("未分类", "uncategorised")
            )
            when = str(pd.Timestamp(day).date()) if day is not None and pd.notna(day) else None
            out.append(
                _reason(
                    "complaint",
                    f"{days}天前（{when}）有一起{category[0]}投诉，需当面回应。"
                    if when
                    else f"{days}天前有一起{category[0]}投诉，需当面回应。",
                    f"It complained about {category[1]} on {when} ({days} days ago); answer "
                    "it in person."
                    if when
                    else f"It complained about {category[1]} {days} days ago; answer it in "
                    "person.",
                )
            )
        if hit["poor_survey"]:
            score, days = (
                round(_get(row, "latest_satisfaction")),
                round(_get(row, "days_since_survey")),
            )
            on = pd.Timestamp(row["as_of"]) - pd.Timedelta(days=days)
            out.append(
                _reason(
                    "poor_survey",
                    f"{days}天前（{on.date()}）的满意度回访只有{score}分（满分5分），需当面回应。",
                    f"Its satisfaction survey on {on.date()} ({days} days ago) scored only "
                    f"{score}/5; answer it in person.",
                )
            )
    elif purpose == "order_decline_followup":
        if hit["order_gap"]:
            weeks = round(_get(row, "weeks_without_order"))
            out.append(
                _reason(
                    "order_gap",
                    f"已经连续{weeks}周没有订货，常态每周约{yuan(usual)}元。",
                    f"It has not ordered for {weeks} weeks; it usually orders about "
                    f"{yuan(usual)} yuan a week.",
                )
            )
        if hit["level_down"]:
            down = round((1 - _get(row, "recent_level_vs_baseline")) * 100)
            out.append(
                _reason(
                    "value_down",
                    f"近期订货比自身常态（每周约{yuan(usual)}元）低{down}%。",
                    f"Its recent orders are {down}% below its usual {yuan(usual)} yuan a week.",
                )
            )
        if hit["no_recent_level"] and not hit["order_gap"]:
            out.append(describe("recent_level_vs_baseline", None))
        if hit["falling"]:
            drop = round((1 - np.exp(_get(row, "log_value_trend_8w"))) * 100)
            out.append(
                _reason(
                    "value_falling",
                    f"近8周订货额每周下降约{drop}%。",
                    f"Its order value has fallen by about {drop}% a week for 8 weeks.",
                )
            )
        if hit["narrowing"]:
            out.append(describe("brand_breadth_change", _get(row, "brand_breadth_change")))
    elif purpose == "onboarding":
        licence = _get(row, "licence_age_days")
        if np.isfinite(licence):
            out.append(describe("licence_age_days", licence))
        out.append(describe("customer_age_days", _get(row, "customer_age_days")))
    elif purpose == "brand_cultivation":
        brands, peers = _get(row, "brands_per_order_26w"), _get(row, "peer_brands_per_order")
        out.append(
            _reason(
                "thin_mix",
                f"订货平稳，但每单平均只订{brands:.1f}个品规，同业态客户的中位数是{peers:.1f}个。",
                f"It orders steadily but only {brands:.1f} brands per order, against "
                f"{peers:.1f} for shops of its format.",
            )
        )
    elif purpose == "relationship_maintenance":
        out.append(
            _reason(
                "key_retailer",
                f"重点客户：常态每周订货约{yuan(usual)}元，位于辖区前20%，订货平稳。",
                f"A key retailer: about {yuan(usual)} yuan a week, in the top 20% of the "
                "territory, ordering steadily.",
            )
        )
    elif purpose == "win_back":
        out.append(_win_back_reason(row))
    else:
        level = _get(row, "recent_level_vs_baseline")
        if np.isfinite(level):
            pct = round(level * 100)
            out.append(
                _reason(
                    "steady",
                    f"订货基本平稳（近期为常态的{pct}%），适合做经营指导。",
                    f"Its orders are steady ({pct}% of its usual level): a chance for "
                    "business guidance.",
                )
            )
    return out


def _win_back_reason(row: pd.Series) -> dict[str, str]:
    """Weeks since the last order, what it used to order and its chance of coming back."""
    days = _get(row, "days_since_last_order")
    usual = _get(row, "usual_weekly_value")
    usual = _get(row, "baseline_weekly_value") if not np.isfinite(usual) else usual
    chance = round((1 - _get(row, "churn_probability")) * 100)
    last = (pd.Timestamp(row["as_of"]) - pd.Timedelta(days=days)).date()
    weeks = round(days / 7)
    return _reason(
        "win_back",
        f"已经{weeks}周没有订货（最后一次在{last}），此前常态每周约{yuan(usual)}元；"
        f"回来订货的可能约{chance}%。",
        f"It has not ordered for {weeks} weeks (last on {last}); it used to order about "
        f"{yuan(usual)} yuan a week, and the chance it comes back is about {chance}%.",
    )


def benefit_reason(benefit: float, value_at_risk: float, horizon_weeks: int) -> dict[str, str]:
    """What the visit is worth, in yuan a manager can weigh."""
    return _reason(
        "expected_benefit",
        f"预计这次拜访能保住约{yuan(benefit)}元订货（未来{horizon_weeks}周常态订货约"
        f"{yuan(value_at_risk)}元）。",
        f"This visit is expected to keep about {yuan(benefit)} yuan of orders (it usually "
        f"orders {yuan(value_at_risk)} yuan over {horizon_weeks} weeks).",
    )

"""The words for codes: visit purposes and their talking points, complaint categories, shop
formats, areas, holidays, skills, the names of features, models and rankings.

Part of the one catalogue (``features.i18n``); each value is a ``(zh, en)`` pair.
"""

from __future__ import annotations

from typing import Any

from features.contract import SKILL_NAMES_ZH, SKILLS
from fieldcoach.registry import CHURN_MODEL, SKILLS_MODEL, VISIT_EFFECT_MODEL

PURPOSE_NAMES: dict[str, tuple[str, str]] = {
    "complaint_recovery": ("投诉回访", "complaint recovery"),
    "order_decline_followup": ("订货下滑跟进", "order-decline follow-up"),
    "brand_cultivation": ("品牌培育", "brand cultivation"),
    "business_guidance": ("经营指导", "business guidance"),
    "relationship_maintenance": ("重点客户维护", "key-retailer relationship"),
    "onboarding": ("新户建档", "onboarding"),
    "market_research": ("市场调研", "market research"),
    "routine": ("例行拜访", "routine visit"),
    "win_back": ("停订客户挽回", "win-back"),
}

TALKING_POINTS: dict[str, tuple[str, str]] = {
    "complaint_recovery": (
        "回访投诉，了解不满的原因并当场给出解决办法。",
        "Follow up the complaint: hear what went wrong and agree a fix on the spot.",
    ),
    "order_decline_followup": (
        "了解订货下降的原因（竞争、资金、货源），帮助恢复正常订货。",
        "Find out why orders fell (competition, cash, supply) and help restore them.",
    ),
    "brand_cultivation": (
        "介绍适销品规、丰富品牌结构，错峰投放，不搭售。",
        "Introduce brands that suit the shop to widen its mix; stagger launches, no tied selling.",
    ),
    "business_guidance": (
        "指导库存结构和陈列，替换滞销品规，合理使用资金。",
        "Guide stock structure and display, swap slow movers, spend limited cash well.",
    ),
    "relationship_maintenance": (
        "维护重点客户关系，了解经营计划和需求。",
        "Keep the relationship with a key retailer: hear its plans and needs.",
    ),
    "onboarding": (
        "新户建档，讲解订货流程和政策。",
        "Onboard the new retailer: ordering process and policies.",
    ),
    "market_research": (
        "了解货源紧缺、替代品和假烟情况。",
        "Collect market information: shortages, substitutes, counterfeits.",
    ),
    "routine": ("例行拜访。", "Routine visit."),
    "win_back": (
        "走访已停止订货的客户，了解停订原因（转行、资金、竞争、服务），争取恢复订货。",
        "Visit the lapsed retailer: learn why it stopped ordering (closing, cash, "
        "competition, service) and win the orders back.",
    ),
}

COMPLAINT_CATEGORIES: dict[str, tuple[str, str]] = {
    "service": ("服务", "service"),
    "conduct": ("工作作风", "conduct"),
    "supply": ("货源", "supply"),
    "price": ("价格", "price"),
    "other": ("其他", "other"),
}

FORMAT_NAMES: dict[str, tuple[str, str]] = {
    "convenience": ("便利店", "convenience store"),
    "supermarket": ("超市", "supermarket"),
    "tobacco_liquor": ("烟酒店", "tobacco and liquor shop"),
    "grocery": ("食杂店", "grocery"),
    "entertainment": ("娱乐场所", "entertainment venue"),
    "other": ("其他", "other"),
}
AREA_NAMES: dict[str, tuple[str, str]] = {"urban": ("城镇", "urban"), "rural": ("乡村", "rural")}

# English names as chinesecalendar gives them.
HOLIDAY_NAMES: dict[str, tuple[str, str]] = {
    "New Year's Day": ("元旦", "New Year's Day"),
    "Spring Festival": ("春节", "Spring Festival"),
    "Tomb-sweeping Day": ("清明节", "Tomb-sweeping Day"),
    "Labour Day": ("劳动节", "Labour Day"),
    "Dragon Boat Festival": ("端午节", "Dragon Boat Festival"),
    "National Day": ("国庆节", "National Day"),
    "Mid-autumn Festival": ("中秋节", "Mid-autumn Festival"),
    "Anti-Fascist 70th Day": ("抗战胜利70周年纪念日", "Anti-Fascist 70th Day"),
    "company day off": ("公司休息日", "company day off"),
}

YES_NO: dict[bool, tuple[str, str]] = {True: ("是", "yes"), False: ("否", "no")}

SKILL_NAMES: dict[str, tuple[str, str]] = {
    skill: (SKILL_NAMES_ZH[skill], skill.replace("_", " ")) for skill in SKILLS
}
SKILL_NAMES["crm_data"] = ("客户关系管理与数据分析", "CRM and data use")

# Every feature a snapshot can hold, named for people (reasons fall back to these names).
FEATURE_NAMES: dict[str, tuple[str, str]] = {
    "days_since_last_order": ("距上次订货天数", "days since the last order"),
    "customer_age_days": ("首次订货至今天数", "days since the first order on record"),
    "weeks_without_order": ("连续未订货周数", "weeks without an order"),
    "baseline_weekly_value": ("常态周订货额", "usual weekly order value"),
    "recent_level_vs_baseline": ("近期订货水平", "recent order level"),
    "log_value_trend_8w": ("近8周订货趋势", "8-week order trend"),
    "order_value_trend_8w": ("近8周单笔订货额趋势", "8-week trend of value per order"),
    "trend_13w": ("近13周订货趋势", "13-week order trend"),
    "trend_26w": ("近半年订货趋势", "26-week order trend"),
    "volatility_13w": ("近13周订货波动", "13-week order volatility"),
    "volatility_26w": ("近半年订货波动", "26-week order volatility"),
    "value_8w_vs_last_year": ("近8周订货额同比", "8-week order value on last year"),
    "value_13w_vs_last_year": ("近13周订货额同比", "13-week order value on last year"),
    "cartons_per_order_13w": ("近13周每单条数", "cartons per order over 13 weeks"),
    "brands_per_order_4w": ("近4周每单品规数", "brands per order over 4 weeks"),
    "brands_per_order_26w": ("近半年每单品规数", "brands per order over 26 weeks"),
    "brand_breadth_change": ("品规结构变化", "change in brand mix"),
    "brand_trend_8w": ("近8周品规趋势", "8-week brand-mix trend"),
    "premium_share_13w": ("近13周中高档烟占比", "premium share over 13 weeks"),
    "days_since_last_visit": ("距上次拜访天数", "days since the last visit"),
    "days_since_purposeful_visit": ("距上次针对性拜访天数", "days since a purposeful visit"),
    "complaints_13w": ("近13周投诉次数", "complaints in 13 weeks"),
    "complaints_52w": ("近一年投诉次数", "complaints in a year"),
    "days_since_last_complaint": ("距上次投诉天数", "days since the last complaint"),
    "latest_satisfaction": ("最近满意度", "latest satisfaction"),
    "days_since_survey": ("距上次满意度回访天数", "days since the last survey"),
    "mean_satisfaction_52w": ("近一年平均满意度", "average satisfaction this year"),
    "format": ("业态", "business format"),
    "area_type": ("城乡类型", "urban or rural area"),
    "grade": ("档位", "supply grade"),
    "licence_age_days": ("持证天数", "licence age"),
    "days_to_licence_expiry": ("距许可证到期天数", "days to licence expiry"),
    "territory_size": ("客户经理负责户数", "retailers the manager serves"),
    "manager_tenure_days": ("客户经理入职天数", "manager's tenure"),
    "manager_weekly_capacity": ("客户经理每周拜访能力", "manager's weekly visit capacity"),
}
for _w, (_zh, _en) in {
    1: ("上周", "last week"),
    2: ("近2周", "2 weeks"),
    4: ("近4周", "4 weeks"),
    8: ("近8周", "8 weeks"),
    13: ("近13周", "13 weeks"),
    26: ("近半年", "26 weeks"),
    52: ("近一年", "52 weeks"),
}.items():
    FEATURE_NAMES[f"value_{_w}w"] = (f"{_zh}订货额", f"order value over {_en}")
    FEATURE_NAMES[f"orders_{_w}w"] = (f"{_zh}订货次数", f"orders over {_en}")
    FEATURE_NAMES[f"weeks_ordered_share_{_w}w"] = (
        f"{_zh}有订货的周占比",
        f"share of weeks with an order over {_en}",
    )
    FEATURE_NAMES[f"value_{_w}w_vs_baseline"] = (
        f"{_zh}订货额相对常态",
        f"order value over {_en} against its usual level",
    )
    FEATURE_NAMES[f"visits_{_w}w"] = (f"{_zh}拜访次数", f"visits over {_en}")
for _purpose, (_zh, _en) in PURPOSE_NAMES.items():
    FEATURE_NAMES[f"visits_13w_{_purpose}"] = (f"近13周{_zh}次数", f"{_en} visits in 13 weeks")
for _skill, (_zh, _en) in SKILL_NAMES.items():
    FEATURE_NAMES[f"manager_{_skill}"] = (f"客户经理{_zh}测评分", f"manager's {_en} score")


MODEL_NAMES: dict[str, tuple[str, str]] = {
    CHURN_MODEL: ("客户流失", CHURN_MODEL),
    VISIT_EFFECT_MODEL: ("拜访效果", VISIT_EFFECT_MODEL),
    SKILLS_MODEL: ("客户经理能力", SKILLS_MODEL),
}
# The planner's rankings (chosen by `train visits`' held-out self-check).
RANKING_NAMES: dict[str, tuple[str, str]] = {
    "effect_model": (
        "拜访效果模型预计挽回的订货额",
        "the visit-effect model's expected saved value",
    ),
    "churn_x_value": ("流失概率×风险订货额", "churn probability x value at risk"),
    "churn": ("流失概率", "churn probability"),
    "value": ("常规订货额", "usual order value"),
    "rotation": ("距上次拜访天数（现行轮访）", "days since the last visit (the current rotation)"),
}
# Values of a note that are codes, put in words when the note is shown.
WORDS: dict[str, dict[Any, tuple[str, str]]] = {
    "model": MODEL_NAMES,
    "holiday": HOLIDAY_NAMES,
    "ranking": RANKING_NAMES,
}

"""The catalogue of what a person reads, in Chinese and English, and numbers rounded for people.

One place for the words: visit purposes and their talking points, column headers of every
CSV and Excel export, yes/no, complaint categories, shop formats, the names of features
(so no raw ``feature_name`` ever reaches a reader), and the messages and notes a plan or a
command prints. Reason sentences built from a model's features live in ``features.reasons``
and take their words from here. Chinese first: ``zh`` is the language of the field.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from features.contract import SKILL_NAMES_ZH, SKILLS
from features.errors import UserInputError
from features.i18n_cli import CLI_MESSAGES
from fieldcoach.registry import CHURN_MODEL, SKILLS_MODEL, VISIT_EFFECT_MODEL

LANGUAGES = ("zh", "en")


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise UserInputError(f"--language must be zh or en, got {language!r}")
    return language


def pick(pair: tuple[str, str], language: str) -> str:
    """The ``(zh, en)`` pair's text in ``language`` (English for anything but zh)."""
    return pair[0] if language == "zh" else pair[1]


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


def feature_name(feature: str, language: str) -> str:
    """A feature's name for people; an unknown one is described, never shown raw."""
    pair = FEATURE_NAMES.get(feature, ("其他经营信号", "another signal in its records"))
    return pick(pair, language)


# Column headers of every export (CSV, Excel) and printed table.
# Labels of the review's charts and workbook (evaluation.uplift_report).
REVIEW_LABELS: dict[str, tuple[str, str]] = {
    "title_effect": (
        "推荐拜访的效果（随后{weeks}周订货额，元）",
        "Effect of a recommended visit (orders over the next {weeks} weeks, yuan)",
    ),
    "title_purpose": (
        "按拜访目的的效果（收缩估计，95%区间）",
        "Effect by purpose (shrunk, 95% interval)",
    ),
    "overall": ("总体", "overall"),
    "exploration": ("探索", "exploration"),
    "holdout": ("随机对照", "holdout"),
    "effect_yuan": ("效果（元）", "effect (yuan)"),
    "no_estimate": ("数据不足", "not enough data"),
    "group": ("分组", "group"),
    "estimate": ("估计", "estimate"),
    "ci_low": ("95%下限", "95% low"),
    "ci_high": ("95%上限", "95% high"),
    "shrunk": ("收缩估计", "shrunk estimate"),
    "rows": ("随机化零售户周", "randomised retailer-weeks"),
    "recommended": ("随机推荐", "randomly recommended"),
    "not_recommended": ("随机未推荐", "randomly not recommended"),
    "why_not": ("无法估计的原因", "why no estimate"),
    "sheet_summary": ("总览", "summary"),
    "sheet_purpose": ("按目的", "by purpose"),
    "sheet_team": ("按团队", "by team"),
    "sheet_manager": ("按客户经理", "by manager"),
    "sheet_feedback": ("反馈", "feedback"),
    "order_value": ("订货额", "order value"),
    "retention": ("留存", "retention"),
    "reason": ("原因", "reason"),
    "count": ("次数", "count"),
}

COLUMNS: dict[str, tuple[str, str]] = {
    "manager_id": ("客户经理", "manager"),
    "team_id": ("市场部", "team"),
    "week": ("周次", "week"),
    "date": ("日期", "date"),
    "weekday": ("星期", "weekday"),
    "stop": ("顺序", "stop"),
    "rank": ("优先级排名", "rank"),
    "retailer_id": ("客户编码", "retailer"),
    "name": ("客户名称", "name"),
    "address": ("地址", "address"),
    "churn_probability": ("流失概率", "churn probability"),
    "value_at_risk": ("风险订货额（元）", "value at risk (yuan)"),
    "expected_benefit": ("预计挽回（元）", "expected benefit (yuan)"),
    "priority": ("优先级分值", "priority"),
    "purpose": ("拜访目的代码", "purpose code"),
    "purpose_name": ("拜访目的", "purpose"),
    "talking_point": ("沟通要点", "talking point"),
    "reasons": ("原因", "reasons"),
    "days_since_last_visit": ("距上次拜访（天）", "days since last visit"),
    "due": ("频次规则必访", "due by the visit rule"),
    "km_from_previous": ("距上一站（公里）", "km from previous stop"),
    "base": ("出发点", "base point"),
    "lat": ("纬度", "latitude"),
    "lon": ("经度", "longitude"),
    "skill": ("能力项", "skill"),
    "skill_name": ("能力", "skill name"),
    "estimate": ("估计值", "estimate"),
    "sd": ("标准差", "sd"),
    "source": ("依据", "source"),
    "target": ("目标", "target"),
    "gap": ("差距", "gap"),
    "importance": ("重要性", "importance"),
    "latest_score": ("最近测评分", "latest score"),
    "latest_assessed_on": ("最近测评日期", "latest assessed on"),
    "n_assessments": ("测评次数", "assessments"),
    "evidence": ("证据", "evidence"),
    "course_id": ("课程编码", "course"),
    "title": ("课程名称", "title"),
    "hours": ("学时", "hours"),
    "refresher": ("复训", "refresher"),
    "value": ("价值", "value"),
    "expected_gap_closed": ("预计缩小差距", "expected gap closed"),
    "expected_gain": ("预计提升", "expected gain"),
    "rationale": ("理由", "rationale"),
    "session": ("班次", "session"),
    "label": ("班次名称", "label"),
    "skills": ("针对能力", "skills"),
    "members": ("学员", "members"),
    "size": ("人数", "size"),
    "left_out": ("未安排人员", "left out"),
    "model": ("模型", "model"),
    "version": ("版本", "version"),
    "aliases": ("别名", "aliases"),
    "run_id": ("运行编号", "run id"),
    "created": ("创建时间", "created"),
    "serving": ("在线服务中", "serving"),
}

WEEKDAYS: tuple[tuple[str, str], ...] = (
    ("星期一", "Monday"),
    ("星期二", "Tuesday"),
    ("星期三", "Wednesday"),
    ("星期四", "Thursday"),
    ("星期五", "Friday"),
    ("星期六", "Saturday"),
    ("星期日", "Sunday"),
)

# Rounding for people: how many decimals a column shows (None: whole numbers).
DECIMALS: dict[str, int] = {
    "churn_probability": 3,
    "km_from_previous": 1,
    "lat": 5,
    "lon": 5,
    "estimate": 1,
    "sd": 1,
    "target": 1,
    "gap": 1,
    "importance": 2,
    "priority": 0,
    "value_at_risk": 0,
    "expected_benefit": 0,
    "value": 2,
    "expected_gap_closed": 1,
    "hours": 1,
    "latest_score": 0,
}


def human_number(value: float, decimals: int = 0) -> float | int:
    """A number as a person reads it: whole yuan, one decimal for km, no float noise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return value
    if decimals <= 0:
        return round(float(value))
    return round(float(value), decimals)


def yuan(value: float) -> str:
    """Yuan with thousands separators, whole yuan (1,234)."""
    return f"{human_number(value):,}"


def _cell(column: str, value: Any, language: str) -> Any:
    if isinstance(value, bool):
        return pick(YES_NO[value], language)
    if isinstance(value, float):
        return human_number(value, DECIMALS.get(column, 2))
    if isinstance(value, Mapping):
        if set(value) <= set(SKILL_NAMES):  # expected gain per skill: "沟通能力 +3.2"
            return "; ".join(
                f"{pick(SKILL_NAMES[k], language)} {float(v):+.1f}" for k, v in value.items()
            )
        return "; ".join(f"{k} {_cell(k, v, language)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "; ".join(str(_cell(column, v, language)) for v in value)
    if column == "purpose" and isinstance(value, str) and value in PURPOSE_NAMES:
        return value  # the code stays for scripts; purpose_name carries the words
    return value


def localise_rows(rows: Iterable[Mapping[str, Any]], language: str) -> list[dict[str, Any]]:
    """Rows as a person reads them: headers, yes/no, lists and numbers in ``language``."""
    out = []
    for row in rows:
        out.append(
            {
                pick(COLUMNS[k], language) if k in COLUMNS else k: _cell(k, v, language)
                for k, v in row.items()
            }
        )
    return out


@dataclass(frozen=True, order=True)
class Note:
    """A message to a reader, kept as a key and values until it is shown in a language."""

    key: str
    values: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, key: str, **values: Any) -> Note:
        if key not in MESSAGES:
            raise KeyError(f"no message {key!r} in the catalogue")
        return cls(key, tuple(sorted(values.items())))

    def text(self, language: str) -> str:
        values = {
            k: pick(WORDS[k][v], language) if k in WORDS and v in WORDS[k] else v
            for k, v in self.values
        }
        return pick(MESSAGES[self.key], language).format(**values)


def say(key: str, language: str, **values: Any) -> str:
    return Note.of(key, **values).text(language)


def render_notes(notes: Iterable[Note | str], language: str) -> list[str]:
    """Notes in ``language``, each once, in a stable order."""
    texts = {n.text(language) if isinstance(n, Note) else str(n) for n in notes}
    return sorted(texts)


MODEL_NAMES: dict[str, tuple[str, str]] = {
    CHURN_MODEL: ("客户流失", CHURN_MODEL),
    VISIT_EFFECT_MODEL: ("拜访效果", VISIT_EFFECT_MODEL),
    SKILLS_MODEL: ("客户经理能力", SKILLS_MODEL),
}
# Values of a note that are codes, put in words when the note is shown.
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
WORDS: dict[str, dict[Any, tuple[str, str]]] = {
    "model": MODEL_NAMES,
    "holiday": HOLIDAY_NAMES,
    "ranking": RANKING_NAMES,
}

MESSAGES: dict[str, tuple[str, str]] = {
    # The review of recommended visits (evaluation.uplift).
    "uplift_no_estimate": (
        "数据不足以估计推荐拜访的效果：{why}。",
        "The data cannot support an estimate yet: {why}.",
    ),
    "uplift_positive": (
        "推荐拜访使随后{weeks}周订货额平均增加{estimate}元（95%区间{low}至{high}元）。",
        "A recommended visit added {estimate} yuan of orders over {weeks} weeks "
        "(95% interval {low} to {high}).",
    ),
    "uplift_negative": (
        "推荐拜访后随后{weeks}周订货额平均减少{estimate}元（95%区间{low}至{high}元）。",
        "Recommended visits went with {estimate} yuan less over {weeks} weeks "
        "(95% interval {low} to {high}).",
    ),
    "uplift_unclear": (
        "尚不能确定推荐拜访的效果：估计{estimate}元，95%区间{low}至{high}元包含0。",
        "No clear effect yet: {estimate} yuan, 95% interval {low} to {high} includes 0.",
    ),
    "no_champion": ("未找到已注册的{model}冠军模型。", "No registered {model} champion."),
    "no_loaded_champion": ("服务未加载{model}冠军模型。", "No loaded {model} champion."),
    "churn_needs_features": (
        "流失模型所需的字段在本数据中缺失。",
        "The churn champion needs features this data lacks.",
    ),
    "churn_recency_rule": (
        "流失风险按未订货时长估算（无可用流失模型或历史数据过短）。",
        "Churn risk comes from a recency rule (no usable churn model or thin history).",
    ),
    "effect_needs_features": (
        "拜访效果模型所需的字段在本数据中缺失。",
        "The visit-effect champion needs features this data lacks.",
    ),
    "benefit_fallback": (
        "预计挽回 = 流失概率 × 风险订货额 × {share}（无拜访效果模型时的替代算法）。",
        "Expected benefit = churn probability x value at risk x {share} (no visit-effect "
        "model: the risk x value fallback).",
    ),
    "due_over_capacity": (
        "按{rule}天拜访频次规则有{due}户到期，但本周只能安排{capacity}次拜访，已优先安排"
        "价值最高的到期客户。",
        "{due} retailers are due under the {rule}-day visit rule but the week holds "
        "{capacity} visits; the most valuable due ones are planned.",
    ),
    "non_working_day": (
        "{date}（{holiday}）不是工作日，未安排拜访。",
        "{date} ({holiday}) is not a working day: no visits planned.",
    ),
    "adjusted_working_day": (
        "{date}为调休工作日，已安排拜访。",
        "{date} is an adjusted working day (调休): visits planned.",
    ),
    "fewer_working_days": (
        "本周有{working}个工作日（计划{days}天），拜访量按比例调整为{capacity}次。",
        "The week has {working} working days ({days} planned): capacity scaled to "
        "{capacity} visits.",
    ),
    "no_official_calendar": (
        "{year}年的法定节假日安排尚未收录，按周一至周五计算（可用working_days表补充）。",
        "No official holiday schedule for {year} yet: Monday to Friday assumed (add a "
        "working_days table to correct it).",
    ),
    "no_working_day": (
        "本周没有工作日，未安排拜访。",
        "The week has no working day: no visits planned.",
    ),
    "working_on_holidays": (
        "按要求在非工作日也安排了拜访。",
        "Visits may fall on non-working days, as asked.",
    ),
    "excluded_feedback": (
        "{retailer}暂不拜访（{meaning_zh}：{reason}），{until}起再安排。",
        '{retailer} left out ({meaning_en}: "{reason}") until {until}.',
    ),
    "visit_done": (
        "{retailer}已于{date}完成拜访，计入间隔和频次规则。",
        "{retailer} was visited on {date}: counted for the gap and frequency rules.",
    ),
    "ranking_checked": (
        "排序依据：{ranking}（训练时在留出周上与简单排序比较后选定）。",
        "ranking: {ranking}, because {reason}",
    ),
    "ranking_unchecked": (
        "排序依据：{ranking}（尚无自检记录，重新训练拜访效果模型时会与简单排序比较）。",
        "ranking: {ranking} (no self-check recorded; `fieldcoach train visits` checks it "
        "against the simple rankings)",
    ),
    "base_medoid": (
        "{manager}没有住址坐标：每天从其负责客户的中心（{lat}，{lon}）出发并返回；"
        "在客户经理表中填写住址坐标即可从住址出发。",
        "no home location for {manager}: days start and end at the middle of their own "
        "retailers ({lat}, {lon}); add home_lat/home_lon to managers for routes from home",
    ),
    "short_candidates": (
        "计划{planned}次拜访（容量{capacity}次）：{total}户在险客户中本周仅{eligible}户可拜访"
        "（{gap}户在最近{min_gap}天内已拜访）。",
        "{planned} of {capacity} visits planned: only {eligible} of the manager's {total} "
        "retailers at risk can be visited this week ({gap} were visited within the last "
        "{min_gap} days)",
    ),
    "short_time_cap": (
        "计划{planned}次拜访（容量{capacity}次）：求解达到{seconds}秒时限。",
        "{planned} of {capacity} visits planned: the solver hit its {seconds} s time cap",
    ),
    "short_day_minutes": (
        "计划{planned}次拜访（容量{capacity}次）：按这些距离，每天{minutes}分钟"
        "（每次拜访{service}分钟）排不下更多。",
        "{planned} of {capacity} visits planned: the working days ({minutes} minutes, "
        "{service} per visit) hold no more at these distances",
    ),
    "short_not_worth": (
        "计划{planned}次拜访（容量{capacity}次）：其余客户的价值不及路程成本。",
        "{planned} of {capacity} visits planned: the other candidates are worth less than "
        "the drive to them",
    ),
    "exploration": (
        "探索：本周{count}次拜访从{pool}个次优候选中随机抽取（探索比例{share}），"
        "用于学习拜访的真实效果。",
        "exploration: {count} visits were drawn at random among {pool} near-best candidates "
        "(exploration share {share}), so the effect of visits can be learnt",
    ),
    "holdout": (
        "对照：{count}家本应推荐的零售户按随机对照（比例{share}）本周暂不拜访，用于衡量拜访效果。",
        "holdout: {count} retailers the plan would recommend are held back this week at "
        "random (share {share}), to measure what visits achieve",
    ),
    "rotation_fillers": (
        "{count}次拜访按排序没有预期收益，按轮访（最久未访优先）补满本周。",
        "{count} visits have no expected benefit by the ranking and fill the week by "
        "rotation (most overdue first)",
    ),
    "win_back_candidates": (
        "{count}户近{weeks}周没有订货、但仍可能回来的客户列为挽回拜访候选。",
        "{count} retailers with no order in the last {weeks} weeks that may still come back are "
        "win-back candidates",
    ),
    "solver_time_cap": (
        "求解在{seconds}秒安全时限前未达{solutions}个解而停止：重新计划可能得到不同结果。",
        "the solver stopped at its {seconds} s safety cap before {solutions} solutions: a "
        "re-run may give a different plan",
    ),
}
MESSAGES.update(CLI_MESSAGES)  # the CLI's summary lines (features/i18n_cli.py)

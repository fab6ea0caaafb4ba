"""Category labels: what a company writes for each enum column of the contract, and the
parsers that turn labels (and lists of them) into contract values.

The built-in labels are Chinese first, then English spellings; a mapping file's
``[values.TABLE.COLUMN]`` adds to them (``Mapping.value_synonyms``).
"""

from __future__ import annotations

import re

import pandas as pd

from features.contract import SKILL_NAMES_ZH, SKILLS
from features.importing.synonyms import normalise_name
from features.importing.values import Parsed, add_rule_masks, by_unique, split_cells

_SKILLS_ZH = {zh: skill for skill, zh in SKILL_NAMES_ZH.items()}

# Category values per contract column: label as written -> contract value. Contract values
# and their spellings with spaces or capitals always match (see ``normalise_name``).
VALUES: dict[str, dict[str, str]] = {
    "format": {
        "便利店": "convenience",
        "连锁便利店": "convenience",
        "便利": "convenience",
        "convenience store": "convenience",
        "超市": "supermarket",
        "超级市场": "supermarket",
        "商超": "supermarket",
        "大卖场": "supermarket",
        "连锁超市": "supermarket",
        "烟酒店": "tobacco_liquor",
        "烟酒商店": "tobacco_liquor",
        "烟酒": "tobacco_liquor",
        "名烟名酒": "tobacco_liquor",
        "烟酒专卖店": "tobacco_liquor",
        "tobacco and liquor": "tobacco_liquor",
        "tobacco & liquor": "tobacco_liquor",
        "食杂店": "grocery",
        "食杂": "grocery",
        "杂货店": "grocery",
        "副食店": "grocery",
        "小卖部": "grocery",
        "百货店": "grocery",
        "娱乐场所": "entertainment",
        "娱乐服务类": "entertainment",
        "娱乐": "entertainment",
        "ktv": "entertainment",
        "网吧": "entertainment",
        "酒吧": "entertainment",
        "其他": "other",
        "其它": "other",
    },
    "area_type": {
        "城镇": "urban",
        "城市": "urban",
        "城区": "urban",
        "市区": "urban",
        "城网": "urban",
        "town": "urban",
        "乡村": "rural",
        "农村": "rural",
        "农网": "rural",
        "village": "rural",
        "countryside": "rural",
    },
    "purpose": {
        "订单下滑跟进": "order_decline_followup",
        "断订跟进": "order_decline_followup",
        "订单下降跟进": "order_decline_followup",
        "销量下滑": "order_decline_followup",
        "品牌培育": "brand_cultivation",
        "新品推广": "brand_cultivation",
        "经营指导": "business_guidance",
        "帮助客户营销": "business_guidance",
        "投诉处理": "complaint_recovery",
        "满意度回访": "complaint_recovery",
        "投诉回访": "complaint_recovery",
        "市场调研": "market_research",
        "信息采集": "market_research",
        "市场调查": "market_research",
        "客情维护": "relationship_maintenance",
        "关系维护": "relationship_maintenance",
        "新户开发": "onboarding",
        "新户走访": "onboarding",
        "新客户": "onboarding",
        "常规拜访": "routine",
        "例行拜访": "routine",
        "日常拜访": "routine",
        "巡访": "routine",
    },
    "category": {
        "服务": "service",
        "服务态度": "service",
        "服务质量": "service",
        "行为": "conduct",
        "作风": "conduct",
        "违规": "conduct",
        "工作作风": "conduct",
        "货源": "supply",
        "供货": "supply",
        "断货": "supply",
        "配送": "supply",
        "价格": "price",
        "其他": "other",
        "其它": "other",
    },
    "skill": _SKILLS_ZH
    | {
        "市场把握": "market_insight",
        "运作市场": "market_operation",
        "价量存": "market_operation",
        "品牌培育": "brand_cultivation",
        "沟通": "communication",
        "分析指导能力": "analysis_guidance",
        "帮助客户营销能力": "business_enablement",
        "crm": "crm_data",
        "数据分析": "crm_data",
        "计划": "planning",
        "职业道德": "ethics",
        "责任感": "ethics",
    },
    "level": {
        "初级": "basic",
        "基础": "basic",
        "入门": "basic",
        "中级": "intermediate",
        "进阶": "intermediate",
        "高级": "advanced",
        "提高": "advanced",
    },
    "course_format": {
        "面授": "classroom",
        "课堂": "classroom",
        "线下": "classroom",
        "集中培训": "classroom",
        "线上": "online",
        "网络": "online",
        "在线": "online",
        "网课": "online",
        "外训": "external",
        "外部": "external",
        "外派": "external",
        "在岗": "on_the_job",
        "岗位实践": "on_the_job",
        "带教": "on_the_job",
    },
}

# Which value list each enum column of the contract uses (courses.format is not retailers').
VALUE_LISTS: dict[tuple[str, str], str] = {
    ("retailers", "format"): "format",
    ("retailers", "area_type"): "area_type",
    ("visits", "purpose"): "purpose",
    ("complaints", "category"): "category",
    ("assessments", "skill"): "skill",
    ("courses", "skills"): "skill",
    ("courses", "level"): "level",
    ("courses", "format"): "course_format",
}


def value_synonyms(table: str, column: str) -> dict[str, str]:
    """Normalised label -> contract value for one enum column (contract values included)."""
    from features.contract import schema_for

    list_name = VALUE_LISTS[(table, column)]
    allowed: list[str] = list(SKILLS) if list_name == "skill" else []
    if not allowed:
        for check in schema_for(table).columns[column].checks:
            if check.name == "isin":
                allowed = list(check.statistics["allowed_values"])
    out = {normalise_name(v): v for v in allowed}
    out.update({normalise_name(v.replace("_", " ")): v for v in allowed})
    for label, value in VALUES[list_name].items():
        out.setdefault(normalise_name(label), value)
    return out


def parse_enum(raw: pd.Series, synonyms: dict[str, str]) -> Parsed:
    """A category label -> contract value through ``synonyms`` (normalised label -> value)."""
    text, _, other = split_cells(raw)
    if other.any():
        text = text.astype(object)
        text[other] = raw[other].map(str)

    def one(label: str) -> tuple[object, str | None]:
        value = synonyms.get(normalise_name(label))
        return (value, None) if value is not None else (None, "unknown_value")

    values, rules = by_unique(text, one)
    parsed = Parsed(pd.Series(values, index=raw.index, dtype=object))
    add_rule_masks(parsed, rules)
    return parsed


_LIST_SPLIT = re.compile(r"[;；,，、/|]")


def parse_list(raw: pd.Series, synonyms: dict[str, str] | None) -> Parsed:
    """A list cell (技能 A；技能 B、C) -> ``a;b;c``; items mapped through ``synonyms`` if any."""
    text, _, other = split_cells(raw)
    if other.any():
        text = text.astype(object)
        text[other] = raw[other].map(str)

    def one(cell: str) -> tuple[object, str | None]:
        items = [i.strip() for i in _LIST_SPLIT.split(cell) if i.strip()]
        if synonyms is not None:
            mapped = [synonyms.get(normalise_name(i)) for i in items]
            if any(m is None for m in mapped):
                return None, "unknown_value"
            items = [m for m in mapped if m is not None]
        return ";".join(items), None

    values, rules = by_unique(text, one)
    parsed = Parsed(pd.Series(values, index=raw.index, dtype=object))
    add_rule_masks(parsed, rules)
    return parsed

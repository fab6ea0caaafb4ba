"""The simulated company's course catalogue, with each course's true effect on skills.

True effects are points of skill gained by a manager whose gap to 100 is 50; the gain
scales with the gap (see ``docs/simulator.md``). Three courses have no effect at all, so
an estimator that credits them is wrong by construction.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Course:
    course_id: str
    title_zh: str
    title_en: str
    effects: dict[str, float]  # skill -> true points gained at a gap of 50
    level: str
    hours: float
    format: str
    prerequisites: tuple[str, ...] = ()
    refresh_after_weeks: float | None = None


CATALOGUE: tuple[Course, ...] = (
    Course(
        "C01",
        "卷烟产品知识",
        "Cigarette product knowledge",
        {"market_operation": 5.0, "brand_cultivation": 3.0},
        "basic",
        8,
        "classroom",
    ),
    Course(
        "C02",
        "市场竞争与市场洞察",
        "Market competition and insight",
        {"market_insight": 8.0},
        "basic",
        12,
        "classroom",
    ),
    Course(
        "C03",
        "CRM系统与数据应用",
        "CRM system and data use",
        {"crm_data": 9.0, "planning": 3.0},
        "basic",
        8,
        "online",
    ),
    Course(
        "C04",
        "沟通与谈判技巧",
        "Communication and negotiation",
        {"communication": 10.0},
        "intermediate",
        16,
        "classroom",
    ),
    Course(
        "C05",
        "品牌培育实务",
        "Brand cultivation in practice",
        {"brand_cultivation": 10.0},
        "intermediate",
        16,
        "classroom",
        ("C01",),
    ),
    Course(
        "C06",
        "零售户经营分析与指导",
        "Analysing and guiding a retailer's business",
        {"analysis_guidance": 9.0, "business_enablement": 4.0},
        "intermediate",
        20,
        "classroom",
    ),
    Course(
        "C07",
        "帮助客户营销",
        "Helping retailers sell",
        {"business_enablement": 10.0},
        "intermediate",
        12,
        "on_the_job",
        ("C06",),
    ),
    Course(
        "C08",
        "价量存与需求预测",
        "Price, volume, stock and demand forecasting",
        {"market_operation": 9.0, "market_insight": 3.0},
        "advanced",
        20,
        "external",
        ("C01",),
    ),
    Course(
        "C09",
        "有效拜访计划",
        "Planning purposeful visits",
        {"planning": 10.0, "crm_data": 2.0},
        "basic",
        6,
        "online",
    ),
    Course(
        "C10",
        "职业道德与廉洁",
        "Professional ethics and integrity",
        {"ethics": 8.0},
        "basic",
        4,
        "online",
        (),
        52,
    ),
    Course(
        "C11",
        "数据分析进阶",
        "Advanced data analysis",
        {"crm_data": 8.0, "analysis_guidance": 4.0},
        "advanced",
        24,
        "external",
        ("C03",),
    ),
    Course(
        "C12",
        "客户满意度提升",
        "Raising customer satisfaction",
        {"communication": 6.0, "ethics": 2.0},
        "basic",
        8,
        "online",
    ),
    Course(
        "C13",
        "新品上市与错峰投放",
        "New product launches and staggered release",
        {"brand_cultivation": 7.0, "market_operation": 3.0},
        "advanced",
        12,
        "classroom",
        ("C05",),
    ),
    Course(
        "C14",
        "市场调研方法",
        "Market research methods",
        {"market_insight": 6.0, "analysis_guidance": 3.0},
        "intermediate",
        10,
        "online",
    ),
    # No true effect: lectures that leave skills where they were.
    Course(
        "C15",
        "企业文化讲座",
        "Company culture lecture",
        {"ethics": 0.0, "communication": 0.0},
        "basic",
        4,
        "classroom",
    ),
    Course(
        "C16",
        "营销理论概论",
        "Introduction to marketing theory",
        {"market_insight": 0.0, "business_enablement": 0.0},
        "basic",
        8,
        "online",
    ),
    Course(
        "C17", "时间管理在线课", "Time management online", {"planning": 0.0}, "basic", 3, "online"
    ),
    Course(
        "C18",
        "领导力与团队协作",
        "Leadership and teamwork",
        {"planning": 5.0, "communication": 4.0},
        "advanced",
        16,
        "external",
        ("C09",),
    ),
)

"""The data contract: the tables a company exports, written once as pandera schemas.

Each table is one file in a data folder (``orders.csv`` or ``orders.parquet``). Only
``orders`` is mandatory; every other table switches capabilities on (see
``CAPABILITIES``). Column-level rules (types, required columns, ranges, allowed values,
unique keys) are pandera checks; rules that reach across rows or tables (foreign keys,
list columns, date order) are declared in each field's ``metadata`` and enforced by
``features.validate`` so that this module stays the single statement of the contract. The
README's table reference is generated from here (``python -m features.contract_docs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from features.pandera_quiet import Series, pa

SKILLS: tuple[str, ...] = (
    "market_insight",
    "market_operation",
    "brand_cultivation",
    "communication",
    "analysis_guidance",
    "business_enablement",
    "crm_data",
    "planning",
    "ethics",
)
SKILL_NAMES_ZH: dict[str, str] = {
    "market_insight": "把握市场能力",
    "market_operation": "运作市场能力",
    "brand_cultivation": "品牌培育能力",
    "communication": "沟通能力",
    "analysis_guidance": "分析指导",
    "business_enablement": "帮助客户营销",
    "crm_data": "CRM与数据分析",
    "planning": "有效计划",
    "ethics": "职业道德与责任感",
}
FORMATS: tuple[str, ...] = (
    "convenience",
    "supermarket",
    "tobacco_liquor",
    "grocery",
    "entertainment",
    "other",
)
AREA_TYPES: tuple[str, ...] = ("urban", "rural")
VISIT_PURPOSES: tuple[str, ...] = (
    "order_decline_followup",
    "brand_cultivation",
    "business_guidance",
    "complaint_recovery",
    "market_research",
    "relationship_maintenance",
    "onboarding",
    "routine",
    "win_back",  # last, so the codes of the others do not move
)
COMPLAINT_CATEGORIES: tuple[str, ...] = ("service", "conduct", "supply", "price", "other")
COURSE_LEVELS: tuple[str, ...] = ("basic", "intermediate", "advanced")
COURSE_FORMATS: tuple[str, ...] = ("classroom", "online", "external", "on_the_job")
LIST_SEPARATOR = ";"

# Rules the validator enforces from field metadata (documented with the column).
REFERENCES = "references"  # "table.column": every value must exist there
LIST_OF = "list_of"  # the column holds LIST_SEPARATOR-separated values
ALLOWED_ITEMS = "allowed_items"  # for list columns: each item must be one of these
NOT_BEFORE = "not_before"  # "column" in this table, or "table.column" joined via key


def _meta(**rules: Any) -> dict[str, Any]:
    return {"fieldcoach": rules}


class Retailers(pa.DataFrameModel):
    """One row per licensed retailer (零售户)."""

    retailer_id: Series[str] = pa.Field(unique=True, description="Licence or customer code.")
    name: Series[str] | None = pa.Field(
        nullable=True, description="Shop name (店名), shown wherever the retailer is."
    )
    address: Series[str] | None = pa.Field(
        nullable=True, description="Street address, shown on plans and printed routes."
    )
    manager_id: Series[str] | None = pa.Field(
        nullable=True,
        description="Customer manager who serves the retailer.",
        metadata=_meta(references="managers.manager_id"),
    )
    format: Series[str] | None = pa.Field(
        isin=FORMATS, nullable=True, description="Business format (业态)."
    )
    area_type: Series[str] | None = pa.Field(
        isin=AREA_TYPES, nullable=True, description="Urban or rural (城镇/乡村)."
    )
    grade: Series[int] | None = pa.Field(
        ge=1, le=30, nullable=True, coerce=True, description="Supply grade (档位), 1-30."
    )
    lat: Series[float] | None = pa.Field(ge=-90, le=90, nullable=True, coerce=True)
    lon: Series[float] | None = pa.Field(ge=-180, le=180, nullable=True, coerce=True)
    licensed_on: Series[pd.Timestamp] | None = pa.Field(
        nullable=True, coerce=True, description="Date the tobacco licence was issued."
    )
    licence_expires_on: Series[pd.Timestamp] | None = pa.Field(
        nullable=True,
        coerce=True,
        description="Licence end, if it has one.",
        metadata=_meta(not_before="licensed_on"),
    )


class Managers(pa.DataFrameModel):
    """One row per customer manager (客户经理)."""

    manager_id: Series[str] = pa.Field(unique=True, description="Employee code.")
    team_id: Series[str] | None = pa.Field(
        nullable=True, description="Team or market department (市场部)."
    )
    hired_on: Series[pd.Timestamp] | None = pa.Field(nullable=True, coerce=True)
    role: Series[str] | None = pa.Field(
        nullable=True, description="Job level, used for skill targets (e.g. junior, senior)."
    )
    weekly_capacity: Series[int] | None = pa.Field(
        ge=1, le=200, nullable=True, coerce=True, description="Visits the manager can make a week."
    )
    home_lat: Series[float] | None = pa.Field(ge=-90, le=90, nullable=True, coerce=True)
    home_lon: Series[float] | None = pa.Field(ge=-180, le=180, nullable=True, coerce=True)


class Orders(pa.DataFrameModel):
    """One row per retailer order (网上订货). The only mandatory table."""

    order_id: Series[str] | None = pa.Field(unique=True, description="Order number, if exported.")
    retailer_id: Series[str] = pa.Field(
        description="Who ordered.", metadata=_meta(references="retailers.retailer_id")
    )
    order_date: Series[pd.Timestamp] = pa.Field(
        coerce=True,
        description="Day the order was placed.",
        metadata=_meta(not_before="retailers.licensed_on"),
    )
    quantity: Series[float] | None = pa.Field(
        ge=0, le=100_000, nullable=True, coerce=True, description="Cartons (条) ordered."
    )
    amount: Series[float] = pa.Field(ge=0, le=1e8, coerce=True, description="Order value in yuan.")
    brand_count: Series[int] | None = pa.Field(
        ge=0, le=500, nullable=True, coerce=True, description="Distinct brands (规格) ordered."
    )
    premium_share: Series[float] | None = pa.Field(
        ge=0, le=1, nullable=True, coerce=True, description="Share of value in upper price tiers."
    )


class Visits(pa.DataFrameModel):
    """One row per visit (拜访) of a manager to a retailer."""

    retailer_id: Series[str] = pa.Field(metadata=_meta(references="retailers.retailer_id"))
    manager_id: Series[str] = pa.Field(metadata=_meta(references="managers.manager_id"))
    visit_date: Series[pd.Timestamp] = pa.Field(
        coerce=True, metadata=_meta(not_before="managers.hired_on")
    )
    duration_min: Series[float] | None = pa.Field(gt=0, le=600, nullable=True, coerce=True)
    purpose: Series[str] | None = pa.Field(
        isin=VISIT_PURPOSES, nullable=True, description="Why the visit was made (empty: none)."
    )

    class Config:
        unique: ClassVar[list[str]] = ["retailer_id", "manager_id", "visit_date"]


class Assessments(pa.DataFrameModel):
    """One row per assessed skill of a manager (能力测评)."""

    manager_id: Series[str] = pa.Field(metadata=_meta(references="managers.manager_id"))
    assessed_on: Series[pd.Timestamp] = pa.Field(coerce=True)
    skill: Series[str] = pa.Field(isin=SKILLS, description="A skill of the competency model.")
    score: Series[float] = pa.Field(ge=0, le=100, coerce=True, description="Score 0-100.")

    class Config:
        unique: ClassVar[list[str]] = ["manager_id", "assessed_on", "skill"]


class Courses(pa.DataFrameModel):
    """The training catalogue: one row per course."""

    course_id: Series[str] = pa.Field(unique=True)
    title: Series[str] = pa.Field(description="Course title (any language).")
    skills: Series[str] = pa.Field(
        description="Skills the course targets, separated by ';'.",
        metadata=_meta(list_of="skill", allowed_items=SKILLS),
    )
    level: Series[str] | None = pa.Field(isin=COURSE_LEVELS, nullable=True)
    hours: Series[float] = pa.Field(gt=0, le=500, coerce=True, description="Time it takes.")
    format: Series[str] | None = pa.Field(isin=COURSE_FORMATS, nullable=True)
    prerequisites: Series[str] | None = pa.Field(
        nullable=True,
        description="Courses to complete first, separated by ';'.",
        metadata=_meta(list_of="course_id", references="courses.course_id"),
    )
    refresh_after_weeks: Series[float] | None = pa.Field(
        gt=0, nullable=True, coerce=True, description="A refresher is due after this long."
    )


class Trainings(pa.DataFrameModel):
    """One row per course a manager completed."""

    manager_id: Series[str] = pa.Field(metadata=_meta(references="managers.manager_id"))
    course_id: Series[str] = pa.Field(metadata=_meta(references="courses.course_id"))
    completed_on: Series[pd.Timestamp] = pa.Field(
        coerce=True, metadata=_meta(not_before="managers.hired_on")
    )

    class Config:
        unique: ClassVar[list[str]] = ["manager_id", "course_id", "completed_on"]


class Surveys(pa.DataFrameModel):
    """One row per satisfaction survey answer of a retailer (客户满意度)."""

    retailer_id: Series[str] = pa.Field(metadata=_meta(references="retailers.retailer_id"))
    surveyed_on: Series[pd.Timestamp] = pa.Field(coerce=True)
    satisfaction: Series[int] = pa.Field(ge=1, le=5, coerce=True, description="1 (low) to 5.")

    class Config:
        unique: ClassVar[list[str]] = ["retailer_id", "surveyed_on"]


class Complaints(pa.DataFrameModel):
    """One row per complaint (投诉) by or about a retailer."""

    complaint_id: Series[str] | None = pa.Field(unique=True)
    retailer_id: Series[str] = pa.Field(metadata=_meta(references="retailers.retailer_id"))
    complained_on: Series[pd.Timestamp] = pa.Field(coerce=True)
    category: Series[str] | None = pa.Field(isin=COMPLAINT_CATEGORIES, nullable=True)


class WorkingDays(pa.DataFrameModel):
    """The company's own working calendar: days that differ from the official one."""

    date: Series[pd.Timestamp] = pa.Field(unique=True, coerce=True)
    working: Series[int] = pa.Field(
        isin=[0, 1], coerce=True, description="1: a working day; 0: a day off."
    )
    name: Series[str] | None = pa.Field(
        nullable=True, description="Why (e.g. 公司年会, 春节加班), shown in plan notes."
    )


class Recommendations(pa.DataFrameModel):
    """The plans' log: every candidate a stored plan considered, with its probability.

    Written by ``fieldcoach feedback export`` from the plans the service stored; read by
    ``train visits`` (logged propensities) and ``evaluate uplift`` (the review).
    """

    retailer_id: Series[str] = pa.Field(metadata=_meta(references="retailers.retailer_id"))
    manager_id: Series[str] = pa.Field(metadata=_meta(references="managers.manager_id"))
    week_start: Series[pd.Timestamp] = pa.Field(
        coerce=True, description="Monday of the planned week."
    )
    propensity: Series[float] = pa.Field(
        ge=0, le=1, coerce=True, description="Probability the plan recommended the retailer."
    )
    recommended: Series[int] = pa.Field(isin=[0, 1], coerce=True, description="1: in the plan.")
    explored: Series[int] = pa.Field(
        isin=[0, 1], coerce=True, description="1: drawn at random among the near-best."
    )
    held_out: Series[int] = pa.Field(
        isin=[0, 1], coerce=True, description="1: held back at random for the week (holdout)."
    )
    near_best: Series[int] = pa.Field(
        isin=[0, 1], coerce=True, description="1: among the near-best exploration drew from."
    )
    expected_benefit: Series[float] | None = pa.Field(
        nullable=True, coerce=True, description="Order value the plan expected the visit to save."
    )
    purpose: Series[str] | None = pa.Field(
        isin=VISIT_PURPOSES, nullable=True, description="The purpose a visit would have."
    )

    class Config:
        unique: ClassVar[list[str]] = ["retailer_id", "week_start"]


@dataclass(frozen=True)
class TableSpec:
    name: str
    model: type[pa.DataFrameModel]
    required: bool
    date_column: str | None


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec("retailers", Retailers, False, None),
        TableSpec("managers", Managers, False, None),
        TableSpec("orders", Orders, True, "order_date"),
        TableSpec("visits", Visits, False, "visit_date"),
        TableSpec("assessments", Assessments, False, "assessed_on"),
        TableSpec("courses", Courses, False, None),
        TableSpec("trainings", Trainings, False, "completed_on"),
        TableSpec("surveys", Surveys, False, "surveyed_on"),
        TableSpec("complaints", Complaints, False, "complained_on"),
        TableSpec("working_days", WorkingDays, False, None),
        TableSpec("recommendations", Recommendations, False, "week_start"),
    )
}

# Which capability each optional table switches on; the pipeline reports what is off.
CAPABILITIES: dict[str, tuple[str, ...]] = {
    "churn scores from order history": ("orders",),
    "retailer attributes and segments (format, area, grade, licence age)": ("retailers",),
    "visit features, visit-effect model and purposeful visit plans": ("visits",),
    "route planning by location": ("retailers",),
    "manager context (tenure, territory size, capacity)": ("managers", "retailers"),
    "skill estimates from assessments": ("assessments",),
    "course effects and training recommendations": ("courses", "trainings", "assessments"),
    "satisfaction features": ("surveys",),
    "complaint features and complaint-recovery visits": ("complaints",),
}


def missing_capabilities(present: set[str]) -> dict[str, list[str]]:
    """Capabilities switched off by absent tables, each with the tables it lacks."""
    return {
        capability: [t for t in tables if t not in present]
        for capability, tables in CAPABILITIES.items()
        if any(t not in present for t in tables)
    }


def schema_for(table: str) -> pa.DataFrameSchema:
    return TABLES[table].model.to_schema()


def column_rules(table: str, column: str) -> dict[str, Any]:
    """The cross-row/cross-table rules declared for a column (empty if none)."""
    metadata = schema_for(table).columns[column].metadata or {}
    return dict(metadata.get("fieldcoach", {}))

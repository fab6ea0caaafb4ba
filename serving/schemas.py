"""Request and response models of the API: what the OpenAPI docs show, with examples."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from features.contract import VISIT_PURPOSES

if TYPE_CHECKING:  # a Literal built from the contract's tuple is a type only at run time
    Purpose = str
else:
    Purpose = Literal[tuple(VISIT_PURPOSES)]
WEEK_PATTERN = r"^(19|20|21)\d{2}-W(0[1-9]|[1-4]\d|5[0-3])$"
# Ids are the company's own codes, which may be Chinese (城区市场部): any Unicode letter or
# digit, plus _ . : -, but never a path separator, whitespace or a control character.
# ``\w`` is Unicode-aware in both Python's re and pydantic's Rust regex engine.
ID_PATTERN = r"^[\w.:-]{1,64}$"
LINE_BREAKS = frozenset("\n\r\t")


def _clean(value: str, allowed: frozenset[str]) -> str:
    for ch in value:
        category = unicodedata.category(ch)
        if category == "Cs":
            raise ValueError("text must be valid Unicode (no lone surrogates)")
        if category == "Cc" and ch not in allowed:
            raise ValueError(f"text must not contain control characters (U+{ord(ch):04X})")
    return value


def _no_controls(value: str) -> str:
    return _clean(value, frozenset())


def _free_text(value: str) -> str:
    return _clean(value, LINE_BREAKS)


# Text from a body: stored, exported to the data and shown to people, so it must encode.
Label = Annotated[str, AfterValidator(_no_controls)]
FreeText = Annotated[str, AfterValidator(_free_text)]


def _utc(value: object) -> object:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)  # the database stores UTC without an offset
    return value


UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_utc)]


class Error(BaseModel):
    """Every error but 422: one sentence saying what is wrong."""

    detail: str = Field(examples=["this key may not see manager M0007"])


class Visit(BaseModel):
    """One recommended visit, ranked by priority (benefit net of its share of travel)."""

    rank: int = Field(examples=[1])
    retailer_id: str = Field(examples=["R000123"])
    name: str | None = Field(default=None, description="Shop name, if the data has one.")
    address: str | None = Field(default=None, description="Address, if the data has one.")
    churn_probability: float = Field(ge=0, le=1, examples=[0.31])
    value_at_risk: float = Field(description="Usual order value over the horizon (yuan).")
    expected_benefit: float = Field(description="Order value the visit is expected to save.")
    priority: float
    purpose: str = Field(
        examples=["order_decline_followup"], description="Purpose code, for scripts."
    )
    purpose_name: str = Field(
        default="",
        examples=["订货下滑跟进"],
        description="The purpose in words (Accept-Language).",
    )
    talking_point: str = Field(description="In the language asked for (Accept-Language).")
    reasons: list[str] = Field(
        description="Why visit, as sentences in the language asked for: the signals behind "
        "the purpose, the value the visit is expected to keep, then the churn drivers."
    )
    days_since_last_visit: int | None
    date: dt.date
    stop: int = Field(description="Position in the day's route.")
    due: bool = Field(
        default=False, description="Planned because the visit-frequency rule requires it."
    )
    km_from_previous: float
    lat: float
    lon: float
    propensity: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Probability this retailer was recommended this week (with exploration).",
    )
    explored: bool = Field(
        default=False, description="Drawn at random among the near-best (exploration)."
    )


class ExploredCandidate(BaseModel):
    retailer_id: str
    propensity: float = Field(ge=0, le=1, description="Probability it was recommended.")
    explored: bool
    held_out: bool
    near_best: bool
    recommended: bool
    purpose: str | None = None


class ExplorationRecord(BaseModel):
    """The week's random draw: settings, seed and every candidate's probability."""

    explore_share: float
    holdout_share: float
    seed: str = Field(description="Derived from (manager, week): every caller draws the same.")
    explored: int
    held_out: int
    near_best_pool: int
    benefit_given_up: float = Field(
        description="Expected benefit of the plan without the draws less this plan's."
    )
    candidates: list[ExploredCandidate]


class DayRoute(BaseModel):
    date: dt.date
    visits: int
    km: float
    km_back_to_base: float = Field(default=0.0, description="The last leg, back to the base.")
    route: list[str] = Field(description="Retailer ids in visiting order.")


class BasePoint(BaseModel):
    lat: float
    lon: float


class VisitPlan(BaseModel):
    """A manager's week: ranked visits and the day-by-day schedule."""

    manager_id: str = Field(examples=["M0003"])
    week: str = Field(examples=["2026-W01"])
    week_start: dt.date
    capacity: int
    days: int = Field(description="Working days planned (public holidays left out).")
    working_dates: list[dt.date] = Field(
        default_factory=list, description="The week's working days, 调休 included."
    )
    base: BasePoint | None = Field(default=None, description="Where each day starts and ends.")
    min_gap_days: int
    max_days_between_visits: int | None = Field(
        default=None, description="The visit-frequency rule the plan keeps, if any."
    )
    visits: list[Visit]
    schedule: list[DayRoute]
    total_km: float
    expected_benefit: float
    candidates_left_out: int
    language: str = Field(default="en", description="Language of every text in the plan.")
    notes: list[str]
    exploration: ExplorationRecord | None = Field(
        default=None, description="Exploration and holdout of this plan (None: neither)."
    )
    source: Literal["precomputed", "computed"] = Field(
        description="precomputed: written by `fieldcoach plan batch`; computed: on request."
    )


class TeamPlan(BaseModel):
    team_id: str
    week: str
    managers: list[VisitPlan]
    visits: int
    expected_benefit: float
    total_km: float


class WeeklyOrders(BaseModel):
    week_start: dt.date
    order_value: float


class RetailerRisk(BaseModel):
    """A retailer's churn risk now, why, and its recent orders."""

    retailer_id: str = Field(examples=["R000123"])
    name: str | None = Field(default=None, description="Shop name, if the data has one.")
    address: str | None = Field(default=None, description="Address, if the data has one.")
    manager_id: str | None
    as_of: dt.date
    week: str
    status: Literal["active", "lapsed", "churned"] = Field(
        description="lapsed: no recent order, scored for its chance of not coming back; "
        "churned: not scored (gone by the label's rule, with a champion that does not score "
        "lapsed retailers)."
    )
    lapsed: bool | None = None
    weeks_since_last_order: float | None = None
    churn_probability: float | None = Field(ge=0, le=1, examples=[0.42])
    value_at_risk: float
    expected_value_lost: float
    reasons: list[str]
    purpose: str | None = Field(description="What a visit now would be for (code).")
    purpose_name: str | None = Field(default=None, description="The purpose in words.")
    talking_point: str | None
    order_history: list[WeeklyOrders] = Field(description="The last 13 weeks, oldest first.")
    notes: list[str]


class SkillEstimate(BaseModel):
    skill: str = Field(examples=["negotiation"])
    estimate: float
    sd: float
    source: str = Field(description="kpi_only when the manager has no assessment.")
    target: float
    gap: float
    importance: float
    priority: float
    rank: int
    latest_score: float | None = None
    latest_assessed_on: str | None = None
    n_assessments: int | None = None
    evidence: str


class ManagerSkills(BaseModel):
    manager_id: str
    as_of: str
    model_version: str | None
    skills: list[SkillEstimate] = Field(description="Priority order: largest weighted gap first.")


class TrainingModule(BaseModel):
    rank: int
    course_id: str
    title: str
    hours: float
    refresher: bool
    value: float
    expected_gap_closed: float
    expected_gain: dict[str, float]
    rationale: str = Field(description="In the language asked for (Accept-Language).")


class GapCoverage(BaseModel):
    """A large gap of the manager: the modules that address it, or why none does."""

    skill: str
    skill_name: str
    gap: float
    priority: float
    modules: list[str]
    reason: Literal["covered", "no_course", "no_effect", "prerequisites", "budget", "completed"]
    courses: list[str] = Field(description="The courses the reason is about.")
    text: str = Field(description="In the language asked for (Accept-Language).")


class TrainingPlan(BaseModel):
    manager_id: str
    as_of: str
    budget_hours: float
    modules: list[TrainingModule]
    gaps: list[GapCoverage] = Field(
        default_factory=list, description="Every large gap: covered, or why not."
    )


class LeftOut(BaseModel):
    manager_id: str
    reason: str = Field(examples=["group_too_small"])
    text: str = Field(description="Why, in the language asked for.")


class Cohort(BaseModel):
    session: int | None = Field(description="None for the managers left unplaced.")
    course_id: str | None
    title: str | None
    label: str | None = Field(default=None, description="Course, skills and size, in words.")
    left_out: list[LeftOut] = Field(default_factory=list, description="Who, and why.")
    skills: list[str]
    members: list[str]
    size: int
    expected_benefit: float


class FeedbackBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_key: Label = Field(
        min_length=8,
        max_length=200,
        description="Chosen by the client, unique per record among the posts of one API key "
        "and kind: a retry with the same key and body returns the first record instead of "
        "storing a second; the same key with a different body is 409.",
        examples=["tablet-17-2026-01-05-0001"],
    )
    manager_id: str = Field(pattern=ID_PATTERN, examples=["M0003"])


class VisitDecision(FeedbackBase):
    """A planner accepts or rejects a recommended visit."""

    retailer_id: str = Field(pattern=ID_PATTERN, examples=["R000123"])
    week: str = Field(pattern=WEEK_PATTERN, examples=["2026-W01"])
    decision: Literal["accept", "reject"]
    reason: FreeText | None = Field(
        default=None,
        max_length=1000,
        examples=["店铺装修，暂停营业"],
        description="Why. A reason meaning 'not now' (closed for works, owner away) leaves "
        "the retailer out of plans for the period it implies; any other rejection, for the "
        "rest of that week.",
    )
    until: dt.date | None = Field(
        default=None, description="Leave the retailer out of plans until this day (rejections)."
    )


class VisitOutcome(FeedbackBase):
    """Whether a visit happened and what came of it."""

    retailer_id: str = Field(pattern=ID_PATTERN, examples=["R000123"])
    visit_date: dt.date
    done: bool
    purpose: Purpose | None = None
    duration_min: float | None = Field(default=None, gt=0, le=600)
    outcome: FreeText | None = Field(
        default=None, max_length=2000, examples=["restocked 3 brands"]
    )


class TrainingCompletion(FeedbackBase):
    """A manager completed a course."""

    course_id: str = Field(pattern=ID_PATTERN, examples=["C05"])
    completed_on: dt.date


class FeedbackReceipt(BaseModel):
    id: int
    client_key: str
    kind: str
    created: bool = Field(description="False when this key was already stored (a retry).")
    received_at: UtcDatetime = Field(description="When the first post was stored (UTC).")


class LoadedChampion(BaseModel):
    name: str
    version: str | None
    run_id: str | None = Field(default=None, description="Only for a data_scientist or admin key.")
    source: Literal["registry", "exported copy"]
    loaded_at: str


class Health(BaseModel):
    """Without a data_scientist or admin key: status and each model's name, version and
    source only; run ids, the data folder and the notes need such a key."""

    status: Literal["ok", "degraded"]
    models: list[LoadedChampion]
    notes: list[str]
    data: str | None


class ModelVersion(BaseModel):
    model: str
    version: int
    aliases: list[str]
    run_id: str | None
    serving: bool = Field(description="This version is the one the service answers with.")
    metrics: dict[str, float]


class ReloadResult(BaseModel):
    name: str
    status: Literal["loaded", "unchanged", "refused"]
    version: str | None
    detail: str


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["planner", "coordinator", "data_scientist", "admin"]
    teams: list[Annotated[Label, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list,
        max_length=100,
        description="Teams a planner or coordinator key may see (* for all); a coordinator "
        "key without teams is company-wide; other roles take none.",
    )
    label: Label | None = Field(default=None, max_length=200)


class KeyCreated(BaseModel):
    id: int
    key: str = Field(description="Shown once; only its hash is stored.")
    role: str
    teams: list[str]


class KeyInfo(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    prefix: str
    role: str
    teams: list[str]
    label: str | None
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None = Field(
        default=None, description="Set once the key is revoked; it is then refused."
    )

"""A simulated territory: retailers, customer managers, visits and training, week by week.

This is an environment, not a one-shot generator: ``Territory.step`` advances one week under
a visit plan and a training plan (or the company's current practice when none is given),
``save``/``load`` persist the whole state, and every draw of randomness has a fixed size per
week whatever the plan, so two copies of a territory run under different plans see the same
luck (common random numbers) and their difference is the plans' effect. The causal story
is written out in ``docs/simulator.md``; the names below follow it.
"""

from __future__ import annotations

import copy
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.calendar import new_year_factor, to_days
from features.contract import COMPLAINT_CATEGORIES, FORMATS, SKILLS, VISIT_PURPOSES
from features.errors import UserInputError
from features.io import atomic_path
from simulator.catalogue import CATALOGUE
from simulator.scenarios import (
    DEFAULT_PURPOSES,
    Scenario,
    competitor_pressure,
    get_scenario,
    pressure_at,
)

SKILL = {name: k for k, name in enumerate(SKILLS)}
PURPOSE = {name: k for k, name in enumerate(VISIT_PURPOSES)}
COURSE = {course.course_id: k for k, course in enumerate(CATALOGUE)}

# Format multipliers: value of a week's order, and hazard of starting a decline.
FORMAT_VALUE = np.array([1.2, 1.6, 1.8, 0.8, 0.7, 0.6])
FORMAT_DECLINE = np.array([1.0, 0.8, 0.9, 1.3, 1.5, 1.3])
FORMAT_SHARE = np.array([0.25, 0.08, 0.22, 0.33, 0.05, 0.07])

# Health dynamics (health is on a logit-like scale; healthy retailers sit near 1.2).
HEALTH_MEAN, HEALTH_SD = 1.2, 0.45
MEAN_REVERSION = 0.04
HEALTH_NOISE = 0.06
DECLINE_ONSET = 0.02  # weekly hazard of a decline starting, before multipliers
DECLINE_END = 0.04  # weekly chance a decline ends on its own
DECLINE_RATE = (0.05, 0.25)  # health lost per week while declining
GRIEVANCE_HARM = 0.05  # health lost per week per unit of unresolved grievance
GRIEVANCE_DECAY = 0.93
CHURN_INTERCEPT, CHURN_SLOPE = -7.0, -2.4  # weekly exit hazard from health: sigmoid(a + b h)
SUDDEN_CLOSURE = 0.0002  # weekly chance a shop closes whatever its health (owner retires...)
EXIT_REASONS = ("", "low_health", "licence_expired", "closed")
ORDER_INTERCEPT, ORDER_SLOPE = 2.0, 1.1  # weekly order probability = sigmoid(a + b * health)
VALUE_ELASTICITY = 0.35  # order value ~ exp(elasticity * (health - own baseline health))

# Visit effects: what a visit by a manager of skill s (0-1) does to a retailer in need.
MATCHED, UNMATCHED = 1.0, 0.3  # share of a need's effect a visit of that purpose delivers
DECLINE_CUT = (0.2, 0.6)  # decline rate cut by (a + b * s)
DECLINE_LIFT = 0.15
GRIEVANCE_CUT = (0.3, 0.6)
GRIEVANCE_LIFT = 0.10
GUIDANCE_LIFT = 0.25
BREADTH_GAIN = 0.35
RELATIONSHIP_LIFT = 0.02

NEEDS = ("decline", "grievance", "guidance", "breadth", "relationship")
PURPOSE_OF_NEED = DEFAULT_PURPOSES  # the default story's; a scenario may change them


ORDERINGS = ("weekly", "irregular")
# Irregular ordering: the share of buyers of each rhythm, and the weeks one order covers.
RHYTHMS = ("weekly", "fortnightly", "monthly", "sporadic")
RHYTHM_SHARE = (0.4, 0.25, 0.2, 0.15)
RHYTHM_WEEKS = np.array([1.0, 2.0, 4.0, 6.0])
SPORADIC_WEEKLY_CHANCE = 1 / 6  # a sporadic buyer's weekly chance of ordering, when healthy


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class SimulationConfig:
    """Size and defaults of a simulated company (see docs/simulator.md)."""

    n_retailers: int = 2000
    n_managers: int = 10
    start: str = "2024-01-01"
    seed: int = 0
    managers_per_team: int = 8
    days_per_week: int = 5
    visit_cycle_weeks: tuple[int, int] = (2, 4)
    new_retailer_rate: float = 0.0012  # new licences a week, as a share of the initial count
    assessment_every_weeks: int = 26
    training_rate: float = 0.03  # chance a manager completes a course in a given week
    survey_rate: float = 1 / 26  # chance a retailer answers a survey in a given week
    shortage_rate: float = 0.03  # chance a supply shortage starts in a given week
    horizon_weeks: int = 8  # horizon of the true visit effect written to the truth
    record_truth: bool = True
    scenario: str = "default"  # the causal story (simulator/scenarios.py)
    ordering: str = "weekly"  # or "irregular": weekly, fortnightly, monthly, sporadic buyers

    def __post_init__(self) -> None:
        get_scenario(self.scenario)
        if self.ordering not in ORDERINGS:
            raise UserInputError(
                f"--ordering must be {' or '.join(ORDERINGS)}, got {self.ordering!r}"
            )
        start = pd.Timestamp(self.start)
        if start.weekday() != 0:
            raise UserInputError(f"--start {self.start} is a {start.day_name()}; give a Monday")
        if self.n_retailers < self.n_managers:
            raise UserInputError("need at least one retailer per manager")


@dataclass
class Retailers:
    """Per-retailer state; arrays grow as new retailers open."""

    manager: np.ndarray
    format: np.ndarray
    urban: np.ndarray
    grade: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    licensed_on: np.ndarray  # days since epoch
    expires_on: np.ndarray  # days since epoch, -1 for none
    order_dow: np.ndarray
    cycle: np.ndarray
    base_value: np.ndarray
    price: np.ndarray  # yuan per carton at the retailer's usual mix
    premium: np.ndarray
    health0: np.ndarray
    health: np.ndarray
    decline: np.ndarray
    grievance: np.ndarray
    breadth: np.ndarray
    breadth_target: np.ndarray
    alive: np.ndarray
    exited_week: np.ndarray
    exit_reason: np.ndarray  # index into EXIT_REASONS
    last_visit_week: np.ndarray
    last_complaint_week: np.ndarray
    seen_value: np.ndarray  # what a manager sees: recent order value (EWMA over ~4 weeks)
    seen_baseline: np.ndarray  # and its own long-run level (EWMA over ~26 weeks)
    rhythm: np.ndarray  # index into RHYTHMS (all weekly unless ordering is irregular)
    rhythm_phase: np.ndarray  # which week of its cycle a fortnightly/monthly buyer orders in

    def __len__(self) -> int:
        return len(self.manager)

    def extend(self, other: Retailers) -> None:
        for name, values in vars(other).items():
            setattr(self, name, np.concatenate([getattr(self, name), values]))


@dataclass
class Managers:
    team: np.ndarray
    hired_on: np.ndarray
    capacity: np.ndarray
    home_lat: np.ndarray
    home_lon: np.ndarray
    skills: np.ndarray  # (managers, skills), true level 0-100
    assessment_offset: np.ndarray
    completed: np.ndarray  # (managers, courses) week of last completion, -1 if never
    latest_scores: np.ndarray  # (managers, skills) what the company last measured, NaN before

    def __len__(self) -> int:
        return len(self.team)


@dataclass
class Territory:
    """The whole simulated company and its history so far."""

    config: SimulationConfig
    rng: np.random.Generator
    week: int
    retailers: Retailers
    managers: Managers
    shortage_weeks_left: int = 0
    file_format: str = "parquet"
    exported_weeks: int = 0
    # False once a given plan steered it: the seed alone no longer reproduces its history.
    replayable: bool = True
    records: dict[str, list[dict[str, np.ndarray]]] = field(default_factory=dict)
    truth: dict[str, list[dict[str, np.ndarray]]] = field(default_factory=dict)

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, config: SimulationConfig) -> Territory:
        rng = np.random.default_rng(config.seed)
        start = to_days(config.start)
        managers = _create_managers(config, rng, start)
        retailers = _create_retailers(config, rng, managers, config.n_retailers, start, True)
        sizes = np.bincount(retailers.manager, minlength=len(managers))
        managers.capacity = np.maximum(
            5, np.round(sizes / 3.0 * rng.uniform(0.9, 1.15, len(managers)))
        ).astype(np.int32)
        territory = cls(config=config, rng=rng, week=0, retailers=retailers, managers=managers)
        territory._record_static()
        return territory

    @property
    def scenario(self) -> Scenario:
        # Territories saved before scenarios existed tell the default story.
        return get_scenario(getattr(self.config, "scenario", "default"))

    def competitor_pressure(self) -> np.ndarray | None:
        """Competitor pressure (0-1) at each retailer, or None when the story has none."""
        m, r = self.managers, self.retailers
        hotspots = competitor_pressure(self.scenario, self.config.seed, m.home_lat, m.home_lon)
        return None if hotspots is None else pressure_at(self.scenario, hotspots, r.lat, r.lon)

    def _visit_saturation(self, index: np.ndarray | None = None) -> np.ndarray | None:
        """Share of its effect a visit keeps given the weeks since the last one (or None)."""
        weeks = self.scenario.saturation_weeks
        if not weeks:
            return None
        last = self.retailers.last_visit_week
        since = self.week - (last if index is None else last[index])
        return np.clip(since / weeks, 0.0, 1.0)

    def _relationship_factor(self, grade: np.ndarray) -> np.ndarray:
        """Relationship lift per unit: larger for high grades, or (scenario) small shops."""
        if self.scenario.relationship_favours_small:
            return 1 + (30 - grade) / 15
        return 1 + grade / 15

    @property
    def start_day(self) -> int:
        return to_days(self.config.start)

    @property
    def current_day(self) -> int:
        """First day of the week the next ``step`` simulates."""
        return self.start_day + 7 * self.week

    @property
    def current_date(self) -> pd.Timestamp:
        return pd.Timestamp(self.current_day, unit="D")

    def retailer_ids(self, index: np.ndarray | None = None) -> np.ndarray:
        index = np.arange(len(self.retailers)) if index is None else index
        return np.char.add("R", np.char.zfill(np.asarray(index).astype(str), 7))

    def manager_ids(self, index: np.ndarray | None = None) -> np.ndarray:
        index = np.arange(len(self.managers)) if index is None else index
        return np.char.add("M", np.char.zfill(np.asarray(index).astype(str), 4))

    # ------------------------------------------------------------------ running
    def run(
        self,
        weeks: int,
        visit_plan: pd.DataFrame | None = None,
        training_plan: pd.DataFrame | None = None,
    ) -> Territory:
        """Advance ``weeks`` weeks; plans are split by week on their date column."""
        for _ in range(weeks):
            lo, hi = self.current_day, self.current_day + 7
            self.step(
                _rows_in_week(visit_plan, "visit_date", lo, hi),
                _rows_in_week(training_plan, "completed_on", lo, hi),
                plan_given=(visit_plan is not None, training_plan is not None),
            )
        return self

    def step(
        self,
        visit_plan: pd.DataFrame | None = None,
        training_plan: pd.DataFrame | None = None,
        plan_given: tuple[bool, bool] | None = None,
    ) -> None:
        """Simulate one week.

        Args:
            visit_plan: visits to make this week (``retailer_id``, optional ``manager_id``,
                ``visit_date``, ``purpose``). ``None``: the company's current practice.
            training_plan: courses completed this week (``manager_id``, ``course_id``,
                optional ``completed_on``). ``None``: current practice.
            plan_given: set by ``run`` so that an empty slice of a given plan means
                "no visits this week" rather than "current practice".
        """
        given_visits, given_training = plan_given or (
            visit_plan is not None,
            training_plan is not None,
        )
        if given_visits or given_training:
            self.replayable = False
        rng, cfg, day = self.rng, self.config, self.current_day
        self._open_new_retailers()
        r, m = self.retailers, self.managers
        n = len(r)
        # Every random draw of the week, at fixed sizes, before any plan is looked at.
        u = rng.random((8, n))
        z = rng.standard_normal((3, n))
        u_mgr = rng.random((4, len(m)))
        z_assess = rng.standard_normal((len(m), len(SKILLS) + 1))
        shortage_draw = rng.random()

        self._learn_and_train(training_plan if given_training else None, u_mgr)
        self._assess(z_assess)
        effect, best_purpose = self.true_visit_effect()
        before = {
            "health": r.health.copy(),
            "decline": r.decline.copy(),
            "grievance": r.grievance.copy(),
            "breadth_gap": r.breadth_target - r.breadth,
        }
        if given_visits:
            visits = self._visits_from_plan(visit_plan)
        else:
            visits = self.current_practice_visits(u[0], u[1])
        self._apply_visits(visits)
        self._complaints(u[2], u[3])
        self._health_dynamics(u[4], z[0], z[1])
        hazard = self._exits(u[5])
        self._orders(u[6], z[2], shortage_draw)
        self._surveys(u[7], z[1])
        if cfg.record_truth:
            alive_idx = np.flatnonzero(r.alive | (r.exited_week == self.week))
            visited = np.zeros(n, dtype=bool)
            visited[visits["retailer"]] = True
            self._add(
                "truth",
                "retailer_weeks",
                {
                    "retailer": alive_idx.astype(np.int32),
                    "week_start": np.full(len(alive_idx), day, dtype=np.int32),
                    **{k: v[alive_idx].astype(np.float32) for k, v in before.items()},
                    "exit_hazard": hazard[alive_idx].astype(np.float32),
                    "visit_effect": effect[alive_idx].astype(np.float32),
                    "best_purpose": best_purpose[alive_idx].astype(np.int8),
                    "visited": visited[alive_idx],
                },
            )
            self._add(
                "truth",
                "manager_skills",
                {
                    "manager": np.arange(len(m), dtype=np.int32),
                    "week_start": np.full(len(m), day, dtype=np.int32),
                    **{s: m.skills[:, k].astype(np.float32) for s, k in SKILL.items()},
                },
            )
        self.week += 1

    # ------------------------------------------------------------------ the causal pieces
    def _open_new_retailers(self) -> None:
        cfg = self.config
        count = self.rng.poisson(cfg.new_retailer_rate * cfg.n_retailers)
        new = _create_retailers(cfg, self.rng, self.managers, count, self.current_day, False)
        if count:
            first = len(self.retailers)
            self.retailers.extend(new)
            self._record_retailers(np.arange(first, first + count))

    def _learn_and_train(self, plan: pd.DataFrame | None, u: np.ndarray) -> None:
        m = self.managers
        # Experience: a little better every week, less so near the top of the scale.
        m.skills += 0.02 * (100 - m.skills) / 50
        if plan is None:
            who, course = self._current_practice_training(u)
        else:
            who = _index_of(plan["manager_id"], self.manager_ids(), "manager_id", "training plan")
            course = np.array([_course_index(c) for c in plan["course_id"]], dtype=np.int64)
        for manager, c in zip(who, course, strict=True):
            self._complete_course(int(manager), int(c))
        if len(who):
            days = self.current_day + (u[3][who] * self.config.days_per_week).astype(np.int64)
            self._add(
                "records",
                "trainings",
                {
                    "manager": np.asarray(who, dtype=np.int32),
                    "course": np.asarray(course, dtype=np.int32),
                    "completed_on": days.astype(np.int32),
                },
            )

    def _current_practice_training(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Courses chosen the way coordinators do today: for the weakest latest score."""
        m = self.managers
        who = np.flatnonzero(u[0] < self.config.training_rate)
        courses = []
        for manager in who:
            latest = m.latest_scores[manager]
            pick_weakest = not np.isnan(latest).any() and u[1][manager] < 0.6
            candidates = [
                k
                for k, c in enumerate(CATALOGUE)
                if m.completed[manager, k] < 0
                and all(m.completed[manager, COURSE[p]] >= 0 for p in c.prerequisites)
            ]
            if not candidates:
                candidates = list(range(len(CATALOGUE)))
            if pick_weakest:
                weakest = SKILLS[int(np.argmin(latest))]
                targeted = [k for k in candidates if weakest in CATALOGUE[k].effects]
                candidates = targeted or candidates
            courses.append(candidates[int(u[2][manager] * len(candidates))])
        return who, np.asarray(courses, dtype=np.int64)

    def _complete_course(self, manager: int, course: int) -> None:
        m = self.managers
        spec = CATALOGUE[course]
        ready = all(m.completed[manager, COURSE[p]] >= 0 for p in spec.prerequisites)
        repeat = m.completed[manager, course] >= 0
        scale = (1.0 if ready else 0.5) * (0.3 if repeat else 1.0)
        for skill, effect in spec.effects.items():
            k = SKILL[skill]
            gap_factor = np.clip((100 - m.skills[manager, k]) / 50, 0.2, 1.5)
            m.skills[manager, k] = min(100.0, m.skills[manager, k] + effect * gap_factor * scale)
        m.completed[manager, course] = self.week

    def _assess(self, z: np.ndarray) -> None:
        """Twice-yearly assessments: the true skill plus rater severity and noise."""
        m, cfg = self.managers, self.config
        due = (self.week - m.assessment_offset) % cfg.assessment_every_weeks == 0
        due &= self.week >= m.assessment_offset
        due &= z[:, -1] > -1.0  # about one assessment in six is missed
        who = np.flatnonzero(due)
        if not len(who):
            return
        severity = 4.0 * z[who, -1:] * 0.5
        scores = np.clip(np.round(m.skills[who] + severity + 7.0 * z[who, :-1]), 0, 100)
        m.latest_scores[who] = scores
        day = self.current_day + 2
        self._add(
            "records",
            "assessments",
            {
                "manager": np.repeat(who, len(SKILLS)).astype(np.int32),
                "assessed_on": np.full(len(who) * len(SKILLS), day, dtype=np.int32),
                "skill": np.tile(np.arange(len(SKILLS)), len(who)).astype(np.int8),
                "score": scores.ravel().astype(np.float32),
            },
        )

    def needs(self, manager_skills: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Health a visit of the matching purpose would add now, per need, per retailer.

        Each entry is in health units over the truth horizon: an immediate lift plus the
        health a cut in decline or grievance saves over the following weeks.
        """
        r, m = self.retailers, self.managers
        s = (m.skills[r.manager] if manager_skills is None else manager_skills) / 100.0
        s = self.scenario.skill(s)
        weeks = _expected_weeks(self.config.horizon_weeks, DECLINE_END)
        griev_weeks = _expected_weeks(self.config.horizon_weeks, 1 - GRIEVANCE_DECAY)
        enable = (s[:, SKILL["business_enablement"]] + s[:, SKILL["market_operation"]]) / 2
        comm = s[:, SKILL["communication"]]
        decline_cut = r.decline * (DECLINE_CUT[0] + DECLINE_CUT[1] * enable)
        grievance_cut = r.grievance * (GRIEVANCE_CUT[0] + GRIEVANCE_CUT[1] * comm)
        shortfall = np.clip((r.health0 - r.health - 0.3) / 1.5, 0, 1.5)
        gap = np.clip((r.breadth_target - r.breadth) / r.breadth_target, 0, 1)
        alive = r.alive.astype(np.float64)
        guidance = GUIDANCE_LIFT * self.scenario.guidance_scale
        needs = {
            "decline": alive
            * (DECLINE_LIFT * np.minimum(r.decline / 0.12, 2.0) * enable + decline_cut * weeks),
            "grievance": alive
            * (
                GRIEVANCE_LIFT * np.minimum(r.grievance, 2.0) * comm
                + grievance_cut * GRIEVANCE_HARM * griev_weeks
            ),
            "guidance": alive * guidance * shortfall * s[:, SKILL["analysis_guidance"]],
            "breadth": alive * gap * BREADTH_GAIN * s[:, SKILL["brand_cultivation"]] * 0.5,
            "relationship": alive * RELATIONSHIP_LIFT * self._relationship_factor(r.grade),
        }
        saturation = self._visit_saturation()
        if saturation is not None:
            needs = {k: v * saturation for k, v in needs.items()}
        return needs

    def true_visit_effect(self) -> tuple[np.ndarray, np.ndarray]:
        """The health a visit this week adds over the horizon, with its best purpose."""
        needs = self.needs()
        purposes = self.scenario.purposes
        by_purpose = np.stack([_delivered(needs, p, purposes) for p in VISIT_PURPOSES], axis=1)
        best = np.argmax(by_purpose, axis=1)
        return by_purpose[np.arange(len(best)), best], best

    def current_practice_visits(self, u_notice: np.ndarray, u_order: np.ndarray) -> dict:
        """Today's practice: a rotation, partly aimed at retailers seen to be declining.

        A manager notices a decline in the order data with a chance set by market insight
        and CRM skill, and a recent complaint with a chance set by communication; noticed
        retailers jump the rotation. Planning skill sets how often a rotation visit has a
        purpose at all.
        """
        r, m = self.retailers, self.managers
        s = m.skills[r.manager] / 100.0
        alive = r.alive
        overdue = (self.week - r.last_visit_week) - r.cycle
        seen_drop = r.seen_value < 0.7 * r.seen_baseline
        notice = (s[:, SKILL["market_insight"]] + s[:, SKILL["crm_data"]]) / 2
        scenario = self.scenario
        if scenario.practice_notice_scale != 1.0:
            notice = notice * scenario.practice_notice_scale
        noticed_decline = seen_drop & (u_notice < notice)
        recent_complaint = (self.week - r.last_complaint_week) <= 4
        noticed_complaint = recent_complaint & (u_notice < s[:, SKILL["communication"]])
        priority = overdue + 3.0 * noticed_decline + 3.0 * noticed_complaint + u_order
        if scenario.practice_value_priority:
            # Habit: the biggest shops get seen more often than their cycle asks.
            value_rank = np.argsort(np.argsort(r.base_value)) / max(len(r) - 1, 1)
            priority = priority + scenario.practice_value_priority * value_rank
        if scenario.practice_near_home_priority:
            home_km = np.hypot(r.lat - m.home_lat[r.manager], r.lon - m.home_lon[r.manager]) / 0.05
            priority = priority - scenario.practice_near_home_priority * np.minimum(home_km, 3)
        priority[~alive] = -np.inf
        eligible = alive & ((overdue >= 0) | noticed_decline | noticed_complaint)
        chosen = np.flatnonzero(_top_per_group(r.manager, priority, m.capacity, eligible))
        purpose = np.full(len(chosen), PURPOSE["routine"], dtype=np.int8)
        has_purpose = u_order[chosen] < s[chosen, SKILL["planning"]]
        gap = (r.breadth_target - r.breadth)[chosen] / r.breadth_target[chosen]
        purpose[has_purpose & (gap > 0.3)] = PURPOSE["brand_cultivation"]
        high_value = r.base_value[chosen] > np.quantile(r.base_value, 0.8)
        purpose[has_purpose & (gap <= 0.3) & high_value] = PURPOSE["relationship_maintenance"]
        purpose[has_purpose & (gap <= 0.3) & ~high_value] = PURPOSE["business_guidance"]
        onboarding = (self.current_day - r.licensed_on[chosen]) < 28
        purpose[onboarding] = PURPOSE["onboarding"]
        purpose[noticed_complaint[chosen]] = PURPOSE["complaint_recovery"]
        purpose[noticed_decline[chosen]] = PURPOSE["order_decline_followup"]
        return {"retailer": chosen, "manager": r.manager[chosen], "purpose": purpose}

    def _visits_from_plan(self, plan: pd.DataFrame) -> dict:
        r = self.retailers
        if plan is None or plan.empty:
            empty = np.zeros(0, dtype=np.int64)
            return {"retailer": empty, "manager": empty, "purpose": empty.astype(np.int8)}
        retailer = _index_of(plan["retailer_id"], self.retailer_ids(), "retailer_id", "visit plan")
        if "manager_id" in plan and plan["manager_id"].notna().all():
            manager = _index_of(plan["manager_id"], self.manager_ids(), "manager_id", "visit plan")
        else:
            manager = r.manager[retailer]
        if "purpose" in plan:
            names = plan["purpose"].fillna("routine").astype(str)
            unknown = sorted(set(names) - set(PURPOSE))
            if unknown:
                raise UserInputError(f"visit plan: unknown purpose(s) {unknown}")
            purpose = names.map(PURPOSE).to_numpy(dtype=np.int8)
        else:
            purpose = np.full(len(retailer), PURPOSE["routine"], dtype=np.int8)
        days = None
        if "visit_date" in plan:
            days = (
                pd.to_datetime(plan["visit_date"])
                .to_numpy()
                .astype("datetime64[D]")
                .astype(np.int64)
            )
        # A retailer visited twice in a week gets the effect once; the visits are recorded.
        return {"retailer": retailer, "manager": manager, "purpose": purpose, "day": days}

    def _apply_visits(self, visits: dict) -> None:
        r, m = self.retailers, self.managers
        idx, mgr, purpose = visits["retailer"], visits["manager"], visits["purpose"]
        if len(idx):
            first = np.unique(idx, return_index=True)[1]
            uidx, umgr, upur = idx[first], mgr[first], purpose[first]
            s = self.scenario.skill(m.skills[umgr] / 100.0)
            purposes = self.scenario.purposes
            live = r.alive[uidx]
            enable = (s[:, SKILL["business_enablement"]] + s[:, SKILL["market_operation"]]) / 2
            comm = s[:, SKILL["communication"]]
            share = {
                need: np.where(
                    np.isin(upur, [PURPOSE[p] for p in purposes[need]]), MATCHED, UNMATCHED
                )
                for need in NEEDS
            }
            saturation = self._visit_saturation(uidx)
            if saturation is not None:
                share = {need: v * saturation for need, v in share.items()}
            shortfall = np.clip((r.health0[uidx] - r.health[uidx] - 0.3) / 1.5, 0, 1.5)
            lift = (
                share["decline"] * DECLINE_LIFT * np.minimum(r.decline[uidx] / 0.12, 2.0) * enable
                + share["grievance"] * GRIEVANCE_LIFT * np.minimum(r.grievance[uidx], 2.0) * comm
                + share["guidance"]
                * GUIDANCE_LIFT
                * self.scenario.guidance_scale
                * shortfall
                * s[:, SKILL["analysis_guidance"]]
                + share["relationship"]
                * RELATIONSHIP_LIFT
                * self._relationship_factor(r.grade[uidx])
            )
            r.health[uidx] += np.where(live, lift, 0.0)
            r.decline[uidx] *= 1 - share["decline"] * (DECLINE_CUT[0] + DECLINE_CUT[1] * enable)
            r.grievance[uidx] *= 1 - share["grievance"] * (
                GRIEVANCE_CUT[0] + GRIEVANCE_CUT[1] * comm
            )
            gap = np.maximum(r.breadth_target[uidx] - r.breadth[uidx], 0)
            r.breadth[uidx] += (
                share["breadth"] * BREADTH_GAIN * s[:, SKILL["brand_cultivation"]] * gap
            )
            r.last_visit_week[uidx] = self.week
        days = visits.get("day")
        if days is None:
            # Spread each manager's visits over the working days in list order.
            order = np.argsort(mgr, kind="stable")
            rank = np.empty(len(mgr), dtype=np.int64)
            starts = np.searchsorted(mgr[order], mgr[order])
            rank[order] = np.arange(len(mgr)) - starts
            per_day = np.maximum(1, np.ceil(m.capacity[mgr] / self.config.days_per_week))
            offset = np.minimum(rank // per_day, self.config.days_per_week - 1)
            days = self.current_day + offset.astype(np.int64)
        duration = 15 + 10 * (purpose != PURPOSE["routine"]) + (idx % 7) * 3
        self._add(
            "records",
            "visits",
            {
                "retailer": idx.astype(np.int32),
                "manager": mgr.astype(np.int32),
                "visit_date": np.asarray(days, dtype=np.int32),
                "duration_min": duration.astype(np.float32),
                "purpose": purpose.astype(np.int8),
            },
        )

    def _complaints(self, u: np.ndarray, u_category: np.ndarray) -> None:
        r, m = self.retailers, self.managers
        s = m.skills[r.manager]
        logit = (
            -6.0
            + 0.045 * (60 - s[:, SKILL["communication"]])
            + 0.045 * (60 - s[:, SKILL["ethics"]])
            + 0.5 * (r.health < 0)
            + 0.8 * (self.shortage_weeks_left > 0)
        )
        complained = r.alive & (u < _sigmoid(logit))
        idx = np.flatnonzero(complained)
        if not len(idx):
            return
        r.grievance[idx] += 1.0
        r.health[idx] -= 0.1
        r.last_complaint_week[idx] = self.week
        conduct_share = np.clip((70 - s[idx, SKILL["ethics"]]) / 80, 0.05, 0.6)
        rest = (u_category[idx] - conduct_share) / (1 - conduct_share)
        other_kinds = np.array(
            [COMPLAINT_CATEGORIES.index(c) for c in ("service", "service", "price", "other")]
        )
        category = np.where(
            u_category[idx] < conduct_share,
            COMPLAINT_CATEGORIES.index("conduct"),
            np.where(
                self.shortage_weeks_left > 0,
                COMPLAINT_CATEGORIES.index("supply"),
                other_kinds[np.clip((rest * 4).astype(np.int64), 0, 3)],
            ),
        )
        self._add(
            "records",
            "complaints",
            {
                "retailer": idx.astype(np.int32),
                "complained_on": (
                    self.current_day + (u_category[idx] * 7).astype(np.int64)
                ).astype(np.int32),
                "category": category.astype(np.int8),
            },
        )

    def _health_dynamics(self, u: np.ndarray, z: np.ndarray, z_breadth: np.ndarray) -> None:
        r = self.retailers
        onset = (
            DECLINE_ONSET
            * FORMAT_DECLINE[r.format]
            * np.where(r.urban, 1.0, 1.3)
            * (1.3 - r.grade / 50)
            * (1 + np.clip((r.breadth_target - r.breadth) / r.breadth_target, 0, 1))
        )
        pressure = self.competitor_pressure()
        if pressure is not None:
            onset = onset * (1 + self.scenario.competition * pressure)
        declining = r.decline > 0.005
        starts = ~declining & (u < onset)
        ends = declining & (u > 1 - DECLINE_END)
        # Reuse the onset draw: below the onset hazard it is uniform, so it sets the rate.
        low, high = DECLINE_RATE
        rate = low + (high - low) * (u / np.maximum(onset, 1e-9))
        r.decline = np.where(starts, np.clip(rate, *DECLINE_RATE), r.decline)
        r.decline[ends] = 0.0
        still = r.decline <= 0.005
        r.health += (
            np.where(still, MEAN_REVERSION * (r.health0 - r.health), 0.0)
            - r.decline
            - GRIEVANCE_HARM * r.grievance
            + HEALTH_NOISE * z
        )
        r.grievance *= GRIEVANCE_DECAY
        # Brand mix narrows while a retailer declines and drifts back slowly otherwise.
        r.breadth += np.where(still, 0.01, -0.4) * np.maximum(r.decline, 0.02) * r.breadth
        r.breadth += 0.02 * z_breadth
        r.breadth = np.clip(r.breadth, 1.0, r.breadth_target * 1.2)

    def exit_hazard(self, day: int) -> np.ndarray:
        """Chance each retailer leaves for good in the week starting ``day``, from its health."""
        r = self.retailers
        licence_over = (r.expires_on >= 0) & (r.expires_on < day + 7)
        hazard = 1 - (1 - _sigmoid(CHURN_INTERCEPT + CHURN_SLOPE * r.health)) * (
            1 - SUDDEN_CLOSURE
        )
        return np.where(licence_over, 1.0, hazard)

    def order_probability(self, day: int) -> np.ndarray:
        """Chance each retailer, if still trading, orders in the week starting ``day``."""
        r = self.retailers
        festival = new_year_factor(np.array([day]))[0] < 0.5
        p_order = _sigmoid(ORDER_INTERCEPT + ORDER_SLOPE * r.health) * (0.6 if festival else 1)
        if self.config.ordering != "weekly":
            week = (day - self.start_day) // 7
            cycle = RHYTHM_WEEKS[r.rhythm].astype(np.int64)
            due = np.where(r.rhythm == 3, True, (week + r.rhythm_phase) % cycle == 0)
            p_order = np.where(r.rhythm == 3, p_order * SPORADIC_WEEKLY_CHANCE, p_order) * due
        return np.where(r.licensed_on <= day, p_order, 0.0)

    def _exits(self, u: np.ndarray) -> np.ndarray:
        r = self.retailers
        hazard = self.exit_hazard(self.current_day)
        leaving = r.alive & (u < hazard)
        reason = np.where(
            hazard >= 1.0,
            EXIT_REASONS.index("licence_expired"),
            np.where(
                u < SUDDEN_CLOSURE, EXIT_REASONS.index("closed"), EXIT_REASONS.index("low_health")
            ),
        )
        r.alive[leaving] = False
        r.exited_week[leaving] = self.week
        r.exit_reason[leaving] = reason[leaving]
        return hazard

    def _orders(self, u: np.ndarray, z: np.ndarray, shortage_draw: float) -> None:
        r, cfg = self.retailers, self.config
        if self.shortage_weeks_left > 0:
            self.shortage_weeks_left -= 1
        elif shortage_draw < cfg.shortage_rate:
            self.shortage_weeks_left = 1 + int(shortage_draw / cfg.shortage_rate * 3)
            self._add(
                "truth",
                "shortages",
                {
                    "week_start": np.array([self.current_day], dtype=np.int32),
                    "weeks": np.array([self.shortage_weeks_left], dtype=np.int32),
                },
            )
        season = new_year_factor(np.array([self.current_day]))[0]
        p_order = self.order_probability(self.current_day)
        ordered = r.alive & (u < p_order)
        idx = np.flatnonzero(ordered)
        supply = 0.7 if self.shortage_weeks_left > 0 else 1.0
        value = (
            r.base_value[idx]
            * season
            * supply
            * np.exp(VALUE_ELASTICITY * (r.health[idx] - r.health0[idx]) + 0.2 * z[idx] - 0.02)
        )
        if cfg.ordering != "weekly":
            value = value * RHYTHM_WEEKS[r.rhythm[idx]]  # one order covers its weeks
        amount = np.round(value, 2)
        quantity = np.maximum(1.0, np.round(amount / r.price[idx]))
        brands = np.maximum(1, np.round(r.breadth[idx] * (0.8 + 0.2 * u[idx] / p_order[idx])))
        premium = np.clip(r.premium[idx] + 0.05 * z[idx], 0, 1)
        observed = np.zeros(len(r))
        observed[idx] = amount
        r.seen_value = np.where(r.alive, 0.75 * r.seen_value + 0.25 * observed, r.seen_value)
        r.seen_baseline = np.where(
            r.alive, 0.96 * r.seen_baseline + 0.04 * observed, r.seen_baseline
        )
        self._add(
            "records",
            "orders",
            {
                "retailer": idx.astype(np.int32),
                "order_date": (self.current_day + r.order_dow[idx].astype(np.int64)).astype(
                    np.int32
                ),
                "quantity": quantity.astype(np.float32),
                "amount": amount.astype(np.float64),
                "brand_count": brands.astype(np.int16),
                "premium_share": np.round(premium, 3).astype(np.float32),
            },
        )

    def _surveys(self, u: np.ndarray, z: np.ndarray) -> None:
        r, m = self.retailers, self.managers
        asked = r.alive & (u < self.config.survey_rate)
        idx = np.flatnonzero(asked)
        if not len(idx):
            return
        comm = m.skills[r.manager[idx], SKILL["communication"]]
        recency = np.minimum(self.week - r.last_visit_week[idx], 12)
        latent = (
            3.4
            + (comm - 60) / 20
            + 0.35 * np.tanh(r.health[idx])
            - 0.6 * np.minimum(r.grievance[idx], 2)
            - 0.05 * recency
            + 0.6 * z[idx]
        )
        self._add(
            "records",
            "surveys",
            {
                "retailer": idx.astype(np.int32),
                "surveyed_on": np.full(len(idx), self.current_day + 3, dtype=np.int32),
                "satisfaction": np.clip(np.round(latent), 1, 5).astype(np.int8),
            },
        )

    # ------------------------------------------------------------------ persistence
    def _add(self, kind: str, table: str, columns: dict[str, np.ndarray]) -> None:
        getattr(self, kind).setdefault(table, []).append(columns)

    def _record_static(self) -> None:
        self._record_retailers(np.arange(len(self.retailers)))

    def _record_retailers(self, index: np.ndarray) -> None:
        self._add("records", "new_retailers", {"retailer": index.astype(np.int32)})

    def clone(self) -> Territory:
        """An independent copy (state and random stream) to run a different plan on."""
        return copy.deepcopy(self)

    def save(self, path: Path) -> Path:
        """Persist the whole state (records not yet exported included), atomically."""
        with atomic_path(Path(path)) as tmp, open(tmp, "wb") as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return Path(path)

    @staticmethod
    def load(path: Path) -> Territory:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no saved territory (run `fieldcoach simulate`)")
        with open(path, "rb") as fh:
            territory = pickle.load(fh)
        if not isinstance(territory, Territory):
            raise UserInputError(f"{path}: not a saved territory")
        return territory

    def describe(self) -> dict[str, Any]:
        config = asdict(self.config)
        if config.get("scenario") == "default":
            del config["scenario"]  # the default story's files stay as they were
        if config["ordering"] == "weekly":
            del config["ordering"]  # the default; keeps weekly territories' params as they were
        return {
            "config": config,
            "week": self.week,
            "date": str(self.current_date),
            "replayable": self.replayable,
        }


def _delivered(
    needs: dict[str, np.ndarray],
    purpose: str,
    purposes: dict[str, tuple[str, ...]] = DEFAULT_PURPOSES,
) -> np.ndarray:
    total = np.zeros_like(needs["decline"])
    for need, values in needs.items():
        total += values * (MATCHED if purpose in purposes[need] else UNMATCHED)
    return total


def _expected_weeks(horizon: int, end_probability: float) -> float:
    """Expected weeks, within the horizon, that a condition lasting Geometric(p) is still on."""
    return float(sum((1 - end_probability) ** k for k in range(horizon)))


def _top_per_group(
    group: np.ndarray,
    priority: np.ndarray,
    capacity: np.ndarray,
    eligible: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean mask of the ``capacity[g]`` highest-priority eligible members of each group."""
    prio = np.where(eligible if eligible is not None else True, priority, -np.inf)
    order = np.lexsort((-prio, group))
    sorted_group = group[order]
    rank = np.arange(len(order)) - np.searchsorted(sorted_group, sorted_group)
    keep = (rank < capacity[sorted_group]) & np.isfinite(prio[order])
    mask = np.zeros(len(group), dtype=bool)
    mask[order[keep]] = True
    return mask


def _rows_in_week(plan: pd.DataFrame | None, column: str, lo: int, hi: int) -> pd.DataFrame | None:
    if plan is None:
        return None
    if column not in plan:
        return plan
    days = pd.to_datetime(plan[column]).to_numpy().astype("datetime64[D]").astype(np.int64)
    return plan[(days >= lo) & (days < hi)]


def _index_of(values: pd.Series, ids: np.ndarray, column: str, source: str) -> np.ndarray:
    lookup = pd.Index(ids)
    idx = lookup.get_indexer(values.astype(str))
    if (idx < 0).any():
        unknown = sorted(set(values.astype(str)[idx < 0]))[:5]
        raise UserInputError(f"{source}: unknown {column} {unknown}")
    return idx


def _course_index(course_id: str) -> int:
    if course_id not in COURSE:
        raise UserInputError(f"training plan: unknown course_id {course_id!r}")
    return COURSE[course_id]


def _create_managers(config: SimulationConfig, rng: np.random.Generator, start: int) -> Managers:
    n = config.n_managers
    tenure_years = rng.uniform(0.3, 12, n)
    ability = rng.standard_normal(n)
    skills = (
        48
        + 2.0 * np.minimum(tenure_years, 8)[:, None]
        + 7 * ability[:, None]
        + 9 * rng.standard_normal((n, len(SKILLS)))
    )
    grid = int(np.ceil(np.sqrt(n)))
    home_lat = 30.0 + 0.12 * (np.arange(n) // grid) + rng.normal(0, 0.01, n)
    home_lon = 120.0 + 0.12 * (np.arange(n) % grid) + rng.normal(0, 0.01, n)
    return Managers(
        team=(np.arange(n) // config.managers_per_team).astype(np.int32),
        hired_on=(start - tenure_years * 365.25).astype(np.int64),
        capacity=np.zeros(n, dtype=np.int32),
        home_lat=home_lat,
        home_lon=home_lon,
        skills=np.clip(skills, 10, 95),
        assessment_offset=rng.integers(0, config.assessment_every_weeks, n),
        completed=np.full((n, len(CATALOGUE)), -1, dtype=np.int64),
        latest_scores=np.full((n, len(SKILLS)), np.nan),
    )


def _create_retailers(
    config: SimulationConfig,
    rng: np.random.Generator,
    managers: Managers,
    count: int,
    today: int,
    initial: bool,
) -> Retailers:
    n_mgr = len(managers)
    manager = np.sort(np.arange(count) % n_mgr) if initial else rng.integers(0, n_mgr, count)
    fmt = rng.choice(len(FORMATS), size=count, p=FORMAT_SHARE)
    urban = rng.random(count) < 0.6
    grade = np.clip(np.round(rng.normal(14, 6, count) + 3 * urban), 1, 30).astype(np.int16)
    spread = np.where(urban, 0.025, 0.06)
    lat = managers.home_lat[manager] + rng.normal(0, 1, count) * spread
    lon = managers.home_lon[manager] + rng.normal(0, 1, count) * spread
    age_days = rng.uniform(60, 15 * 365, count) if initial else np.zeros(count)
    licensed_on = (today - age_days).astype(np.int64)
    expires = np.where(rng.random(count) < 0.01, today + rng.integers(30, 900, count), -1).astype(
        np.int64
    )
    base_value = (
        np.exp(rng.normal(np.log(900), 0.45, count))
        * (0.55 + grade / 20)
        * FORMAT_VALUE[fmt]
        * np.where(urban, 1.15, 0.85)
    )
    premium = np.clip(rng.beta(2, 5, count) + grade / 100, 0, 1)
    health0 = rng.normal(HEALTH_MEAN, HEALTH_SD, count) - (0 if initial else 0.4)
    breadth_target = np.clip(4 + grade / 3 + 3 * (fmt == 1) + rng.normal(0, 1.5, count), 3, 25)
    breadth = breadth_target * rng.uniform(0.5, 1.0, count)
    lo, hi = config.visit_cycle_weeks
    cycle = np.where(grade >= 20, lo, rng.integers(lo, hi + 1, count)).astype(np.int16)
    rhythm = np.zeros(count, dtype=np.int8)
    phase = np.zeros(count, dtype=np.int8)
    if config.ordering == "irregular":
        # Its own stream, so the rest of the territory is the one weekly ordering gives.
        own = np.random.default_rng([config.seed, 1009, today, count])
        rhythm = own.choice(len(RHYTHMS), size=count, p=RHYTHM_SHARE).astype(np.int8)
        phase = own.integers(0, 4, count).astype(np.int8)
    return Retailers(
        manager=manager.astype(np.int64),
        format=fmt.astype(np.int8),
        urban=urban,
        grade=grade,
        lat=lat,
        lon=lon,
        licensed_on=licensed_on,
        expires_on=expires,
        order_dow=rng.integers(0, 5, count).astype(np.int8),
        cycle=cycle,
        base_value=base_value,
        price=110 + 300 * premium,
        premium=premium,
        health0=health0,
        health=health0.copy(),
        decline=np.zeros(count),
        grievance=np.zeros(count),
        breadth=breadth,
        breadth_target=breadth_target,
        alive=np.ones(count, dtype=bool),
        exited_week=np.full(count, -1, dtype=np.int64),
        exit_reason=np.zeros(count, dtype=np.int8),
        last_visit_week=-rng.integers(0, hi + 1, count).astype(np.int64)
        if initial
        else np.full(count, -99, dtype=np.int64),
        last_complaint_week=np.full(count, -99, dtype=np.int64),
        seen_value=base_value.copy(),
        seen_baseline=base_value.copy(),
        rhythm=rhythm,
        rhythm_phase=phase,
    )

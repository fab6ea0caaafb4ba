"""The company's current practice and how visits and training act on the territory.

A mixin of ``simulator.territory.Territory``: who gets visited and trained when no plan is
given (rotation visits, courses by the latest weak assessment), what a plan's visits and
courses do, and the needs that decide a visit's true effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import SKILLS, VISIT_PURPOSES
from features.errors import UserInputError
from simulator.catalogue import CATALOGUE
from simulator.rules import (
    BREADTH_GAIN,
    COURSE,
    DECLINE_CUT,
    DECLINE_END,
    DECLINE_LIFT,
    GRIEVANCE_CUT,
    GRIEVANCE_DECAY,
    GRIEVANCE_HARM,
    GRIEVANCE_LIFT,
    GUIDANCE_LIFT,
    MATCHED,
    NEEDS,
    PURPOSE,
    RELATIONSHIP_LIFT,
    SKILL,
    UNMATCHED,
    course_index,
    delivered,
    expected_weeks,
    index_of,
    top_per_group,
)


class CompanyPractice:
    """Visits and training: the company's practice, or a given plan."""

    def _learn_and_train(self, plan: pd.DataFrame | None, u: np.ndarray) -> None:
        m = self.managers
        # Experience: a little better every week, less so near the top of the scale.
        m.skills += 0.02 * (100 - m.skills) / 50
        if plan is None:
            who, course = self._current_practice_training(u)
        else:
            who = index_of(plan["manager_id"], self.manager_ids(), "manager_id", "training plan")
            course = np.array([course_index(c) for c in plan["course_id"]], dtype=np.int64)
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
        weeks = expected_weeks(self.config.horizon_weeks, DECLINE_END)
        griev_weeks = expected_weeks(self.config.horizon_weeks, 1 - GRIEVANCE_DECAY)
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
        by_purpose = np.stack([delivered(needs, p, purposes) for p in VISIT_PURPOSES], axis=1)
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
        chosen = np.flatnonzero(top_per_group(r.manager, priority, m.capacity, eligible))
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
        retailer = index_of(plan["retailer_id"], self.retailer_ids(), "retailer_id", "visit plan")
        if "manager_id" in plan and plan["manager_id"].notna().all():
            manager = index_of(plan["manager_id"], self.manager_ids(), "manager_id", "visit plan")
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

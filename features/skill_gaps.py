"""Why a large skill gap got no training module: every large gap is either covered by the
plan or explained, so a coordinator never wonders why the biggest weakness was skipped.

The reasons, checked for each course in the catalogue that targets the skill:
no course targets it at all; the courses that do are not expected to raise it (their
estimated effect is zero or negative); they need prerequisites not yet completed; they were
completed and are not due for a refresher; they do not fit the budget.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from features.contract import SKILLS
from features.i18n import SKILL_NAMES
from features.skill_plans import SkillsState, available_courses

LARGE_GAP_SHARE = 0.25  # a gap whose priority is at least this share of the largest one


def _reason(code: str, zh: str, en: str, courses: list[str] | None = None) -> dict[str, Any]:
    return {"reason": code, "zh": zh, "en": en, "courses": courses or []}


def explain_gaps(
    state: SkillsState,
    manager_id: str,
    plan: list[dict[str, Any]],
    budget_hours: float | None = None,
    completed: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Each large gap of the manager with the module that addresses it or why none does.

    Args:
        plan: the modules ``recommend_training`` chose for the manager.
    """
    budget = state.budget_hours if budget_hours is None else float(budget_hours)
    rows = state.manager_estimates(manager_id)
    targets = state.targets[manager_id]
    levels = {k: float(rows[k]["estimate"]) for k in SKILLS}
    priority = {k: max(targets[k] - levels[k], 0.0) * state.importance[k] for k in SKILLS}
    largest = max(priority.values())
    if largest <= 0:
        return []
    done = dict(state.completed.get(manager_id, {}) if completed is None else completed)
    effects = {(e["course_id"], e["skill"]): e for e in state.effects}
    offered = available_courses(state.catalogue, done, pd.Timestamp(state.as_of))
    out = []
    for skill in sorted(SKILLS, key=lambda k: -priority[k]):
        if priority[skill] < LARGE_GAP_SHARE * largest:
            break
        covering = [m["course_id"] for m in plan if m["expected_gain"].get(skill, 0) > 0.05]
        entry = {
            "skill": skill,
            "skill_name": {"zh": SKILL_NAMES[skill][0], "en": SKILL_NAMES[skill][1]},
            "gap": round(targets[skill] - levels[skill], 1),
            "priority": round(priority[skill], 1),
            "modules": covering,
        }
        if covering:
            entry.update(
                _reason("covered", "计划中的课程针对此项。", "The plan's modules address it.")
            )
        else:
            entry.update(_why_not(skill, state, effects, offered, done, budget))
        out.append(entry)
    return out


def _why_not(
    skill: str,
    state: SkillsState,
    effects: dict[tuple[str, str], dict[str, Any]],
    offered: dict[str, float],
    done: dict[str, str],
    budget: float,
) -> dict[str, Any]:
    zh_skill, en_skill = SKILL_NAMES[skill]
    targeting = [c for c in state.catalogue if skill in c["skills"]]
    if not targeting:
        return _reason(
            "no_course",
            f"目录中没有针对{zh_skill}的课程。",
            f"No course in the catalogue targets {en_skill}.",
        )
    ids = [c["course_id"] for c in targeting]
    effective = [c for c in targeting if _effect(effects, c, skill) > 0]
    if not effective:
        shown = "；".join(
            f"{c['course_id']} {_effect(effects, c, skill):+.1f}分" for c in targeting
        )
        shown_en = "; ".join(
            f"{c['course_id']} {_effect(effects, c, skill):+.1f} points" for c in targeting
        )
        return _reason(
            "no_effect",
            f"针对{zh_skill}的课程预计都不能提升此项（估计效果：{shown}）。",
            f"No course targeting {en_skill} is expected to raise it (estimated effects: "
            f"{shown_en}).",
            ids,
        )
    waiting = [c for c in effective if c["course_id"] not in offered]
    blocked = [c for c in waiting if any(p not in done for p in c.get("prerequisites") or [])]
    fits = [c for c in effective if c["course_id"] in offered and c["hours"] <= budget + 1e-9]
    if fits:
        names = ", ".join(c["course_id"] for c in fits)
        return _reason(
            "budget",
            f"{names}可提升{zh_skill}，但本季度学时已用于价值更高的课程（预算{budget:g}学时）。",
            f"{names} would raise {en_skill}, but the quarter's {budget:g} hours went to "
            "modules worth more.",
            [c["course_id"] for c in fits],
        )
    if any(c["course_id"] in offered for c in effective):
        names = ", ".join(c["course_id"] for c in effective if c["course_id"] in offered)
        return _reason(
            "budget",
            f"{names}可提升{zh_skill}，但超出{budget:g}学时的预算。",
            f"{names} would raise {en_skill} but does not fit the {budget:g}-hour budget.",
            [c["course_id"] for c in effective if c["course_id"] in offered],
        )
    if blocked:
        needs = "；".join(
            f"{c['course_id']}需先完成{'、'.join(p for p in c['prerequisites'] if p not in done)}"
            for c in blocked
        )
        needs_en = "; ".join(
            f"{c['course_id']} needs {', '.join(p for p in c['prerequisites'] if p not in done)}"
            for c in blocked
        )
        weak = [c for c in targeting if c not in effective]
        also = "".join(
            f"{c['course_id']}对此项的估计效果为{_effect(effects, c, skill):+.1f}分，不推荐。"
            for c in weak
        )
        also_en = "".join(
            f" {c['course_id']} is estimated at {_effect(effects, c, skill):+.1f} points on "
            "it, so it is not recommended."
            for c in weak
        )
        return _reason(
            "prerequisites",
            f"能提升{zh_skill}的课程有先修要求：{needs}。{also}",
            f"The courses that would raise {en_skill} need prerequisites first: {needs_en}."
            f"{also_en}",
            [c["course_id"] for c in blocked],
        )
    return _reason(
        "completed",
        f"能提升{zh_skill}的课程已完成，尚未到复训时间。",
        f"The courses that would raise {en_skill} were completed and are not due again yet.",
        [c["course_id"] for c in waiting],
    )


def _effect(effects: dict[tuple[str, str], dict[str, Any]], course: dict, skill: str) -> float:
    found = effects.get((course["course_id"], skill))
    value = None if found is None else found.get("effect")
    return 0.0 if value is None or (isinstance(value, float) and math.isnan(value)) else value

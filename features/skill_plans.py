"""Training plans from fitted skill artefacts: ranked modules per manager and cohorts.

This is the part of the skills model that serving needs, so it lives beside the other
pure transforms (``training`` fits the artefacts; the registered pyfunc carries this module).
Everything here is a function of a ``SkillsState`` (estimates, targets, importances, course
effects, catalogue, completions) and needs no fitting.

The value of a course for a manager is the importance-weighted skill gain it is expected
to bring::

    value = sum over targeted skills k of importance[k] * effect[c, k] * gap_factor(level[k])
            * scale

where ``gap_factor = clip((100 - level) / 50, lo, hi)`` (a bigger gap gives a bigger gain),
``scale`` is the repeat factor for a refresher, and ``expected_gap_closed`` is the part of
those gains that falls within the gap to the manager's target. Only courses whose
prerequisites are completed (or planned earlier in the same plan) are offered; completed
courses come back only once their ``refresh_after_weeks`` has passed; the plan fills the
budget of hours greedily, re-valuing courses after each pick.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.contract import SKILLS
from features.errors import UserInputError
from features.i18n import SKILL_NAMES

FORMAT_ZH = {"classroom": "课堂", "online": "线上", "external": "外训", "on_the_job": "在岗"}


@dataclass
class SkillsState:
    """The fitted artefacts, JSON-serialisable (what the registered model carries)."""

    as_of: str
    estimates: list[dict[str, Any]]  # manager_id, skill, estimate, sd, source, evidence, ...
    targets: dict[str, dict[str, float]]  # manager -> skill -> target
    importance: dict[str, float]
    effects: list[dict[str, Any]]  # course_id, skill, effect, ci_low, ci_high, credited
    catalogue: list[dict[str, Any]]  # course_id, title, skills, hours, prerequisites, ...
    completed: dict[str, dict[str, str]]  # manager -> course -> last completion date
    assumptions: dict[str, float]
    budget_hours: float

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False, default=_json_default)

    @classmethod
    def from_json(cls, text: str) -> SkillsState:
        return cls(**json.loads(text))

    def managers(self) -> list[str]:
        return sorted({row["manager_id"] for row in self.estimates})

    def check_manager(self, manager_id: str) -> None:
        if manager_id not in self._by_manager():
            raise UserInputError(
                f"unknown manager {manager_id!r}: not in the skills model "
                f"(snapshot {self.as_of}, {len(self._by_manager())} managers)"
            )

    def _by_manager(self) -> dict[str, list[dict[str, Any]]]:
        if not hasattr(self, "_index"):
            index: dict[str, list[dict[str, Any]]] = {}
            for row in self.estimates:
                index.setdefault(row["manager_id"], []).append(row)
            self._index = index
        return self._index

    def manager_estimates(self, manager_id: str) -> dict[str, dict[str, Any]]:
        self.check_manager(manager_id)
        return {row["skill"]: row for row in self._by_manager()[manager_id]}


def _json_default(value: Any) -> Any:
    if isinstance(value, (pd.Timestamp,)):
        return str(value.date())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (tuple, set)):
        return list(value)
    if value is pd.NaT:
        return None
    raise TypeError(f"not JSON serialisable: {type(value)}")


def gap_factor(level: float, assumptions: dict[str, float]) -> float:
    lo, hi = assumptions["gap_factor_min"], assumptions["gap_factor_max"]
    return float(np.clip((100.0 - level) / 50.0, lo, hi))


def course_gains(
    course: dict[str, Any],
    levels: dict[str, float],
    effects: dict[tuple[str, str], float],
    assumptions: dict[str, float],
    scale: float = 1.0,
) -> dict[str, float]:
    """Expected points gained per targeted skill."""
    return {
        skill: max(effects.get((course["course_id"], skill), 0.0), 0.0)
        * gap_factor(levels[skill], assumptions)
        * scale
        for skill in course["skills"]
    }


def available_courses(
    catalogue: list[dict[str, Any]],
    completed: dict[str, str],
    as_of: pd.Timestamp,
    planned: tuple[str, ...] = (),
) -> dict[str, float]:
    """Courses a manager may take now, each with its scale (1, or the repeat factor later).

    A course is offered if its prerequisites are completed or planned, and it was never
    completed or its refresher is due (``refresh_after_weeks`` since the last completion).
    """
    out: dict[str, float] = {}
    for course in catalogue:
        cid = course["course_id"]
        if cid in planned:
            continue
        if any(p not in completed and p not in planned for p in course["prerequisites"]):
            continue
        if cid in completed:
            refresh = course.get("refresh_after_weeks")
            if refresh is None or (isinstance(refresh, float) and math.isnan(refresh)):
                continue
            weeks = (as_of - pd.Timestamp(completed[cid])).days / 7
            if weeks < refresh:
                continue
            out[cid] = -1.0  # refresher: marks the repeat factor
        else:
            out[cid] = 1.0
    return out


def rank_courses(
    levels: dict[str, float],
    targets: dict[str, float],
    importance: dict[str, float],
    catalogue: list[dict[str, Any]],
    effects: dict[tuple[str, str], float],
    completed: dict[str, str],
    as_of: pd.Timestamp,
    assumptions: dict[str, float],
    budget_hours: float,
    planned: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Every course the manager may take now within ``budget_hours``, best value first."""
    by_id = {c["course_id"]: c for c in catalogue}
    rows = []
    for cid, flag in available_courses(catalogue, completed, as_of, planned).items():
        course = by_id[cid]
        if course["hours"] > budget_hours + 1e-9:
            continue
        scale = assumptions["repeat_factor"] if flag < 0 else 1.0
        gains = course_gains(course, levels, effects, assumptions, scale)
        value = sum(importance[k] * g for k, g in gains.items())
        closed = sum(min(g, max(targets[k] - levels[k], 0.0)) for k, g in gains.items())
        rows.append(
            {
                "course_id": cid,
                "title": course["title"],
                "hours": float(course["hours"]),
                "refresher": flag < 0,
                "expected_gain": gains,
                "expected_gap_closed": closed,
                "value": value,
            }
        )
    rows.sort(key=lambda r: (-r["value"], r["hours"], r["course_id"]))
    return rows


def recommend_training(
    state: SkillsState,
    manager_id: str,
    budget_hours: float | None = None,
    completed: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Ranked modules for one manager filling the budget, each with a rationale (zh, en).

    Args:
        budget_hours: training hours per quarter (default: the model's).
        completed: the manager's completions (course -> date) if newer than the model's.

    Raises:
        UserInputError: unknown manager or a non-positive budget.
    """
    budget = state.budget_hours if budget_hours is None else float(budget_hours)
    if not budget > 0:
        raise UserInputError(f"budget must be positive hours, got {budget}")
    rows = state.manager_estimates(manager_id)
    levels = {k: float(rows[k]["estimate"]) for k in SKILLS}
    targets = state.targets[manager_id]
    done = dict(state.completed.get(manager_id, {}) if completed is None else completed)
    effects = {(e["course_id"], e["skill"]): float(e["effect"]) for e in state.effects}
    as_of = pd.Timestamp(state.as_of)
    priority = {k: max(targets[k] - levels[k], 0.0) * state.importance[k] for k in SKILLS}
    order = sorted(SKILLS, key=lambda k: -priority[k])
    plan: list[dict[str, Any]] = []
    remaining = budget
    while remaining > 0:
        ranked = rank_courses(
            levels,
            targets,
            state.importance,
            state.catalogue,
            effects,
            done,
            as_of,
            state.assumptions,
            remaining,
            tuple(p["course_id"] for p in plan),
        )
        ranked = [r for r in ranked if r["value"] > 0]
        if not ranked:
            break
        best = ranked[0]
        best["rank"] = len(plan) + 1
        best.update(_rationale(best, rows, targets, order, state))
        plan.append(best)
        remaining -= best["hours"]
        for skill, gain in best["expected_gain"].items():
            levels[skill] += gain
    return plan


def _rationale(
    choice: dict[str, Any],
    rows: dict[str, dict[str, Any]],
    targets: dict[str, float],
    order: list[str],
    state: SkillsState,
) -> dict[str, str]:
    parts_en, parts_zh = [], []
    gains = sorted(choice["expected_gain"].items(), key=lambda kv: -kv[1])
    # A skill the course is not expected to move is not a reason to take it ("ethics: +0.0").
    gains = [(k, g) for k, g in gains if round(g, 1) > 0] or gains[:1]
    for skill, gain in gains:
        row = rows[skill]
        rank = order.index(skill) + 1
        basis_en = (
            "KPI evidence only, no assessment"
            if row["source"] == "kpi_only"
            else (f"last assessed {row['latest_score']:.0f} on {row['latest_assessed_on']}")
        )
        basis_zh = (
            "仅依据业绩指标，无测评"
            if row["source"] == "kpi_only"
            else (f"最近测评 {row['latest_score']:.0f} 分（{row['latest_assessed_on']}）")
        )
        parts_en.append(
            f"{SKILL_NAMES[skill][1]} (estimate {row['estimate']:.0f} ± {row['sd']:.0f}, target "
            f"{targets[skill]:.0f}, priority #{rank}; {basis_en}): +{gain:.1f} points expected"
        )
        parts_zh.append(
            f"{SKILL_NAMES[skill][0]}（估计 {row['estimate']:.0f} ± {row['sd']:.0f}，目标 "
            f"{targets[skill]:.0f}，优先级第{rank}；{basis_zh}）：预计提升 {gain:.1f} 分"
        )
    refresher_en = " Refresher: it is due again." if choice["refresher"] else ""
    refresher_zh = "到期复训。" if choice["refresher"] else ""
    return {
        "rationale_en": (
            f"{choice['title']} ({choice['hours']:g} h) targets "
            + "; ".join(parts_en)
            + f". Closes {choice['expected_gap_closed']:.1f} points of gap.{refresher_en}"
        ),
        "rationale_zh": (
            f"《{choice['title']}》（{choice['hours']:g} 学时）针对"
            + "；".join(parts_zh)
            + f"。预计缩小差距 {choice['expected_gap_closed']:.1f} 分。{refresher_zh}"
        ),
    }


def recommend_cohorts(
    state: SkillsState,
    min_size: int = 4,
    max_size: int = 12,
    managers: list[str] | None = None,
    course_id: str | None = None,
) -> list[dict[str, Any]]:
    """Sessions of managers who share a priority gap, for training coordinators.

    With ``course_id``, only that course's sessions: who should attend it (every manager
    it helps close a gap), and who is left out and why.

    Each manager's top-priority skill (largest gap x importance, gap > 0) is matched with the
    available course that brings them the most value on that skill; managers choosing the
    same course form a group, which is split into sessions of ``min_size``-``max_size``.
    Members of a group too small for a session try their next course for the same skill.

    Returns:
        Sessions (largest expected benefit first) with ``course_id``, ``skill``,
        ``members`` and ``expected_benefit`` (sum of members' importance-weighted gains),
        then one entry ``course_id=None`` listing the managers left unplaced, if any.
    """
    if min_size < 1 or max_size < min_size:
        raise UserInputError(f"need 1 <= min size <= max size, got {min_size} and {max_size}")
    if course_id is not None and course_id not in {c["course_id"] for c in state.catalogue}:
        raise UserInputError(f"--course {course_id!r}: no such course in the catalogue")
    effects = {(e["course_id"], e["skill"]): float(e["effect"]) for e in state.effects}
    as_of = pd.Timestamp(state.as_of)
    options: dict[str, list[tuple[str, float, str]]] = {}
    why: dict[str, str] = {}
    for manager in managers or state.managers():
        rows = state.manager_estimates(manager)
        levels = {k: float(rows[k]["estimate"]) for k in SKILLS}
        targets = state.targets[manager]
        priority = {k: max(targets[k] - levels[k], 0) * state.importance[k] for k in SKILLS}
        skill = max(SKILLS, key=lambda k: priority[k])
        if priority[skill] <= 0:
            why[manager] = "no_gap"
            continue
        ranked = rank_courses(
            levels,
            targets,
            state.importance,
            state.catalogue,
            effects,
            state.completed.get(manager, {}),
            as_of,
            state.assumptions,
            math.inf,
        )
        if course_id is None:
            choices = [
                (r["course_id"], r["value"], skill)
                for r in ranked
                if r["expected_gain"].get(skill, 0) > 0
            ]
        else:  # who should attend this course: anyone it helps close a gap
            choices = [
                (r["course_id"], r["value"], max(r["expected_gain"], key=r["expected_gain"].get))
                for r in ranked
                if r["course_id"] == course_id and r["value"] > 0 and r["expected_gap_closed"] > 0
            ]
        choices.sort(key=lambda c: -c[1])
        if choices:
            options[manager] = choices
        else:
            why[manager] = "no_course" if course_id is None else "not_this_course"
    choice_index = {m: 0 for m in options}
    placed: dict[str, tuple[str, float, str]] = {}
    while True:
        groups: dict[str, list[str]] = {}
        for manager, i in choice_index.items():
            if manager in placed or i >= len(options[manager]):
                continue
            groups.setdefault(options[manager][i][0], []).append(manager)
        if not groups:
            break
        moved = False
        for members in groups.values():
            if len(members) >= min_size:
                for m in members:
                    placed[m] = options[m][choice_index[m]]
            else:
                for m in members:
                    choice_index[m] += 1
                moved = True
        if not moved:
            break
    sessions = []
    by_course: dict[str, list[str]] = {}
    for manager, (course, _, _) in placed.items():
        by_course.setdefault(course, []).append(manager)
    titles = {c["course_id"]: c["title"] for c in state.catalogue}
    for course, members in by_course.items():
        members.sort(key=lambda m: -placed[m][1])
        n_sessions = math.ceil(len(members) / max_size)
        if len(members) // n_sessions < min_size:
            # No split fits both sizes: full sessions, the rest wait for the next round.
            n_sessions = max(len(members) // min_size, 1)
            for m in members[n_sessions * max_size :]:
                del placed[m]
                why[m] = "session_full"
            members = members[: n_sessions * max_size]
        for k in range(n_sessions):
            group = members[k::n_sessions]
            skills = sorted({placed[m][2] for m in group})
            sessions.append(
                {
                    "course_id": course,
                    "title": titles[course],
                    "label": _session_label(course, titles[course], skills, len(group)),
                    "skills": skills,
                    "members": sorted(group),
                    "size": len(group),
                    "expected_benefit": float(sum(placed[m][1] for m in group)),
                }
            )
    sessions.sort(key=lambda s: -s["expected_benefit"])
    for i, session in enumerate(sessions, 1):
        session["session"] = i
    unplaced = sorted(set(managers or state.managers()) - set(placed))
    if unplaced:
        left_out = [
            {"manager_id": m, **_left_out_reason(why.get(m, "group_too_small"), min_size)}
            for m in unplaced
        ]
        sessions.append(
            {
                "session": None,
                "course_id": None,
                "title": None,
                "label": {"zh": "未安排", "en": "not placed"},
                "skills": [],
                "members": unplaced,
                "size": len(unplaced),
                "expected_benefit": 0.0,
                "left_out": left_out,
            }
        )
    return sessions


def _session_label(course: str, title: str, skills: list[str], size: int) -> dict[str, str]:
    zh_skills = "、".join(SKILL_NAMES[k][0] for k in skills)
    en_skills = ", ".join(SKILL_NAMES[k][1] for k in skills)
    return {
        "zh": f"{course}《{title}》：{zh_skills}（{size}人）",
        "en": f"{course} {title}: {en_skills} ({size} managers)",
    }


LEFT_OUT = {
    "no_gap": ("各项能力均已达到目标。", "Every skill is at its target."),
    "no_course": (
        "没有可选课程预计能提升其最大短板。",
        "No available course is expected to raise their largest gap.",
    ),
    "not_this_course": (
        "该课程预计不能缩小其能力差距（或尚不能选：先修课未完成、已完成未到复训）。",
        "The course is not expected to close any of their gaps (or they cannot take it yet: "
        "prerequisites, or completed and not due again).",
    ),
    "group_too_small": (
        "与其同一课程的人数不足{min_size}人，等待下一轮。",
        "Fewer than {min_size} managers share their course; they wait for the next round.",
    ),
    "session_full": (
        "该课程各班已满，等待下一轮。",
        "The course's sessions are full; they wait for the next round.",
    ),
}


def _left_out_reason(code: str, min_size: int) -> dict[str, str]:
    zh, en = LEFT_OUT[code]
    return {"reason": code, "zh": zh.format(min_size=min_size), "en": en.format(min_size=min_size)}

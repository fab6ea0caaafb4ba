"""The numbers and small rules of the simulator's causal story (``docs/simulator.md``).

Shared by the territory (the world), its population and the company's current practice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import SKILLS, VISIT_PURPOSES
from features.errors import UserInputError
from simulator.catalogue import CATALOGUE
from simulator.scenarios import (
    DEFAULT_PURPOSES,
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


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def delivered(
    needs: dict[str, np.ndarray],
    purpose: str,
    purposes: dict[str, tuple[str, ...]] = DEFAULT_PURPOSES,
) -> np.ndarray:
    total = np.zeros_like(needs["decline"])
    for need, values in needs.items():
        total += values * (MATCHED if purpose in purposes[need] else UNMATCHED)
    return total


def expected_weeks(horizon: int, end_probability: float) -> float:
    """Expected weeks, within the horizon, that a condition lasting Geometric(p) is still on."""
    return float(sum((1 - end_probability) ** k for k in range(horizon)))


def top_per_group(
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


def rows_in_week(plan: pd.DataFrame | None, column: str, lo: int, hi: int) -> pd.DataFrame | None:
    if plan is None:
        return None
    if column not in plan:
        return plan
    days = pd.to_datetime(plan[column]).to_numpy().astype("datetime64[D]").astype(np.int64)
    return plan[(days >= lo) & (days < hi)]


def index_of(values: pd.Series, ids: np.ndarray, column: str, source: str) -> np.ndarray:
    lookup = pd.Index(ids)
    idx = lookup.get_indexer(values.astype(str))
    if (idx < 0).any():
        unknown = sorted(set(values.astype(str)[idx < 0]))[:5]
        raise UserInputError(f"{source}: unknown {column} {unknown}")
    return idx


def course_index(course_id: str) -> int:
    if course_id not in COURSE:
        raise UserInputError(f"training plan: unknown course_id {course_id!r}")
    return COURSE[course_id]

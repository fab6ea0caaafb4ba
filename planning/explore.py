"""Exploration and a holdout in a week's plan, with the probability of every choice logged.

Plans that follow the model (or the rotation) closely make the visit effect hard to learn
and impossible to measure: for most retailer-weeks the chance of a visit is near 0 or 1.
Two small, seeded randomisations fix that without trusting any model:

- **Exploration**: a share of the week's capacity (``explore_share``, default 5%) goes to
  candidates drawn uniformly among the near-best, those ranked just below the ones the
  plan keeps. Each of the ``N`` near-best candidates is drawn with probability ``k / N``.
  The visits drawn replace the plan's ``k`` lowest-ranked ones, so the expected benefit
  given up is at most the benefit of those ``k`` visits, below ``explore_share`` of the
  plan's total.
- **Holdout** (``holdout_share``, default off): each retailer the plan would recommend is
  held back for the week with that probability, and recorded as held out. Comparing held
  out with recommended retailers measures the lift of a recommendation directly.

Draws are seeded by (manager, week), so the CLI, ``plan batch`` and the API make the same
plan. The plan carries ``exploration.candidates``: for every candidate considered, the
probability it was recommended (``propensity``; exactly ``k / N`` for the near-best, 1 - h
for a retailer that could have been held out, 0 or 1 where nothing was random), whether it
was drawn (``explored``) or held out (``held_out``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.errors import UserInputError
from features.i18n import Note

DEFAULT_EXPLORE_SHARE = 0.05


@dataclass(frozen=True)
class Exploration:
    """How much of a week is randomised, and how."""

    explore_share: float = DEFAULT_EXPLORE_SHARE
    holdout_share: float = 0.0

    def __post_init__(self) -> None:
        for name in ("explore_share", "holdout_share"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                flag = name.replace("_", "-")
                raise UserInputError(f"--{flag} must be at least 0 and below 1, got {value}")

    @property
    def off(self) -> bool:
        return self.explore_share == 0 and self.holdout_share == 0


def plan_seed(manager_id: str, week: str) -> int:
    """A seed from (manager, week) alone: every caller planning that week draws the same."""
    digest = hashlib.sha256(f"fieldcoach-explore|{manager_id}|{week}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass
class Draw:
    """The candidates as the optimiser should see them, and the log of the draw."""

    candidates: pd.DataFrame
    log: pd.DataFrame
    explored: int
    held_out: int
    pool: int


def draw_week(
    candidates: pd.DataFrame, capacity: int, days: int, exploration: Exploration, seed: int
) -> Draw:
    """Apply exploration and the holdout to a week's candidates before the optimiser runs.

    ``candidates`` has ``retailer_id``, ``expected_benefit``, ``earliest_day`` (a day of the
    week, ``days`` or more means not this week) and ``mandatory``. Retailers drawn for
    exploration become mandatory stops; near-best retailers not drawn, and retailers held
    out, are left out of the week (``earliest_day = days``).
    """
    frame = candidates.reset_index(drop=True)
    benefit = frame["expected_benefit"].to_numpy(float)
    open_ = (frame["earliest_day"].to_numpy() < days) & ~frame["mandatory"].to_numpy(bool)
    # Only retailers with an expected benefit are ranked; the rest fill an empty week.
    ranked = np.flatnonzero(open_ & (benefit > 0))
    order = ranked[np.lexsort((frame["retailer_id"].to_numpy()[ranked], -benefit[ranked]))]
    rng = np.random.default_rng(seed)
    mandatory = int(frame["mandatory"].sum())
    room = max(capacity - mandatory, 0)
    # Rounded down (1e-9 for floating point), so the draws never take more than the share.
    k = int(np.floor(exploration.explore_share * room + 1e-9)) if room else 0
    keep = order[: room - k]
    # The near-best: as many as the week has room for, ranked just below the visits kept,
    # so each is drawn with probability k / room, about the exploration share.
    pool = order[room - k : 2 * room - k]
    k = min(k, len(pool))
    drawn = rng.choice(pool, size=k, replace=False) if k else np.array([], dtype=int)

    propensity = np.zeros(len(frame))
    propensity[frame["mandatory"].to_numpy(bool)] = 1.0
    propensity[keep] = 1.0
    if len(pool):
        propensity[pool] = k / len(pool)
    held = np.zeros(len(frame), dtype=bool)
    if exploration.holdout_share > 0 and len(keep):
        held[keep] = rng.random(len(keep)) < exploration.holdout_share
        propensity[keep] = 1.0 - exploration.holdout_share
    explored = np.zeros(len(frame), dtype=bool)
    explored[drawn] = True

    earliest = frame["earliest_day"].to_numpy().copy()
    left_out = np.zeros(len(frame), dtype=bool)
    left_out[pool] = True
    left_out[drawn] = False
    earliest[left_out | held] = days
    out = frame.assign(
        earliest_day=earliest,
        mandatory=frame["mandatory"].to_numpy(bool) | explored,
    )
    considered = np.zeros(len(frame), dtype=bool)
    considered[order] = True
    considered |= frame["mandatory"].to_numpy(bool)
    log = pd.DataFrame(
        {
            "retailer_id": frame["retailer_id"].to_numpy(),
            "expected_benefit": benefit,
            "propensity": propensity,
            "near_best": np.isin(np.arange(len(frame)), pool),
            "explored": explored,
            "held_out": held,
            "purpose": frame["purpose"].to_numpy() if "purpose" in frame else None,
        }
    )[considered].reset_index(drop=True)
    return Draw(out, log, int(explored.sum()), int(held.sum()), len(pool))


def exploration_record(draw: Draw, exploration: Exploration, seed: int, plan_ids) -> dict:
    """What the plan stores: the settings, the seed and every candidate's probability.

    ``plan_ids`` are the retailers the optimiser placed; a retailer kept (probability 1)
    that the routes could not hold is logged with ``recommended: false``.
    """
    placed = set(plan_ids)
    rows: list[dict[str, Any]] = [
        {
            "retailer_id": r.retailer_id,
            "propensity": round(float(r.propensity), 6),
            "explored": bool(r.explored),
            "held_out": bool(r.held_out),
            "near_best": bool(r.near_best),
            "recommended": r.retailer_id in placed,
            "purpose": r.purpose if isinstance(r.purpose, str) else None,
        }
        for r in draw.log.itertuples(index=False)
    ]
    cost = exploration_cost(draw)
    return {
        "explore_share": exploration.explore_share,
        "holdout_share": exploration.holdout_share,
        "seed": str(seed),
        "explored": draw.explored,
        "held_out": draw.held_out,
        "near_best_pool": draw.pool,
        "benefit_given_up_at_most": round(cost, 2),
        "candidates": rows,
    }


def exploration_cost(draw: Draw) -> float:
    """Benefit of the kept visits the explored ones displaced, less what those carry."""
    log = draw.log
    if not draw.explored:
        return 0.0
    near = log.loc[log["near_best"], "expected_benefit"].to_numpy(float)
    explored = log.loc[log["explored"], "expected_benefit"].to_numpy(float)
    # The k best near-best retailers are what a plan without exploration would have taken.
    best = np.sort(near)[::-1][: draw.explored]
    return float(max(best.sum() - explored.sum(), 0.0))


def exploration_notes(record: dict) -> list[Note]:
    """What the plan's reader is told about the draw."""
    notes = []
    if record["explored"]:
        notes.append(
            Note.of(
                "exploration",
                count=record["explored"],
                pool=record["near_best_pool"],
                share=f"{record['explore_share']:.0%}",
            )
        )
    if record["held_out"]:
        notes.append(
            Note.of("holdout", count=record["held_out"], share=f"{record['holdout_share']:.0%}")
        )
    return notes


def annotate_plan(plan: dict, record: dict | None) -> dict:
    """Each visit's probability and whether it was explored; the draw's record on the plan."""
    if record is None:
        return plan
    by_id = {row["retailer_id"]: row for row in record["candidates"]}
    for visit in plan["visits"]:
        row = by_id.get(visit["retailer_id"])
        visit["propensity"] = None if row is None else row["propensity"]
        visit["explored"] = bool(row and row["explored"])
    plan["exploration"] = record
    return plan

"""Exploration and a holdout in a week's plan, with the probability of every choice logged.

Plans that follow the model (or the rotation) closely make the visit effect hard to learn
and impossible to measure: for most retailer-weeks the chance of a visit is near 0 or 1.
Two small, seeded randomisations fix that without trusting any model:

- **Exploration**: the plan is made as usual, then ``k`` (``explore_share`` of its visits,
  default 5%, rounded down) of its slots go to a draw among the near-best: its ``k``
  lowest-benefit visits and as many of the best retailers it left out. Each of those ``N``
  is drawn with probability ``k / N``; the week is then routed again with the visits so
  chosen. Only the plan's ``k`` weakest visits are at stake, so the expected benefit given
  up (recorded as ``benefit_given_up``) stays below ``explore_share`` of the plan's.
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
    candidates: pd.DataFrame,
    capacity: int,
    days: int,
    exploration: Exploration,
    seed: int,
    planned: pd.Series | None = None,
) -> Draw:
    """Draw the week's exploration and holdout from the plan the optimiser would make.

    ``candidates`` has ``retailer_id``, ``expected_benefit``, ``earliest_day`` (a day of the
    week, ``days`` or more means not this week) and ``mandatory``; ``planned`` are the
    retailers of the plan made without exploration (default: the best by benefit, as many
    as the week has room for). The k = share x visits lowest-benefit visits of that plan
    and the same number of best retailers it left out form the near-best; k of them are
    drawn. The returned candidates hold exactly the week's visits as mandatory stops
    (everyone else left out), for the optimiser to route.
    """
    frame = candidates.reset_index(drop=True)
    ids = frame["retailer_id"].to_numpy()
    benefit = frame["expected_benefit"].to_numpy(float)
    forced = frame["mandatory"].to_numpy(bool)
    open_ = (frame["earliest_day"].to_numpy() < days) & ~forced
    # Only retailers with an expected benefit are ranked; the rest fill an empty week.
    ranked = np.flatnonzero(open_ & (benefit > 0))
    order = ranked[np.lexsort((ids[ranked], -benefit[ranked]))]
    room = max(capacity - int(forced.sum()), 0)
    if planned is None:
        in_plan = np.isin(np.arange(len(frame)), order[:room])
    else:
        in_plan = np.isin(ids, np.asarray(planned)) & open_
    plan_rows = order[in_plan[order]]
    plan_rows = np.concatenate([plan_rows, np.flatnonzero(in_plan & (benefit <= 0))])
    # Rounded down (1e-9 for floating point), so the draws never take more than the share.
    k = int(np.floor(exploration.explore_share * len(plan_rows) + 1e-9))
    keep, lowest = plan_rows[: len(plan_rows) - k], plan_rows[len(plan_rows) - k :]
    outside = order[~in_plan[order]][: len(plan_rows)]
    pool = np.concatenate([lowest, outside]).astype(int)
    k = min(k, len(pool))
    rng = np.random.default_rng(seed)
    drawn = rng.choice(pool, size=k, replace=False) if k else np.array([], dtype=int)

    propensity = np.zeros(len(frame))
    propensity[forced] = 1.0
    propensity[keep] = 1.0
    if len(pool):
        propensity[pool] = k / len(pool)
    held = np.zeros(len(frame), dtype=bool)
    if exploration.holdout_share > 0 and len(keep):
        held[keep] = rng.random(len(keep)) < exploration.holdout_share
        propensity[keep] = 1.0 - exploration.holdout_share
    explored = np.zeros(len(frame), dtype=bool)
    explored[drawn] = True
    chosen = forced | explored
    chosen[keep] = True
    chosen &= ~held
    earliest = np.where(chosen, frame["earliest_day"].to_numpy(), days)
    out = frame.assign(earliest_day=earliest, mandatory=chosen)
    near = np.zeros(len(frame), dtype=bool)
    near[pool] = True
    considered = forced | in_plan | near
    considered[order] = True
    log = pd.DataFrame(
        {
            "retailer_id": ids,
            "expected_benefit": benefit,
            "propensity": propensity,
            "near_best": near,
            "explored": explored,
            "held_out": held,
            "purpose": frame["purpose"].to_numpy() if "purpose" in frame else None,
        }
    )[considered].reset_index(drop=True)
    return Draw(out, log, int(explored.sum()), int(held.sum()), len(pool))


def exploration_record(
    draw: Draw, exploration: Exploration, seed: int, plan_ids, given_up: float
) -> dict:
    """What the plan stores: the settings, the seed and every candidate's probability.

    ``given_up`` is the expected benefit of the plan without the draws less that of the
    plan with them.

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
    return {
        "explore_share": exploration.explore_share,
        "holdout_share": exploration.holdout_share,
        "seed": str(seed),
        "explored": draw.explored,
        "held_out": draw.held_out,
        "near_best_pool": draw.pool,
        "benefit_given_up": round(float(given_up), 2),
        "candidates": rows,
    }


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

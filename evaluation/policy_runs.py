"""Proof against the truth: how much each visit policy really keeps, in the simulator.

From the territory saved at the end of a simulated data folder, every policy runs the same
W weeks with the same capacity and, per seed, the same luck (clones share their random
stream), so differences are the policies' doing:

- ``rotation``: the company's current practice (the simulator's own policy);
- ``random``: any retailers at risk, up to capacity;
- ``risk``: highest churn probability first;
- ``value``: highest usual order value first;
- ``planner``: fieldcoach's plan (expected saved value, purposes, routes);
- ``oracle``: the true visit effect of every retailer this week (health gained, weighted
  by its true usual value), with its best purpose.

The models the planner needs are trained on the data before the snapshot; the policies
other than ``oracle`` see only what a company would: the tables so far.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.policy_setup import (
    Estimators,
    Observed,
    PolicyConfig,
    at_risk,
    capacities,
)
from features.contract import VISIT_PURPOSES
from planning.explore import Exploration, draw_week, plan_seed
from planning.optimise import RANKED_POOL_FACTOR, PlanRules, plan_week
from planning.pace import observed_pace, paced
from planning.week import week_of
from simulator.territory import Territory

POLICIES = ("rotation", "random", "risk", "value", "planner", "oracle")


def _spread_days(index: np.ndarray, manager: np.ndarray, monday: int, days: int) -> np.ndarray:
    """Dates for visits listed per manager: the first share on Monday, and so on."""
    order = np.argsort(manager, kind="stable")
    rank = np.empty(len(manager), dtype=np.int64)
    sorted_manager = manager[order]
    rank[order] = np.arange(len(manager)) - np.searchsorted(sorted_manager, sorted_manager)
    counts = pd.Series(manager).map(pd.Series(manager).value_counts()).to_numpy()
    day = np.minimum(rank * days // np.maximum(counts, 1), days - 1)
    return monday + day


def _top_per_manager(frame: pd.DataFrame, score: np.ndarray, capacity: dict[str, int]):
    ranked = frame.assign(_score=score).sort_values("_score", ascending=False, kind="stable")
    keep = (
        ranked.groupby("manager_id", sort=False).cumcount()
        < ranked["manager_id"].map(capacity).fillna(0).to_numpy()
    )
    return ranked[keep]


def _visit_plan(rows: pd.DataFrame, monday: int, days: int) -> pd.DataFrame:
    manager = rows["manager_id"].astype(str).to_numpy()
    dates = _spread_days(np.arange(len(rows)), manager, monday, days)
    return pd.DataFrame(
        {
            "retailer_id": rows["retailer_id"].to_numpy(),
            "manager_id": manager,
            "visit_date": pd.to_datetime(dates, unit="D"),
            "purpose": rows["purpose"].to_numpy(),
        }
    )


def policy_plan(
    policy: str,
    territory: Territory,
    observed: Observed,
    estimators: Estimators,
    config: PolicyConfig,
    rng: np.random.Generator,
) -> pd.DataFrame | None:
    if policy == "rotation":
        return None
    monday = territory.current_day
    capacity = capacities(territory)
    if policy == "oracle":
        effect, best = territory.true_visit_effect()
        r = territory.retailers
        alive = np.flatnonzero(r.alive)
        frame = pd.DataFrame(
            {
                "retailer_id": territory.retailer_ids(alive),
                "manager_id": territory.manager_ids()[r.manager[alive]],
                "purpose": np.asarray(VISIT_PURPOSES)[best[alive]],
            }
        )
        # Weighted by the true usual value: the outcome is value kept, not health gained.
        value_gain = effect[alive] * r.base_value[alive]
        return _visit_plan(_top_per_manager(frame, value_gain, capacity), monday, config.days)
    tables = observed.tables(territory)
    frame = at_risk(tables, monday, config.horizon_weeks)
    churn_p = estimators.churn_probability(frame)
    if policy == "random":
        score = rng.random(len(frame))
    elif policy == "risk":
        score = churn_p
    elif policy == "value":
        score = frame["baseline_weekly_value"].to_numpy(float)
    else:
        week = planner_week(
            frame, churn_p, tables, territory, estimators, config, pace_from_visits=True
        )
        visits = [v.drop(columns="expected_benefit") for v in week.visits if len(v)]
        if not visits:
            return pd.DataFrame(columns=["retailer_id", "manager_id", "visit_date", "purpose"])
        return pd.concat(visits, ignore_index=True)
    return _visit_plan(_top_per_manager(frame, score, capacity), monday, config.days)


@dataclass
class PlannerWeek:
    """The planner's week: per manager the visits (retailer, manager, date, purpose and
    expected benefit), the exploration draws' logs, and the expected benefit they gave up."""

    visits: list[pd.DataFrame]
    draws: list[pd.DataFrame]
    given_up: float


def planner_week(
    frame: pd.DataFrame,
    churn_p: np.ndarray,
    tables: dict[str, pd.DataFrame],
    territory: Territory,
    estimators: Estimators,
    config: PolicyConfig,
    exploration: Exploration | None = None,
    pace_from_visits: bool = False,
) -> PlannerWeek:
    """fieldcoach's plan for every manager's week from the retailers at risk (``at_risk``),
    with the exploration draw when one is given (``evaluation.loop``).

    Args:
        pace_from_visits: take the minutes a visit from the recorded days, as fieldcoach's
            plans do (else the planner's assumed pace).
    """
    monday = territory.current_day
    frame = frame.assign(expected_benefit=estimators.expected_benefit(frame, churn_p))
    frame = frame.join(
        tables["retailers"].set_index("retailer_id")[["lat", "lon"]], on="retailer_id"
    )
    first = config.min_gap_days - frame["days_since_last_visit"].to_numpy()
    frame["earliest_day"] = np.where(np.isnan(first), 0, np.maximum(first, 0)).astype(int)
    frame["mandatory"] = False
    capacity = capacities(territory)
    homes = dict(
        zip(
            territory.manager_ids(),
            zip(territory.managers.home_lat, territory.managers.home_lon, strict=True),
            strict=True,
        )
    )
    week, day = week_of(monday), pd.Timestamp(monday, unit="D")
    planned = PlannerWeek([], [], 0.0)
    for manager_id, candidates in frame.groupby("manager_id", sort=True):
        rules = PlanRules(
            capacity=max(1, capacity.get(manager_id, 1)),
            days=config.days,
            min_gap_days=config.min_gap_days,
            time_limit_s=config.time_limit_s,
            solution_limit=config.solution_limit,
            guided_search=True,  # as measured: 200 guided solutions keep 98.6%
            pool_factor=RANKED_POOL_FACTOR if estimators.ranked else PlanRules.pool_factor,
        )
        if pace_from_visits:
            home = homes[manager_id]
            pace = observed_pace(
                tables.get("visits"), tables["retailers"], manager_id, home, day, rules
            )
            rules = paced(rules, pace)
        candidates = candidates.reset_index(drop=True)
        visits = plan_week(candidates, homes[manager_id], rules).visits
        if exploration is not None and not exploration.off:
            plain = float(visits["expected_benefit"].sum())
            draw = draw_week(
                candidates,
                rules.capacity,
                rules.days,
                exploration,
                plan_seed(manager_id, week),
                visits["retailer_id"],
            )
            planned.draws.append(draw.log.assign(manager_id=manager_id))
            visits = plan_week(draw.candidates, homes[manager_id], rules).visits
            planned.given_up += plain - float(visits["expected_benefit"].sum())
        planned.visits.append(
            pd.DataFrame(
                {
                    "retailer_id": visits["retailer_id"].to_numpy(),
                    "manager_id": manager_id,
                    "visit_date": pd.to_datetime(monday + visits["day"].to_numpy(), unit="D"),
                    "purpose": visits["purpose"].to_numpy(),
                    "expected_benefit": visits["expected_benefit"].to_numpy(float),
                }
            )
        )
    return planned


def run_policy(
    policy: str,
    start: Territory,
    observed: Observed,
    estimators: Estimators,
    config: PolicyConfig,
    seed: int,
) -> dict[str, float]:
    """Run one policy for ``config.weeks`` from a copy of ``start`` with seed-fixed luck."""
    territory = start.clone()
    territory.rng = np.random.default_rng([config.seed, 104729, seed])
    policy_rng = np.random.default_rng([config.seed, 7, seed])
    alive_at_start = territory.retailers.alive.copy()
    for _ in range(config.weeks):
        plan = policy_plan(policy, territory, observed, estimators, config, policy_rng)
        territory.step(visit_plan=plan, plan_given=(plan is not None, False))
    orders = territory.records.get("orders", [])
    value = float(sum(chunk["amount"].sum() for chunk in orders))
    kept = territory.retailers.alive[: len(alive_at_start)] & alive_at_start
    return {"retained_value": value, "retained_retailers": float(kept.sum())}

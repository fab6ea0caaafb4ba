"""Proof of the loop in simulation: plans made weekly, feedback back, models retrained.

From the territory saved at the end of a simulated folder, per seed (shared luck, as in
``evaluation.policy_runs``), these policies run ``weeks`` weeks:

- ``rotation``: the company's current practice (the baseline of "saved value");
- ``frozen``: the planner with the models fitted before the start, never retrained;
- ``frozen_explore``: the same with exploration, to price it (expected benefit given up);
- ``learning``: the planner with exploration, every plan's probabilities logged, the churn
  and visit-effect models retrained every ``retrain_every`` weeks on the data so far with
  the logged probabilities (``train visits`` does the same). Its holdout share is 0 by
  default: a held-out retailer is a visit the planner wanted and did not make, which is
  the price of measuring (the review's job, ``review_holdout_share``), not of learning;
  every retrain's self-check (which ranking, kept or changed) is in the report;
- ``oracle``: the true visit effect (the ceiling of what any features could reach).

Saved value (order value beyond rotation) is reported per block of ``block_weeks`` with a
95% interval over seeds, and each planner's share of the oracle's.

``review_check`` tests ``evaluation.uplift`` against the truth: one planned week with
exploration (and optionally the holdout), then the simulator is run on three times from
the same state with the same luck: as planned, with every randomised retailer
recommended, and with none. The true average effect of a recommendation on the next
weeks' orders is the mean difference of the last two over the randomised retailers; the
review, fed only the plan log and the orders as planned, must cover it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation.policy_report import interval
from evaluation.policy_runs import planner_week, policy_plan
from evaluation.policy_setup import (
    Estimators,
    Observed,
    PolicyConfig,
    at_risk,
    fit_estimators,
    load_start,
)
from evaluation.uplift import ReviewConfig, review
from features.calendar import to_days
from features.rankings import EFFECT_RANKING
from planning.explore import Exploration
from simulator.territory import Territory

LOOP_POLICIES = ("rotation", "frozen", "frozen_explore", "learning", "oracle")


@dataclass(frozen=True)
class LoopConfig(PolicyConfig):
    """A policy run (``PolicyConfig``) that lasts half a year, retrains and explores."""

    weeks: int = 26
    seeds: int = 3
    # The models' horizon: shorter than the product's 8 weeks so that weeks planned in the
    # loop have complete outcome windows (and reach training) within a half-year run.
    horizon_weeks: int = 4
    retrain_every: int = 4
    block_weeks: int = 4
    explore_share: float = 0.05
    holdout_share: float = 0.0  # the learning planner's (see the module doc)
    review_holdout_share: float = 0.1  # the review check's "with holdout" runs
    review_weeks: int = 4


def planned_week(
    territory: Territory,
    tables: dict[str, pd.DataFrame],
    estimators: Estimators,
    config: LoopConfig,
    exploration: Exploration | None,
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Every manager's week (visit plan for the simulator) and the log of the draws."""
    monday = territory.current_day
    frame = at_risk(tables, monday, config.horizon_weeks)
    churn_p = estimators.churn_probability(frame)
    # At the planner's assumed pace, as the loop has planned so far (the policy comparison
    # takes the recorded days' pace).
    week = planner_week(frame, churn_p, tables, territory, estimators, config, exploration)
    plan = pd.concat(week.visits, ignore_index=True) if week.visits else None
    log = _log_table(week.draws, plan, monday)
    if plan is not None:
        plan.attrs["given_up"] = week.given_up
    return plan, log


def _log_table(logs: list[pd.DataFrame], plan: pd.DataFrame | None, monday: int) -> pd.DataFrame:
    """The draws as the ``recommendations`` table ``feedback export`` would write."""
    if not logs:
        return pd.DataFrame()
    log = pd.concat(logs, ignore_index=True)
    placed = set(plan["retailer_id"]) if plan is not None else set()
    return pd.DataFrame(
        {
            "retailer_id": log["retailer_id"],
            "manager_id": log["manager_id"],
            "week_start": pd.Timestamp(monday, unit="D"),
            "propensity": log["propensity"],
            "recommended": log["retailer_id"].isin(placed).astype(int),
            "explored": log["explored"].astype(int),
            "held_out": log["held_out"].astype(int),
            "near_best": log["near_best"].astype(int),
            "expected_benefit": log["expected_benefit"],
            "purpose": log["purpose"],
        }
    )


def _week_value(territory: Territory, before: int) -> float:
    chunks = territory.records.get("orders", [])[before:]
    return float(sum(chunk["amount"].sum() for chunk in chunks))


def run_loop_policy(
    policy: str,
    start: Territory,
    base: dict[str, pd.DataFrame],
    estimators: Estimators,
    config: LoopConfig,
    seed: int,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """One policy, one seed: order value per week, and for ``learning`` its plan log."""
    territory = start.clone()
    territory.rng = np.random.default_rng([config.seed, 104729, seed])
    observed = Observed(base)
    exploration = None
    if policy == "frozen_explore":
        exploration = Exploration(config.explore_share, 0.0)
    elif policy == "learning":
        exploration = Exploration(config.explore_share, config.holdout_share)
    logged: list[pd.DataFrame] = []
    weekly, benefit, given_up, retrains = [], [], [], []
    for week in range(config.weeks):
        if policy == "learning" and week and week % config.retrain_every == 0:
            tables = observed.tables(territory)
            tables["recommendations"] = pd.concat(logged, ignore_index=True)
            t0 = time.perf_counter()
            in_use = estimators.ranking.name if estimators.ranking is not None else None
            estimators = fit_estimators(tables, config, in_use)
            retrains.append(_retrain_record(week, estimators, territory.current_day))
            log(
                f"    seed {seed} week {week}: retrained in {time.perf_counter() - t0:.0f} s, "
                f"ranking {retrains[-1]['chosen']}"
            )
        before = len(territory.records.get("orders", []))
        if policy in ("rotation", "oracle"):
            plan = policy_plan(policy, territory, observed, estimators, config, None)
        else:
            plan, draws = planned_week(
                territory, observed.tables(territory), estimators, config, exploration
            )
            if len(draws):
                logged.append(draws)
            if plan is not None:
                benefit.append(float(plan["expected_benefit"].sum()))
                given_up.append(float(plan.attrs.get("given_up", 0.0)))
                plan = plan.drop(columns="expected_benefit")
        territory.step(visit_plan=plan, plan_given=(plan is not None, False))
        weekly.append(_week_value(territory, before))
    return {
        "weekly_value": weekly,
        "expected_benefit": benefit,
        "given_up": given_up,
        "retrains": retrains,
    }


def _retrain_record(week: int, estimators: Estimators, today: int) -> dict[str, Any]:
    """What one retrain's self-check decided, and how fresh the data it learnt from was."""
    effect = estimators.effect
    if effect is None:
        return {"week": week, "chosen": None, "effect_model_chosen": False}
    check, report = effect.ranking_check_, effect.report_
    newest = pd.Timestamp(report["training_weeks"][-1])
    return {
        "week": week,
        "chosen": check["chosen"],
        "effect_model_chosen": check["chosen"] == EFFECT_RANKING,
        "reason": check["reason"],
        "best_simple": check["best_simple"],
        "incumbent": check.get("incumbent"),
        "kept_incumbent": check.get("kept_incumbent"),
        "challenger": check.get("challenger"),
        "newest_training_week": str(newest.date()),
        "holdout_weeks": report["holdout_weeks"],
        "training_lag_weeks": int((today - to_days(newest)) // 7),
        "logged_propensity_rows": report.get("logged_propensities"),
    }


def evaluate_loop(
    data_dir: Path,
    config: LoopConfig,
    log: Callable[[str], None] = print,
    estimators: Estimators | None = None,
) -> dict[str, Any]:
    """Every loop policy on every seed; saved value per block with 95% intervals.

    ``estimators``: the starting models when already fitted on this folder with ``config``
    (``fit_estimators``); every policy starts from them and none changes them.
    """
    start, base = load_start(data_dir, "the loop")
    if estimators is None:
        t0 = time.perf_counter()
        estimators = fit_estimators(base, config)
        log(f"fitted the starting models in {time.perf_counter() - t0:.0f} s")
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in LOOP_POLICIES}
    for seed in range(config.seeds):
        for policy in LOOP_POLICIES:
            t1 = time.perf_counter()
            runs[policy].append(
                run_loop_policy(policy, start, base, estimators, config, seed, log)
            )
            total = sum(runs[policy][-1]["weekly_value"])
            log(f"seed {seed} {policy:<15} {total:>14,.0f}  ({time.perf_counter() - t1:.0f} s)")
    return loop_report(runs, config, start)


def loop_report(runs: dict[str, list[dict]], config: LoopConfig, start: Territory) -> dict:
    """Saved value per block, share of the oracle's, the last 8 weeks and exploration's cost."""
    rotation = np.array([r["weekly_value"] for r in runs["rotation"]])
    blocks = [
        (b, min(b + config.block_weeks, config.weeks))
        for b in range(0, config.weeks, config.block_weeks)
    ]
    report: dict[str, Any] = {
        "snapshot": str(start.current_date.date()),
        "config": {k: getattr(config, k) for k in config.__dataclass_fields__},
        "blocks": [f"weeks {a + 1}-{b}" for a, b in blocks],
        "policies": {},
    }
    oracle_saved = np.array([r["weekly_value"] for r in runs["oracle"]]) - rotation
    for policy, policy_runs in runs.items():
        saved = np.array([r["weekly_value"] for r in policy_runs]) - rotation
        per_block = [interval(list(saved[:, a:b].sum(axis=1))) for a, b in blocks]
        share = []
        for a, b in blocks:
            ceiling = oracle_saved[:, a:b].sum(axis=1)
            mine = saved[:, a:b].sum(axis=1)
            share.append(float(mine.sum() / ceiling.sum()) if ceiling.sum() > 0 else None)
        last = min(8, config.weeks)
        report["policies"][policy] = {
            "saved_per_block": per_block,
            "share_of_oracle_per_block": share,
            "saved_last_8_weeks": interval(list(saved[:, -last:].sum(axis=1))),
        }
    frozen = np.array([r["weekly_value"] for r in runs["frozen"]])
    for policy in ("learning", "frozen_explore"):
        values = np.array([r["weekly_value"] for r in runs[policy]])
        report["policies"][policy]["vs_frozen_last_8_weeks"] = interval(
            list((values - frozen)[:, -min(8, config.weeks) :].sum(axis=1))
        )
    retrains = [[r["chosen"] for r in run["retrains"]] for run in runs["learning"]]
    report["policies"]["learning"]["retrains"] = [
        {"seed": seed, **record}
        for seed, run in enumerate(runs["learning"])
        for record in run["retrains"]
    ]
    report["policies"]["learning"]["ranking_changes"] = sum(
        sum(a != b for a, b in itertools.pairwise(seq)) for seq in retrains
    )
    # What exploration gives up, as the planner itself expects it, against the budget.
    explore = report["policies"]["frozen_explore"]
    frozen_saved = report["policies"]["frozen"]["saved_last_8_weeks"]["mean"]
    lost = -explore["vs_frozen_last_8_weeks"]["mean"]
    explore["realised_cost_share_of_frozen_saved"] = (
        lost / frozen_saved if frozen_saved > 0 else None
    )
    explore["budget_share"] = config.explore_share
    # The planner's own account: the expected benefit its draws gave up, against the
    # expected benefit of its plans (what the budget bounds), summed over weeks and seeds.
    planned = sum(sum(r["expected_benefit"]) for r in runs["frozen_explore"])
    given_up = sum(sum(r["given_up"]) for r in runs["frozen_explore"])
    explore["expected_benefit_given_up_share"] = (
        given_up / (planned + given_up) if planned + given_up > 0 else None
    )
    learning = report["policies"]["learning"]
    report["bars"] = {
        "learning_beats_frozen_last_8_weeks": learning["saved_last_8_weeks"]["mean"]
        > report["policies"]["frozen"]["saved_last_8_weeks"]["mean"],
        "learning_share_grows": _grows(learning["share_of_oracle_per_block"]),
    }
    return report


def _grows(shares: list[float | None]) -> bool | None:
    known = [s for s in shares if s is not None]
    return None if len(known) < 2 else known[-1] > known[0]


# --------------------------------------------------------------------------- the review


def review_check(
    data_dir: Path,
    config: LoopConfig,
    seeds: int = 10,
    holdout_share: float | None = None,
    log: Callable[[str], None] = print,
    estimators: Estimators | None = None,
) -> dict[str, Any]:
    """Does the review's 95% interval cover the true effect of a recommendation?

    ``estimators``: as in ``evaluate_loop``.
    """
    start, base = load_start(data_dir, "the loop")
    if estimators is None:
        estimators = fit_estimators(base, config)
    holdout = config.review_holdout_share if holdout_share is None else holdout_share
    exploration = Exploration(config.explore_share, holdout)
    results = []
    for seed in range(seeds):
        t0 = time.perf_counter()
        results.append(_one_review(start, base, estimators, config, exploration, seed))
        r = results[-1]
        log(
            f"seed {seed}: truth {r['truth']:+,.1f}, review {r['estimate']:+,.1f} "
            f"[{r['ci_low']:+,.1f}, {r['ci_high']:+,.1f}] "
            f"{'covers' if r['covered'] else 'MISSES'} ({time.perf_counter() - t0:.0f} s)"
        )
    covered = sum(r["covered"] for r in results if r["covered"] is not None)
    widths = [r["ci_high"] - r["ci_low"] for r in results if r["ci_low"] is not None]
    return {
        "seeds": seeds,
        "explore_share": config.explore_share,
        "holdout_share": holdout,
        "review_weeks": config.review_weeks,
        "covered": int(covered),
        "mean_interval_width": float(np.mean(widths)) if widths else None,
        "per_seed": results,
    }


def _one_review(start, base, estimators, config, exploration, seed) -> dict[str, Any]:
    territory = start.clone()
    territory.rng = np.random.default_rng([config.seed, 104729, 1000 + seed])
    observed = Observed(base)
    plan, draws = planned_week(
        territory, observed.tables(territory), estimators, config, exploration
    )
    randomised = draws[(draws["propensity"] > 0) & (draws["propensity"] < 1)]
    assigned = randomised["explored"].astype(bool) | (
        ~randomised["near_best"].astype(bool) & ~randomised["held_out"].astype(bool)
    )
    ids = randomised["retailer_id"]
    worlds = {}
    for world in ("as_planned", "all", "none"):
        copy = territory.clone()
        copy.rng = np.random.default_rng([config.seed, 104729, 1000 + seed])
        week_plan = plan.copy()
        if world != "as_planned":
            week_plan = week_plan[~week_plan["retailer_id"].isin(ids)]
            if world == "all":
                extra = randomised.assign(
                    visit_date=pd.Timestamp(territory.current_day, unit="D")
                )[["retailer_id", "manager_id", "visit_date", "purpose"]]
                week_plan = pd.concat([week_plan, extra], ignore_index=True)
        copy.step(visit_plan=week_plan, plan_given=(True, False))
        # Later weeks: current practice, the same luck in every world; one week more than
        # the review reads, so that its outcome window is complete in the data.
        for _ in range(config.review_weeks):
            copy.step()
        worlds[world] = copy
    monday, days = territory.current_day, 7 * config.review_weeks
    value = {w: _values_by_retailer(t, ids, monday, days) for w, t in worlds.items()}
    truth = float((value["all"] - value["none"]).mean())
    tables = observed.tables(worlds["as_planned"])
    tables["recommendations"] = draws.assign(
        recommended=draws["retailer_id"].isin(set(plan["retailer_id"])).astype(int)
    )
    reviewed = review(tables, ReviewConfig(horizon_weeks=config.review_weeks, min_per_arm=5))
    overall = reviewed["order_value"]["overall"]
    if overall["estimate"] is None:
        return {"truth": truth, "estimate": None, "ci_low": None, "ci_high": None,
                "covered": None, "why_not": overall["why_not"]}  # fmt: skip
    return {
        "truth": truth,
        "estimate": overall["estimate"],
        "ci_low": overall["ci_low"],
        "ci_high": overall["ci_high"],
        "covered": bool(overall["ci_low"] <= truth <= overall["ci_high"]),
        "randomised": len(randomised),
        "recommended": int(assigned.sum()),
    }


def _values_by_retailer(territory: Territory, ids: pd.Series, start: int, days: int):
    """Each retailer's order value in [start, start + days) of the territory's records."""
    chunks = territory.records.get("orders", [])
    codes = np.concatenate([c["retailer"] for c in chunks])
    amounts = np.concatenate([c["amount"] for c in chunks])
    dates = np.concatenate([c["order_date"] for c in chunks])
    inside = (dates >= start) & (dates < start + days)
    by_code = np.bincount(
        codes[inside], weights=amounts[inside], minlength=len(territory.retailers)
    )
    # Simulated ids are "R" and the zero-padded index (Territory.retailer_ids).
    return by_code[ids.str[1:].astype(int).to_numpy()]


__all__ = ["LOOP_POLICIES", "LoopConfig", "evaluate_loop", "review_check"]

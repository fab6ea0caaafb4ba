"""The planner's self-check: which ranking of retailers saves the most, on held-out weeks.

The visit-effect model is only worth trusting if visiting the retailers it ranks first keeps
more order value than visiting those a simple rule ranks first. Each candidate ranking is a
policy: in every manager-week of the held-out weeks, visit as many retailers as that manager
really visited, taking them in the ranking's order. Its value is estimated off-policy with
the doubly robust pseudo-outcomes ``phi`` of the DR-learner (cross-fitted propensity and
outcome models): for a policy ``pi`` with the logged budget,

    V(pi) - V(visit nobody) = mean over manager-weeks of sum_i pi_i * phi_i * usual_i,

where ``usual_i`` is the retailer's usual order value over the horizon, so the estimate is
in yuan saved per manager-week. It stays unbiased if either the propensity or the outcome
model is right. 95% intervals come from a Poisson bootstrap over retailers (all weeks of a
retailer move together), and the comparisons of two rankings are paired on the same draws.

Where managers almost never (or almost always) visit a kind of retailer, ``phi`` leans on the
outcome model's extrapolation and on clipped weights. The estimate restricted to the
retailer-weeks inside the overlap (propensity within the clip) is reported beside the full
one, and the effect model must win on both: an edge that exists only where the data cannot
check it is not trusted, and the planner then ranks by the best simple rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.rankings import (
    EFFECT_RANKING,
    RANKING_LABELS,
    saved_value,
    simple_ranking_scores,
)
from training.boosters import NO_SUBSAMPLING, lightgbm_params

EFFECT_MODEL = EFFECT_RANKING
SIMPLE_RANKINGS = ("churn_x_value", "churn", "value", "rotation")
CANDIDATES = (EFFECT_MODEL, *SIMPLE_RANKINGS)
REFERENCE_RANKING = "churn"  # the simple rule the others must clearly beat (see _fallback)
LABELS = RANKING_LABELS
# The effect model must beat the best simple ranking's held-out value by this share (and
# the paired 95% interval of the difference must exclude zero). A model is the more fragile
# choice: it can extrapolate where visits were never made and it drifts with the territory,
# whereas the best of four simple rules is robust; 5% is well under the model's edge where
# it is right (20-60% on our simulated territories) and above what the luck of four
# held-out weeks gives a useless model (under 3% in the shuffled-outcome test).
MODEL_MARGIN = 0.05
BOOTSTRAP_DRAWS = 400

# What the self-check needs of each retailer-week.
SELFCHECK_COLUMNS = (
    "retailer_id",
    "manager_id",
    "as_of",
    "baseline_weekly_value",
    "days_since_last_visit",
    "_t",
    "_phi",
    "_tau",
    "_e",
    "_ep",
    "_churn",
)


def candidate_scores(
    frame: pd.DataFrame, effect: np.ndarray, churn_p: np.ndarray, horizon_weeks: int
) -> dict[str, np.ndarray]:
    """Every candidate ranking's score (higher = visit first), as the planner computes it."""
    usual = np.nan_to_num(frame["baseline_weekly_value"].to_numpy(float) * horizon_weeks)
    return {
        EFFECT_MODEL: saved_value(np.asarray(effect, float), usual),
        **simple_ranking_scores(frame, churn_p, horizon_weeks),
    }


def _top_logged_budget(groups: np.ndarray, budget: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Mask of each group's ``budget`` best rows by ``score`` (ties broken at random, seeded)."""
    jitter = np.random.default_rng(0).random(len(score))
    order = np.lexsort((jitter, -np.nan_to_num(score, nan=-np.inf), groups))
    sorted_groups = groups[order]
    rank = np.arange(len(order)) - np.searchsorted(sorted_groups, sorted_groups)
    mask = np.zeros(len(score), dtype=bool)
    mask[order[rank < budget[sorted_groups]]] = True
    return mask


def _interval(draws: np.ndarray, estimate: float) -> dict[str, float]:
    low, high = np.quantile(draws, [0.025, 0.975])
    return {"estimate": float(estimate), "ci_low": float(low), "ci_high": float(high)}


def policy_values(
    frame: pd.DataFrame,
    phi: np.ndarray,
    propensity: np.ndarray,
    scores: dict[str, np.ndarray],
    horizon_weeks: int,
    clip: float,
    margin: float = MODEL_MARGIN,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = 0,
    planned_propensity: np.ndarray | None = None,
    incumbent: str | None = None,
) -> dict[str, Any]:
    """Held-out value of each ranking, the paired comparisons, and the ranking to use.

    Args:
        frame: held-out retailer-weeks with ``retailer_id``, ``manager_id``, ``as_of``,
            ``_t`` (visited) and ``baseline_weekly_value``.
        phi: DR pseudo-outcome of each row (relative order value over the horizon).
        propensity: the cross-fitted (unclipped) propensity of each row.
        scores: candidate name -> score; ``effect_model`` is the one being checked.
        planned_propensity: the (unclipped) propensity of the visit a plan would make (with
            its purpose); a row is inside the overlap when both it and not visiting are
            likely enough. Default: ``propensity``.
        incumbent: the ranking the planner uses now; it stays unless the ranking these
            rules choose beats it clearly (see ``_keep_incumbent``).
    """
    groups = pd.factorize(frame["manager_id"].astype(str) + "|" + frame["as_of"].astype(str))[0]
    n_groups = int(groups.max()) + 1
    budget = np.bincount(groups, weights=frame["_t"].to_numpy(float), minlength=n_groups)
    budget = budget.astype(np.int64)
    usual = np.nan_to_num(frame["baseline_weekly_value"].to_numpy(float)) * horizon_weeks
    gain = np.asarray(phi, float) * usual
    treated = propensity if planned_propensity is None else planned_propensity
    inside = (treated >= clip) & (propensity <= 1 - clip)
    retailer = pd.factorize(frame["retailer_id"])[0]
    weights = np.random.default_rng(seed).poisson(1.0, (draws, int(retailer.max()) + 1))
    row_weights = weights[:, retailer].astype(np.float64)  # (draws, rows)
    rows_per_group = len(gain) / n_groups

    def value(contribution: np.ndarray) -> tuple[float, np.ndarray]:
        estimate = contribution.sum() / n_groups
        boot = row_weights @ contribution / row_weights.sum(axis=1) * rows_per_group
        return float(estimate), boot

    names = [c for c in CANDIDATES if c in scores]
    selected = {c: _top_logged_budget(groups, budget, scores[c]) for c in names}
    full, trimmed, entries = {}, {}, {}
    for c in names:
        full[c] = value(selected[c] * gain)
        trimmed[c] = value(selected[c] * gain * inside)
        chosen_rows = selected[c]
        entries[c] = {
            **_interval(full[c][1], full[c][0]),
            "label": LABELS[c],
            "overlap_only": _interval(trimmed[c][1], trimmed[c][0]),
            "per_visit": float(gain[chosen_rows].sum() / max(chosen_rows.sum(), 1)),
            "share_outside_overlap": float((~inside[chosen_rows]).mean())
            if chosen_rows.any()
            else 0.0,
            "yuan_per_score": _yuan_per_score(scores[c], chosen_rows, gain, usual),
            "chosen": False,
        }
    logged = value(frame["_t"].to_numpy(float) * gain)
    simple = [c for c in names if c != EFFECT_MODEL]
    best_simple = max(simple, key=lambda c: full[c][0])
    fallback, fallback_reason = _fallback(full, trimmed, simple, best_simple, margin)
    decision = _choose(full, trimmed, best_simple, margin, EFFECT_MODEL in names)
    if decision["chosen"] != EFFECT_MODEL:
        decision["chosen"] = fallback
        decision["reason"] += f"; {fallback_reason}"
    if incumbent in full:
        decision.update(_keep_incumbent(full, decision, incumbent))
    entries[decision["chosen"]]["chosen"] = True
    decision["yuan_per_score"] = entries[decision["chosen"]]["yuan_per_score"]
    return {
        "unit": (
            f"yuan of order value saved over {horizon_weeks} weeks per manager-week, against "
            "visiting nobody, when each manager makes as many visits as they really made"
        ),
        "estimator": (
            "doubly robust (cross-fitted DR pseudo-outcomes) on the held-out weeks; 95% "
            f"intervals from a {draws}-draw Poisson bootstrap over retailers"
        ),
        "manager_weeks": n_groups,
        "rows": len(gain),
        "rows_inside_overlap": float(inside.mean()),
        "current_practice": _interval(logged[1], logged[0]),
        "candidates": entries,
        "best_simple": best_simple,
        "fallback": fallback,
        **decision,
    }


def _fallback(full, trimmed, simple: list[str], best: str, margin: float) -> tuple[str, str]:
    """The simple ranking the plan uses when the model is not trusted, and why.

    Churn probability is the reference: the standard rule a planner is measured against.
    Another rule replaces it only when its held-out value beats churn's by the margin, with
    the paired 95% interval of the difference above zero and a win inside the overlap too:
    under poor overlap the estimates of rules that pick shops managers (almost) always or
    never visit are extrapolation (on a simulated territory whose managers favour big shops,
    the value ranking's estimate was under half its true worth and churn's 1.8x), and
    picking the best of four noisy estimates favours luck.

    Every other rule is put to that test, best estimate first, not only the best one: two
    rules often tie at the top (on a 700-retailer territory usual value 128,896 and churn x
    value 128,166 a manager-week, +35% and +34% on churn), and the one ahead by luck may be
    the one that fails the test (there value, whose edge lies outside the overlap), which
    left the plan on churn although the other clearly beat it (the policy evaluation's
    planner then kept 3,978 yuan beyond the rotation, with churn x value 29,315).
    """
    reference = REFERENCE_RANKING if REFERENCE_RANKING in simple else best
    if best == reference:
        return reference, f"{LABELS[reference]} is also the best simple ranking held out"
    base = full[reference][0]
    texts = []
    for rule in sorted(
        (c for c in simple if c != reference), key=lambda c: full[c][0], reverse=True
    ):
        edge = full[rule][0] - base
        low = float(np.quantile(full[rule][1] - full[reference][1], 0.025))
        inside = trimmed[rule][0] - trimmed[reference][0]
        share = edge / abs(base) if base else float("inf")
        text = f"{LABELS[rule]} saves {share:+.0%} against {LABELS[reference]}"
        if edge >= margin * abs(base) and low > 0 and inside > 0:
            return rule, f"{text}, beyond the margin, interval above zero, also inside the overlap"
        if edge > 0:
            texts.append(text)
    text = "; ".join(texts) or f"no simple ranking saves more than {LABELS[reference]}"
    return reference, f"{text}, not clearly better, so the plan ranks by {LABELS[reference]}"


def _keep_incumbent(full, decision: dict[str, Any], incumbent: str) -> dict[str, Any]:
    """The ranking in use stays unless the newly chosen one beats it clearly.

    Retrained every few weeks on mostly the same data, the rules above flip between
    rankings whose values lie within each other's intervals (on a simulated territory the
    loop changed its ranking at almost every retrain), and each flip throws away what the
    plans of the last weeks were built on. A change is made only when the paired 95%
    interval of the challenger minus the incumbent lies above zero.
    """
    chosen = decision["chosen"]
    record: dict[str, Any] = {"incumbent": incumbent, "kept_incumbent": chosen == incumbent}
    if chosen == incumbent:
        return record
    difference = full[chosen][1] - full[incumbent][1]
    low = float(np.quantile(difference, 0.025))
    record["challenger"] = chosen
    edge = full[chosen][0] - full[incumbent][0]
    record["challenger_minus_incumbent"] = _interval(difference, edge)
    if low > 0:
        record["reason"] = (
            f"{decision['reason']}; it replaces {LABELS[incumbent]}, the ranking in use: the "
            "95% interval of the difference is above zero"
        )
        return record
    record["kept_incumbent"] = True
    record["chosen"] = incumbent
    record["reason"] = (
        f"{decision['reason']}; but against {LABELS[incumbent]}, the ranking in use, the 95% "
        f"interval of the difference reaches {low:,.0f}: not clearly better, so the plan "
        f"keeps {LABELS[incumbent]}"
    )
    return record


def _choose(full, trimmed, best_simple: str, margin: float, has_model: bool) -> dict[str, Any]:
    if not has_model:
        return {
            "chosen": best_simple,
            "reason": "no effect model to check, so the plan ranks by a simple rule",
        }
    model, simple = full[EFFECT_MODEL], full[best_simple]
    difference = model[1] - simple[1]
    difference_low = float(np.quantile(difference, 0.025))
    edge = model[0] - simple[0]
    needed = margin * abs(simple[0])
    edge_overlap = trimmed[EFFECT_MODEL][0] - trimmed[best_simple][0]
    share = edge / abs(simple[0]) if simple[0] else float("inf")
    comparison = {
        "model_minus_best_simple": _interval(difference, edge),
        "model_minus_best_simple_overlap_only": float(edge_overlap),
        "margin": margin,
    }
    base = (
        f"held out, the visit-effect model saves {model[0]:,.0f} a manager-week against "
        f"{simple[0]:,.0f} for {LABELS[best_simple]} ({share:+.0%})"
    )
    if edge < needed:
        return {
            **comparison,
            "chosen": best_simple,
            "reason": f"{base}: short of the {margin:.0%} margin, so the plan ranks by a "
            "simple rule",
        }
    if difference_low <= 0:
        return {
            **comparison,
            "chosen": best_simple,
            "reason": f"{base}, but the 95% interval of the difference reaches "
            f"{difference_low:,.0f}: not clearly better, so the plan ranks by a simple rule",
        }
    if edge_overlap <= 0:
        return {
            **comparison,
            "chosen": best_simple,
            "reason": f"{base}, but only where managers (almost) never or always visit, where "
            "the estimate is extrapolation; inside the overlap it does not win, so the plan "
            "ranks by a simple rule",
        }
    return {
        **comparison,
        "chosen": EFFECT_MODEL,
        "reason": f"{base}, beyond the {margin:.0%} margin, with a 95% interval of the "
        f"difference above zero and also inside the overlap",
    }


def _yuan_per_score(
    score: np.ndarray, selected: np.ndarray, gain: np.ndarray, usual: np.ndarray
) -> float:
    """Yuan one unit of the score is worth, so a simple ranking can be weighed against km.

    The planner trades a visit's benefit against the kilometres it costs, so a rule's score
    must be in yuan: the held-out saved value per visit of the rule's choices, over their
    mean score. It never falls below 1% of the chosen retailers' usual value (a visit is
    never planned as worthless).
    """
    if not selected.any():
        return 1.0
    mean_score = float(np.mean(score[selected]))
    per_visit = max(float(gain[selected].mean()), 0.01 * float(usual[selected].mean()))
    return per_visit / mean_score if mean_score > 0 else 1.0


def overlap_summary(e_raw: np.ndarray, t: np.ndarray, clip: float) -> dict[str, Any]:
    """Where the cross-fitted propensities lie, for visited and unvisited retailer-weeks."""
    quantiles = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
    return {
        "clip": [clip, 1 - clip],
        "share_clipped_low": float((e_raw < clip).mean()),
        "share_clipped_high": float((e_raw > 1 - clip).mean()),
        "share_clipped": float(((e_raw < clip) | (e_raw > 1 - clip)).mean()),
        "quantiles_treated": {
            str(q): float(v)
            for q, v in zip(quantiles, np.quantile(e_raw[t == 1], quantiles), strict=True)
        },
        "quantiles_untreated": {
            str(q): float(v)
            for q, v in zip(quantiles, np.quantile(e_raw[t == 0], quantiles), strict=True)
        },
        "mean_treated": float(e_raw[t == 1].mean()),
        "mean_untreated": float(e_raw[t == 0].mean()),
    }


def overlap_advice(overlap: dict[str, Any], clip: float) -> str:
    """The overlap of the propensities, in words a data scientist can act on."""
    share = overlap["share_clipped"]
    low, high = overlap["share_clipped_low"], overlap["share_clipped_high"]
    text = (
        f"{share:.0%} of training retailer-weeks have a visit propensity outside "
        f"[{clip}, {1 - clip}] ({low:.0%} almost never visited, {high:.0%} almost always): "
    )
    if share < 0.1:
        return text + "overlap is good; the effect estimates rest on comparable visited and "
        "unvisited retailers."
    advice = (
        "there the effect is extrapolated by the outcome model, not compared. "
        "The self-check only trusts the model where it also wins inside the overlap. "
        "To widen the overlap, vary who is visited: e.g. let plans pick a few visits a week "
        "at random among the candidates, so that retailers the rotation never (or always) "
        "visits get compared."
    )
    return text + ("overlap is poor; " if share > 0.3 else "overlap is fair; ") + advice


def fit_churn_proxy(x: pd.DataFrame, y: np.ndarray, seed: int, rounds: int = 150):
    """P(no order in the horizon | features), fitted on the training weeks only.

    The planner's churn probability comes from the registered churn champion, which may
    have been trained on labels that overlap these held-out weeks; a proxy fitted on the
    visit model's own training weeks ranks the same way without that leak.
    """
    import lightgbm as lgb

    params = lightgbm_params(
        "binary", seed, num_leaves=31, min_child_samples=100, **NO_SUBSAMPLING
    )
    return lgb.train(params, lgb.Dataset(x, (np.asarray(y) <= 0).astype(int)), rounds)


def check_rankings(
    model,
    effect: np.ndarray | None = None,
    holdout_only: bool = False,
    frame: pd.DataFrame | None = None,
    incumbent: str | None = None,
) -> dict[str, Any]:
    """The self-check of a fitted ``training.visits.VisitEffect``.

    By default on the out-of-fold training weeks plus the held-out weeks; with
    ``holdout_only`` (or when ``effect`` replaces the model's held-out estimates, e.g. to
    score the champion) on the held-out weeks alone. ``frame`` replaces those rows (same
    columns as ``selfcheck_``). ``incumbent``: the ranking in use, kept unless clearly
    beaten (``policy_values``).
    """
    use_holdout = holdout_only or effect is not None
    if frame is None:
        frame = model.holdout_ if use_holdout else model.selfcheck_
    effect = frame["_tau"].to_numpy() if effect is None else np.asarray(effect, float)
    horizon = model.config.horizon_weeks
    scores = candidate_scores(frame, effect, frame["_churn"].to_numpy(), horizon)
    values = policy_values(
        frame,
        frame["_phi"].to_numpy(),
        frame["_e"].to_numpy(),
        scores,
        horizon,
        model.config.propensity_clip,
        seed=model.config.seed,
        planned_propensity=frame["_ep"].to_numpy() if "_ep" in frame else None,
        incumbent=incumbent,
    )
    values["data"] = (
        "the held-out weeks"
        if use_holdout
        else "the training weeks (each retailer ranked by models fitted on the other "
        "retailers) and the held-out weeks"
    )
    return values

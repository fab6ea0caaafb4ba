"""Is the planner's self-check right? Its held-out estimates beside the simulator's truth.

`train visits` values each candidate ranking (the effect model, churn x value, churn,
value, rotation) on held-out weeks with a doubly robust estimate and ranks by the best one
(``training.visit_policy``). Here the same candidates are valued on the same held-out
weeks by what the simulator knows: in each manager-week the ranking's first retailers, as
many as the manager really visited, and the sum of their true visit effect (best purpose)
times their true usual value, per manager-week (the oracle's yardstick). It prints both
side by side, the ranking the self-check chose and the one the truth would have chosen.

Beside them, whether the effect model's misses are noise or missing features: a "feature
ceiling" (LightGBM fitted to the *true* effect on the training weeks' rows and the model's
own features, as in ``policy_ceiling.py``) ranked on the held-out weeks the same way, the
Spearman correlation of each with the true effect, and that of the pseudo-outcome the
model learns from (if the ceiling ranks well and the pseudo-outcome hardly correlates with
the truth, the features are there and the signal is not).

Evaluation only: it reads ``_truth/``.

    python benchmarks/selfcheck_truth.py --data DIR [--data DIR ...] [--report FILE.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from features.retailer import model_frame
from features.validate import load_dataset
from planning.purpose import choose_purposes
from simulator.export import load_truth
from training.visit_policy import (
    EFFECT_MODEL,
    _top_logged_budget,
    candidate_scores,
    check_rankings,
)
from training.visit_rows import VisitEffectConfig, visit_rows
from training.visits import fit_visit_effect


def true_effect(data: Path, frame: pd.DataFrame) -> np.ndarray:
    """The true visit effect (health units) of each of ``frame``'s retailer-weeks."""
    weeks = load_truth(data, "retailer_weeks")
    weeks["week_start"] = pd.to_datetime(weeks["week_start"])
    key = pd.MultiIndex.from_arrays([frame["retailer_id"], pd.to_datetime(frame["as_of"])])
    return (
        weeks.set_index(["retailer_id", "week_start"])["visit_effect"].reindex(key).fillna(0.0)
    ).to_numpy(float)


# policy_ceiling.py's truth-trained effect model.
CEILING_PARAMS = {
    "objective": "regression",
    "num_leaves": 15,
    "min_child_samples": 100,
    "verbose": -1,
    "seed": 0,
}
CEILING_ROUNDS = 400


def ceiling_effect(data: Path, model) -> np.ndarray:
    """Held-out predictions of an effect model fitted to the true effect of the training
    weeks' retailer-weeks, from the fitted model's features (no held-out week seen)."""
    rows = pd.concat(
        [visit_rows(model.history_, d, model.config) for d in model.plan_.train],
        ignore_index=True,
    )
    train = lgb.Dataset(model_frame(rows, model.features_), true_effect(data, rows))
    booster = lgb.train(CEILING_PARAMS, train, num_boost_round=CEILING_ROUNDS)
    return booster.predict(model_frame(model.holdout_, model.features_))


def true_values(data: Path, frame: pd.DataFrame, scores: dict[str, np.ndarray]) -> dict:
    """True value of each ranking on ``frame``'s rows, per manager-week (truth units)."""
    effect = true_effect(data, frame)
    base = load_truth(data, "retailers").set_index("retailer_id")["base_value"]
    gain = effect * frame["retailer_id"].map(base).fillna(0.0).to_numpy(float)
    groups = pd.factorize(frame["manager_id"].astype(str) + "|" + frame["as_of"].astype(str))[0]
    n_groups = int(groups.max()) + 1
    budget = np.bincount(groups, weights=frame["_t"].to_numpy(float), minlength=n_groups)
    budget = budget.astype(np.int64)
    out = {}
    for name, score in scores.items():
        chosen = _top_logged_budget(groups, budget, score)
        out[name] = float(gain[chosen].sum() / n_groups)
    out["logged"] = float(gain[frame["_t"].to_numpy() == 1].sum() / n_groups)
    return out


def one(data: Path, dump: Path | None = None) -> dict:
    t0 = time.perf_counter()
    tables = load_dataset(data).tables
    model = fit_visit_effect(tables, VisitEffectConfig(), choose_purposes)
    fitted_s = time.perf_counter() - t0
    result = {"data": str(data), "fit_s": round(fitted_s), "checks": {}}
    for label, check in (
        ("training OOF + held-out weeks (what train visits uses)", model.ranking_check_),
        ("held-out weeks only", check_rankings(model, holdout_only=True)),
    ):
        result["checks"][label] = {
            "chosen": check["chosen"],
            "reason": check["reason"],
            "estimates": {k: v["estimate"] for k, v in check["candidates"].items()},
            "overlap_only": {
                k: v["overlap_only"]["estimate"] for k, v in check["candidates"].items()
            },
            "share_outside_overlap": {
                k: v["share_outside_overlap"] for k, v in check["candidates"].items()
            },
            "intervals": {k: [v["ci_low"], v["ci_high"]] for k, v in check["candidates"].items()},
        }
    hold, horizon = model.holdout_, model.config.horizon_weeks
    scores = candidate_scores(hold, hold["_tau"].to_numpy(), hold["_churn"].to_numpy(), horizon)
    ceiling = ceiling_effect(data, model)
    ceiling_score = candidate_scores(hold, ceiling, hold["_churn"].to_numpy(), horizon)
    truth = true_values(data, hold, {**scores, "feature_ceiling": ceiling_score[EFFECT_MODEL]})
    result["truth_holdout"] = truth
    result["truth_best"] = max(scores, key=lambda c: truth[c])
    effect_hold = true_effect(data, hold)
    selfcheck = model.selfcheck_
    result["spearman_with_true_effect"] = {
        "effect_model": float(spearmanr(hold["_tau"], effect_hold)[0]),
        "feature_ceiling": float(spearmanr(ceiling, effect_hold)[0]),
        "pseudo_outcome": float(spearmanr(selfcheck["_phi"], true_effect(data, selfcheck))[0]),
    }
    result["planned_purpose_share"] = model.report_.get("planned_purpose_share")
    if dump is not None:  # the rows behind the check, to study other estimators offline
        dump.mkdir(parents=True, exist_ok=True)
        for name, frame in (("selfcheck", model.selfcheck_), ("holdout", hold)):
            keep = [c for c in frame.columns if c.startswith("_") or c in KEEP_COLUMNS]
            frame[keep].to_parquet(dump / f"{data.name}_{name}.parquet")
    return result


KEEP_COLUMNS = ("retailer_id", "manager_id", "as_of", "baseline_weekly_value")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--report", type=Path)
    parser.add_argument("--dump", type=Path, help="Write the self-check's rows here.")
    args = parser.parse_args()
    results = []
    for data in args.data:
        r = one(data, args.dump)
        results.append(r)
        print(f"{data} (fit {r['fit_s']} s); planner's-purpose share {r['planned_purpose_share']}")
        truth = r["truth_holdout"]
        best = truth[r["truth_best"]]
        for label, check in r["checks"].items():
            print(f"  self-check on {label}: chose {check['chosen']}")
        print(
            f"  {'ranking':<16}{'DR estimate':>12}{'overlap':>9}{'outside':>8}"
            f"{'(holdout)':>11}{'true value':>12}  share"
        )
        full, holdout = (r["checks"][k] for k in r["checks"])
        for name, value in full["estimates"].items():
            print(
                f"  {name:<16}{value:>12,.0f}{full['overlap_only'][name]:>9,.0f}"
                f"{full['share_outside_overlap'][name]:>8.0%}"
                f"{holdout['estimates'][name]:>11,.0f}"
                f"{truth[name]:>12,.1f}  {truth[name] / best:5.0%}"
            )
        print(f"  truly best: {r['truth_best']}; logged visits' true value {truth['logged']:,.1f}")
        ceiling = truth["feature_ceiling"]
        rho = r["spearman_with_true_effect"]
        print(
            f"  feature ceiling (fitted to the true effect, training weeks): true value "
            f"{ceiling:,.1f} ({ceiling / best:.0%} of the truly best candidate); the model keeps "
            f"{truth[EFFECT_MODEL] / ceiling:.0%} of it"
        )
        print(
            "  Spearman with the true effect: "
            + ", ".join(f"{name} {value:.3f}" for name, value in rho.items())
        )
    if args.report:
        args.report.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

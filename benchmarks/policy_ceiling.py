"""How much of the oracle's saved value the company's data allows at best (issue 5).

The policy evaluation compares the planner with an oracle that knows each retailer's true
visit effect. Part of the gap is the effect model's error, part is what the features
cannot show at all (a decline that has not reached the orders yet). This separates them:
it runs rotation, the planner, the oracle, and the same planner whose effect model is
trained on the simulator's *true* visit effects from the same point-in-time features the
planner sees ("feature ceiling"). No model learnt from this data can do much better than
the feature ceiling, so it bounds what any estimator can reach on the planner bar.

Evaluation only: it reads ``_truth/``.

    python benchmarks/policy_ceiling.py --data DIR [--weeks 8] [--seeds 5]
        [--shrink 1.0] [--report FILE.json] [--policies planner --reuse EARLIER.json]

``--policies`` runs only some of the policies and takes the others' per-seed values from
an earlier report of the same data, weeks and seeds (``--reuse``): a change to the planner
is re-measured without re-running the slow feature ceiling. Each seed's luck is fixed, so
the reused figures are what a full run would print for them.
"""

from __future__ import annotations

import os

# Before LightGBM loads (below): its idle OpenMP threads must not spin on a shared
# machine (see fieldcoach/cli/main.py, which does the same for every command).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

import features.rankings as rankings_module
from evaluation.policy_runs import run_policy
from evaluation.policy_setup import Observed, PolicyConfig, fit_estimators
from features.retailer import model_frame, prepare_history
from features.validate import load_dataset
from simulator.export import STATE_FILE, load_truth
from simulator.territory import Territory
from training.visit_rows import VisitEffectConfig, plan_weeks, visit_rows


class TruthTrainedEffect:
    """An effect model fitted to the true visit effect (health units, rescaled)."""

    def __init__(self, booster: lgb.Booster, features: list[str], scale: float):
        self.booster, self.features, self.scale = booster, features, scale

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.scale * self.booster.predict(model_frame(frame, self.features))


def truth_trained_effect(data: Path, tables, features: list[str], scale: float):
    config = VisitEffectConfig()
    history = prepare_history(tables)
    weeks = plan_weeks(history, config)
    rows = pd.concat(
        [visit_rows(history, d, config) for d in weeks.train + weeks.holdout], ignore_index=True
    )
    truth = load_truth(data, "retailer_weeks")
    truth["week_start"] = pd.to_datetime(truth["week_start"])
    key = pd.MultiIndex.from_arrays([rows["retailer_id"], pd.to_datetime(rows["as_of"])])
    effect = truth.set_index(["retailer_id", "week_start"])["visit_effect"].reindex(key).fillna(0)
    params = {
        "objective": "regression",
        "num_leaves": 15,
        "min_child_samples": 100,
        "verbose": -1,
        "seed": 0,
    }
    booster = lgb.train(
        params, lgb.Dataset(model_frame(rows, features), effect.to_numpy()), num_boost_round=400
    )
    return TruthTrainedEffect(booster, features, scale)


POLICIES = ("rotation", "risk", "planner", "feature_ceiling", "oracle")


def _reused_runs(args, names: list[str]) -> dict[str, list[float]]:
    """Per-seed retained values of ``names`` from ``--reuse``, checked to be comparable."""
    if not names or args.reuse is None:
        return {}
    earlier = json.loads(args.reuse.read_text())
    same = (earlier.get("weeks"), earlier.get("seeds"), earlier.get("data"))
    if same != (args.weeks, args.seeds, str(args.data.resolve())):
        raise SystemExit(f"--reuse {args.reuse}: weeks, seeds or data differ ({same})")
    return {name: earlier["runs"][name] for name in names}


def _summary(runs: dict[str, list[float]], args) -> dict:
    """Saved value vs rotation of each policy run, and the bars' ratios where both exist."""
    report: dict = {"weeks": args.weeks, "seeds": args.seeds, "ceiling_shrink": args.shrink}
    report["data"] = str(args.data.resolve())
    report["runs"] = {name: [float(v) for v in values] for name, values in runs.items()}
    if "rotation" not in runs:
        return report
    rotation = np.array(runs["rotation"])
    saved = {name: np.array(v) - rotation for name, v in runs.items() if name != "rotation"}
    oracle = saved["oracle"].mean() if "oracle" in saved else float("nan")
    print(f"saved value vs rotation, mean of {args.seeds} seeds, {args.weeks} weeks:")
    for name, s in saved.items():
        share = float(s.mean() / oracle)
        report[name] = {"saved_value": float(s.mean()), "share_of_oracle": share}
        print(f"  {name:<16} {s.mean():>12,.0f}  {100 * s.mean() / oracle:5.1f}% of the oracle's")
    for key, other, bar in (
        ("planner_vs_risk", "risk", "1.3x"),
        ("planner_vs_feature_ceiling", "feature_ceiling", "0.9x"),
    ):
        if "planner" in saved and other in saved:
            report[key] = float(saved["planner"].mean() / saved[other].mean())
            print(f"  planner / {other}: {report[key]:.2f}x (bar {bar})")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--shrink",
        type=float,
        default=1.0,
        help="Weight of the truth-trained effect against its mean (1.0: no shrinking).",
    )
    parser.add_argument("--report", type=Path)
    parser.add_argument(
        "--policies",
        default=",".join(POLICIES),
        help=f"Comma-separated subset of {', '.join(POLICIES)} to run (default: all).",
    )
    parser.add_argument("--reuse", type=Path, help="Earlier report for the policies not run.")
    args = parser.parse_args()
    run_now = [p for p in args.policies.split(",") if p]
    unknown = set(run_now) - set(POLICIES)
    if unknown:
        parser.error(f"--policies: unknown {sorted(unknown)}; choose from {POLICIES}")
    reused = _reused_runs(args, [p for p in POLICIES if p not in run_now])

    config = PolicyConfig(weeks=args.weeks, seeds=args.seeds)
    start = Territory.load(args.data / STATE_FILE)
    start.records.clear()
    start.truth.clear()
    tables = load_dataset(args.data).tables
    t0 = time.perf_counter()
    estimators = fit_estimators(tables, config)
    # The true effect is in health units; scale it to the learnt model's mean so the
    # travel cost weighs the same against both.
    ceiling_model = truth_trained_effect(args.data, tables, estimators.effect.features_, 1.0)
    frame = estimators.effect.holdout_
    learnt_mean = float(np.mean(estimators.effect.predict(frame)))
    true_mean = float(np.mean(ceiling_model.predict(frame)))
    ceiling_model.scale = learnt_mean / true_mean if true_mean > 0 else 1.0
    ceiling = replace(estimators, effect=ceiling_model, ranking=None)
    print(
        f"fitted the planner's models and the truth-trained effect in "
        f"{time.perf_counter() - t0:.0f} s"
    )

    observed = Observed(tables)
    runs = {n: list(reused.get(n, [])) for n in POLICIES if n in reused or n in run_now}
    default_shrink = rankings_module.EFFECT_SHRINK
    for seed in range(args.seeds):
        for name in run_now:
            policy = "planner" if name == "feature_ceiling" else name
            rankings_module.EFFECT_SHRINK = (
                args.shrink if name == "feature_ceiling" else (default_shrink)
            )
            use = ceiling if name == "feature_ceiling" else estimators
            value = run_policy(policy, start, observed, use, config, seed)["retained_value"]
            runs[name].append(value)
            print(f"seed {seed} {name:<16} retained value {value:>14,.0f}", flush=True)
    rankings_module.EFFECT_SHRINK = default_shrink

    report = _summary(runs, args)
    report["reused_from"] = {p: str(args.reuse) for p in reused}
    report["planner_ranking"] = estimators.ranking.name if estimators.ranking else None
    print(f"planner ranked by {report['planner_ranking']}")
    if args.report:
        args.report.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

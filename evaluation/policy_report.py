"""The policy comparison: every policy (``evaluation.policy_runs``) on every seed, the
report of means and 95% intervals over seeds, its chart, and its MLflow run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from evaluation.policy_runs import POLICIES, run_policy
from evaluation.policy_setup import Observed, PolicyConfig, fit_estimators, load_start
from simulator.territory import Territory


def interval(values: list[float]) -> dict[str, float]:
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return {"mean": mean, "ci_low": mean, "ci_high": mean}
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half}


def evaluate_policies(
    data_dir: Path,
    config: PolicyConfig,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every policy, every seed; the report holds means and 95% intervals over seeds."""
    start, tables = load_start(data_dir, "policy evaluation")
    t0 = time.perf_counter()
    estimators = fit_estimators(tables, config)
    log(
        f"trained the planner's models on the data before {start.current_date.date()} "
        f"in {time.perf_counter() - t0:.0f} s"
        + ("" if estimators.effect is not None else " (no visits: risk x value fallback)")
    )
    if estimators.ranking is not None:
        log(f"planner ranking: {estimators.ranking.name} ({estimators.ranking.reason})")
    observed = Observed(tables)
    results: dict[str, list[dict[str, float]]] = {p: [] for p in POLICIES}
    for seed in range(config.seeds):
        for policy in POLICIES:
            t1 = time.perf_counter()
            results[policy].append(run_policy(policy, start, observed, estimators, config, seed))
            log(
                f"seed {seed} {policy:<9} value {results[policy][-1]['retained_value']:>14,.0f}"
                f"  retailers {results[policy][-1]['retained_retailers']:>8,.0f}"
                f"  ({time.perf_counter() - t1:.0f} s)"
            )
    report = _report(results, config, start)
    if estimators.ranking is not None:
        report["planner_ranking"] = {
            "name": estimators.ranking.name,
            "reason": estimators.ranking.reason,
        }
    return report


def _report(results, config: PolicyConfig, start: Territory) -> dict[str, Any]:
    report: dict[str, Any] = {
        "snapshot": str(start.current_date.date()),
        "weeks": config.weeks,
        "seeds": config.seeds,
        "capacity": "each manager's weekly capacity, the same for every policy",
    }
    rotation = np.array([r["retained_value"] for r in results["rotation"]])
    for policy, runs in results.items():
        value = np.array([r["retained_value"] for r in runs])
        report[policy] = {
            "retained_value": interval(list(value)),
            "retained_retailers": interval([r["retained_retailers"] for r in runs]),
            "saved_value": interval(list(value - rotation)),
        }
    saved = {p: report[p]["saved_value"]["mean"] for p in POLICIES}
    report["planner_vs_oracle_saved"] = (
        saved["planner"] / saved["oracle"] if saved["oracle"] > 0 else float("nan")
    )
    report["planner_vs_risk_saved"] = (
        saved["planner"] / saved["risk"] if saved["risk"] > 0 else float("nan")
    )
    return report


def policy_chart(report: dict[str, Any], path: Path) -> Path:
    """Bar chart of saved value (vs rotation) per policy with 95% intervals."""
    from features.io import atomic_path
    from training.plots import pyplot

    plt = pyplot()

    names = [p for p in POLICIES if p != "rotation"]
    saved = [report[p]["saved_value"] for p in names]
    means = np.array([s["mean"] for s in saved])
    errors = np.array(
        [
            [m - s["ci_low"] for m, s in zip(means, saved, strict=True)],
            [s["ci_high"] - m for m, s in zip(means, saved, strict=True)],
        ]
    )
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(names, means, yerr=errors, capsize=4, color=["#bbb", "#bbb", "#bbb", "#2a7", "#555"])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("order value kept beyond rotation (yuan)")
    ax.set_title(f"{report['weeks']} weeks from {report['snapshot']}, {report['seeds']} seeds")
    fig.tight_layout()
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return Path(path)


def log_policy_run(report: dict[str, Any], chart: Path, settings) -> str:
    """Log the comparison to MLflow (experiment ``policy-evaluation``)."""
    import mlflow

    from fieldcoach.registry import configure_mlflow
    from training.promotion import experiment_id

    configure_mlflow(settings)
    with mlflow.start_run(
        experiment_id=experiment_id("policy-evaluation", settings),
        run_name=f"policies from {report['snapshot']}",
    ) as run:
        mlflow.log_params(
            {"weeks": report["weeks"], "seeds": report["seeds"], "snapshot": report["snapshot"]}
        )
        for policy in POLICIES:
            for key in ("retained_value", "retained_retailers", "saved_value"):
                mlflow.log_metric(f"{policy}_{key}", report[policy][key]["mean"])
        for key in ("planner_vs_oracle_saved", "planner_vs_risk_saved"):
            if np.isfinite(report[key]):
                mlflow.log_metric(key, report[key])
        mlflow.log_dict(report, "policy_report.json")
        mlflow.log_artifact(str(chart), "plots")
        return run.info.run_id

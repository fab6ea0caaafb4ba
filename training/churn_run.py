"""One churn training run end to end: data in, MLflow run and registry decision out.

``fieldcoach train churn`` is a thin wrapper around ``run_churn_training``.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd

from features.retailer import model_input
from features.validation_report import Dataset
from fieldcoach.registry import CHURN_MODEL
from fieldcoach.settings import Settings
from training import plots
from training.churn import (
    BTYD_FEATURES,
    RECENCY_FEATURE,
    ChurnConfig,
    TrainedChurn,
    plan_snapshots,
    train_churn,
)
from training.churn_snapshots import MODELS
from training.metrics import score_metrics
from training.promotion import (
    PromotionRule,
    announce_decision,
    decide_promotion,
    register_and_gate,
)
from training.runs import log_pyfunc, model_run

# Given the holdout cutoff and horizon: reference churn probabilities to report next to the
# models (the simulator's truth, from evaluation.churn_oracle.oracle_for), or None and why.
ReferenceScores = Callable[[pd.Timestamp, int], tuple[pd.Series | None, str | None]]
# What the logged churn and visit-effect models import at inference.
BOOSTER_REQUIREMENTS = (
    "mlflow",
    "lightgbm",
    "pandas",
    "numpy",
    "pandera",
    "pyarrow",
    "scikit-learn",
)
# Brier, a proper score over every retailer: with a few dozen churners in a small
# company's holdout, ROC-AUC differences between good rankings are noise.
CHURN_RULE = PromotionRule(metric="brier", lower_is_better=True)
PYFUNC_CODE = Path(__file__).with_name("churn_pyfunc.py")
HEADLINE = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "ece",
    "precision_top10",
    "recall_top10",
    "precision_top_k",
    "recall_top_k",
)


def run_churn_training(
    dataset: Dataset,
    config: ChurnConfig,
    settings: Settings,
    cutoff: pd.Timestamp | None = None,
    rule: PromotionRule | None = None,
    log=print,
    oracle: ReferenceScores | None = None,
) -> dict[str, Any]:
    """Train, evaluate, log to MLflow, register as challenger and apply the promotion rule.

    ``dataset`` is the company's validated tables (``features.validate.load_dataset``); the
    run is tagged with its folder and fingerprint when it was read from one. ``oracle``, when
    given, scores the holdout as a ceiling (reported as ``oracle``); it only applies to the
    hard label, whose probability it is.
    """
    rule = rule or CHURN_RULE
    reference, oracle_note = None, None
    if oracle is not None and config.label == "hard":
        from features.retailer import prepare_history

        plan = plan_snapshots(prepare_history(dataset.tables), config, cutoff)
        reference, oracle_note = oracle(plan.cutoff, config.horizon_weeks)
    trained = train_churn(dataset.tables, config, cutoff, reference)
    report = trained.report
    if oracle_note:
        report["oracle_unavailable"] = oracle_note
    fingerprint = dataset.fingerprint()
    if fingerprint is not None:
        report["data_fingerprint"] = fingerprint
    report["capabilities_off"] = dataset.report.capabilities_off

    run_name = f"churn cutoff {report['cutoff']}"
    with model_run(settings, CHURN_MODEL, run_name, report, dataset.folder) as (client, run):
        _log_run(trained, report)
        kind, why = choose_served_kind(report, rule)
        report["served_model"] = {"kind": kind, "why": why}
        mlflow.set_tag("model_kind", kind)
        info = _log_model(trained, kind)

        def score_champion(uri: str) -> dict[str, float]:
            champion = mlflow.pyfunc.load_model(uri)
            inputs = champion.metadata.get_input_schema().input_names()
            p = champion.predict(model_input(trained.holdout, inputs))["churn_probability"]
            return score_metrics(trained.y_holdout, p.to_numpy(), report["top_k"])

        report["registry"] = decision = register_and_gate(
            client,
            CHURN_MODEL,
            info.model_uri,
            run.info.run_id,
            rule,
            report[kind],
            # A baseline registered has been chosen as the best of the baselines already.
            report.get(rule.must_beat) if kind == "lightgbm" else None,
            score_champion,
        )
        client.set_model_version_tag(CHURN_MODEL, decision["version"], "model_kind", kind)
        decision["kind"] = kind
    log(f"registered model: {kind} ({why})")
    announce_decision(decision, log)
    return report


def served_baselines(report: dict[str, Any], rule: PromotionRule) -> list[str]:
    """What LightGBM must beat to serve: the rule's baseline, and on orders-only data also
    BG/NBD, the model such a company could fit without us."""
    names = [rule.must_beat]
    if report.get("orders_only") and "bgnbd" in report:
        names.append("bgnbd")
    return [n for n in names if n in report]


def choose_served_kind(report: dict[str, Any], rule: PromotionRule) -> tuple[str, str]:
    """LightGBM when it passes the rule's absolute checks against every baseline it must
    beat, else the best of those baselines by the rule's metric: on a small company's
    holdout (a dozen churners) a baseline can win on Brier, and then it, not nothing, is
    what should serve."""
    baselines = served_baselines(report, rule)
    if not baselines:
        return "lightgbm", decide_promotion(rule, report["lightgbm"], None, None)[1]
    why = ""
    for name in baselines:
        ok, why = decide_promotion(
            dataclasses.replace(rule, must_beat=name), report["lightgbm"], report[name], None
        )
        if not ok:
            break
    else:
        return "lightgbm", why
    passing = [n for n in baselines if decide_promotion(rule, report[n], None, None)[0]]
    if not passing:
        return "lightgbm", f"{why}; no baseline ({', '.join(baselines)}) passes either"
    sign = 1.0 if rule.lower_is_better else -1.0
    best = min(passing, key=lambda n: sign * report[n][rule.metric])
    return best, (
        f"LightGBM did not pass ({why}); the {best} rule serves, the best {rule.metric} of "
        f"{', '.join(baselines)}"
    )


def _log_run(trained: TrainedChurn, report: dict[str, Any]) -> None:
    config = report["config"]
    mlflow.log_params(
        {
            **{k: v for k, v in config.items() if v is not None},
            "cutoff": report["cutoff"],
            "calibration_snapshot": report["calibration_snapshot"],
            "training_snapshots": len(report["training_snapshots"]),
            "rows_train": report["rows"]["train"],
            "rows_holdout": report["rows"]["holdout"],
            "top_k": report["top_k"],
            "lgbm_params": json.dumps(report["tuning"].get("chosen", {})),
            "lgbm_rounds": report["tuning"].get("rounds"),
        }
    )
    for name in (*MODELS, "oracle"):
        if name in report:
            mlflow.log_metrics(
                {
                    f"{name}_{m}": report[name][m]
                    for m in HEADLINE
                    if m in report[name] and np.isfinite(report[name][m])
                }
            )
        every = report.get("every_retailer", {}).get(name)
        if every:
            mlflow.log_metrics(
                {
                    f"every_{name}_{m}": every[m]
                    for m in HEADLINE
                    if m in every and np.isfinite(every[m])
                }
            )
    mlflow.log_params({f"bgnbd_{k}": v for k, v in report.get("bgnbd_params", {}).items()})
    mlflow.log_metric("churn_rate_holdout", report["churn_rate"]["holdout"])
    mlflow.log_dict(
        {"features": trained.features, "disabled": report["disabled_features"]}, "features.json"
    )
    predictions = dict(trained.predictions)
    for name, figure in (
        ("calibration", plots.calibration_figure(trained.y_holdout, predictions)),
        ("gains", plots.gains_figure(trained.y_holdout, predictions, report["top_k"])),
        ("importance", plots.importance_figure(trained.importance)),
    ):
        mlflow.log_figure(figure, f"plots/{name}.png")
        plt.close(figure)


def _log_model(trained: TrainedChurn, kind: str = "lightgbm"):
    with tempfile.TemporaryDirectory() as scratch:
        spec_path = Path(scratch) / "spec.json"
        spec: dict[str, Any] = {
            "kind": kind,
            "horizon_weeks": trained.config.horizon_weeks,
            "label": trained.report["label"],
        }
        artifacts = {"spec": str(spec_path)}
        if kind == "bgnbd":
            inputs = list(BTYD_FEATURES)
            spec["bgnbd"] = {
                "params": [float(v) for v in trained.bgnbd.params_],
                "reason_above": trained.report["churn_rate"]["train"],
            }
        elif kind == "recency":
            recency = trained.recency
            inputs = [RECENCY_FEATURE]
            spec["recency"] = {
                "x": [float(v) for v in recency.X_thresholds_],
                "y": [float(v) for v in recency.y_thresholds_],
                "reason_above": trained.report["churn_rate"]["train"],
            }
        else:
            booster_path = Path(scratch) / "booster.txt"
            trained.lightgbm.booster_.save_model(str(booster_path))
            artifacts["booster"] = str(booster_path)
            inputs = trained.features
            spec["categories"] = trained.lightgbm.categories_
            spec["calibration"] = [trained.calibration.slope_, trained.calibration.intercept_]
        spec["features"] = inputs
        spec_path.write_text(json.dumps(spec, ensure_ascii=False))
        example = model_input(trained.holdout.head(5), inputs)
        output = pd.DataFrame(
            {"churn_probability": [0.5] * len(example), "reasons": ["[]"] * len(example)}
        )
        return log_pyfunc(
            PYFUNC_CODE,
            artifacts,
            BOOSTER_REQUIREMENTS,
            example=example,
            output=output,
            metadata={
                "horizon_weeks": trained.config.horizon_weeks,
                "label": trained.config.label,
                "kind": kind,
                "scores_lapsed": trained.config.lapsed,
                "population_weeks": trained.config.population_weeks,
            },
        )

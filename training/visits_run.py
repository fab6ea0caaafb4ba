"""One visit-effect training run end to end: data in, MLflow run and registry decision out.

``fieldcoach train visits`` is a thin wrapper around ``run_visit_effect_training``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow.exceptions import MlflowException

from features.retailer import model_input
from features.validation_report import Dataset
from fieldcoach.registry import VISIT_EFFECT_MODEL
from fieldcoach.settings import Settings
from training import plots
from training.churn_run import BOOSTER_REQUIREMENTS
from training.promotion import PromotionRule, announce_decision, change_serving, register_and_gate
from training.runs import log_pyfunc, model_run
from training.visit_policy import EFFECT_MODEL, check_rankings
from training.visit_rows import PurposeRule, VisitEffectConfig
from training.visits import VisitEffect, fit_visit_effect

PYFUNC_CODE = Path(__file__).with_name("visits_pyfunc.py")
METRIC = "uplift_top20"
GATE_METRIC = "policy_value"
# The gate compares held-out policy values (yuan saved per manager-week, doubly robust):
# the challenger must beat the best simple ranking by MODEL_MARGIN (with the paired interval
# and the overlap-only estimate agreeing, see training.visit_policy) and the champion.
RULE = PromotionRule(metric=GATE_METRIC, max_ece=None, must_beat="best_simple_ranking")
# Registered-model tags the planner reads at plan time (planning never imports training).
RANKING_TAGS = ("planner_ranking", "planner_ranking_reason", "planner_yuan_per_score")


def run_visit_effect_training(
    dataset: Dataset,
    config: VisitEffectConfig,
    settings: Settings,
    rule: PromotionRule = RULE,
    log=print,
    truth_check: Callable[[VisitEffect], dict[str, Any]] | None = None,
    purposes: PurposeRule | None = None,
) -> dict[str, Any]:
    """Fit, evaluate, log to MLflow, register as challenger and apply the promotion rule.

    ``truth_check``, when given, compares the fitted model with known true effects
    (``evaluation.visits.truth_check_for``); its figures are reported as ``truth`` and never
    reach the model. ``purposes``: the planner's purpose rule, so the effect is that of the
    visit a plan makes (see ``training.visits``; the CLI passes
    ``planning.purpose.choose_purposes``).
    """
    model = fit_visit_effect(dataset.tables, config, purposes)
    report = model.report_
    if truth_check is not None:
        report["truth"] = truth_check(model)
    report["capabilities_off"] = dataset.report.capabilities_off
    return log_and_register(model, dataset, settings, rule, log)


def log_and_register(
    model: VisitEffect,
    dataset: Dataset,
    settings: Settings,
    rule: PromotionRule = RULE,
    log=print,
) -> dict[str, Any]:
    """Log a model fitted on ``dataset`` to MLflow, register it and apply the promotion rule."""
    report = model.report_
    fingerprint = dataset.fingerprint()
    if fingerprint is not None:
        report["data_fingerprint"] = fingerprint
    holdout = model.holdout_
    run_name = f"visit effect holdout {report['holdout_weeks'][0]}"
    with model_run(settings, VISIT_EFFECT_MODEL, run_name, report, dataset.folder) as (
        client,
        run,
    ):
        values = _against_ranking_in_use(model, _ranking_in_use(client))
        challenger = {GATE_METRIC: values["candidates"][EFFECT_MODEL]["estimate"]}
        best = values["candidates"][values["best_simple"]]["estimate"]
        baseline = {GATE_METRIC: best + values["margin"] * abs(best)}
        veto = None if values["chosen"] == EFFECT_MODEL else values["reason"]
        _log_run(model, report)
        info = _log_model(model)
        holdout_input = model_input(holdout, model.features_)

        def score_champion(uri: str) -> dict[str, float]:
            champion = mlflow.pyfunc.load_model(uri)
            effect = champion.predict(holdout_input)["visit_effect"].to_numpy()
            checked = check_rankings(model, effect)
            return {GATE_METRIC: checked["candidates"][EFFECT_MODEL]["estimate"]}

        report["registry"] = decision = register_and_gate(
            client,
            VISIT_EFFECT_MODEL,
            info.model_uri,
            run.info.run_id,
            rule,
            challenger,
            baseline,
            score_champion,
            veto=veto,
        )
        report["planner_ranking"] = _publish_ranking(client, values, decision)
    announce_decision(decision, log)
    return report


def _ranking_in_use(client) -> str | None:
    """The ranking the planner reads now (the registered model's tag), if any."""
    try:
        tags = client.get_registered_model(VISIT_EFFECT_MODEL).tags
    except MlflowException:  # no model registered yet
        return None
    return tags.get("planner_ranking")


def _against_ranking_in_use(model: VisitEffect, incumbent: str | None) -> dict[str, Any]:
    """The self-check, keeping the ranking in use unless the one it chose beats it clearly.

    Retrained on schedule on mostly the same data, the self-check otherwise flips between
    rankings whose held-out values lie within each other's intervals (see
    ``training.visit_policy._keep_incumbent``).
    """
    values = model.ranking_check_
    if incumbent is None or incumbent not in values["candidates"]:
        return values
    if incumbent == values["chosen"]:
        values.update(incumbent=incumbent, kept_incumbent=True)
    else:
        values = model.ranking_check_ = check_rankings(model, incumbent=incumbent)
        model.report_["policy_values"] = values["candidates"]
    model.report_["ranking_check"] = {k: v for k, v in values.items() if k != "candidates"}
    return values


def _publish_ranking(client, values: dict[str, Any], decision: dict[str, Any]) -> dict:
    """Tell the planner which ranking to use: registered-model tags it reads at plan time.

    The effect model is used only when this run's self-check chose it and a champion exists
    (this run's model, or an earlier champion that held its own on this holdout); otherwise
    the best simple ranking of this run's self-check.
    """
    if values["chosen"] == EFFECT_MODEL and not decision["promoted"]:
        champion = decision.get("champion_metrics_on_this_holdout") or {}
        needed = values["candidates"][values["best_simple"]]["estimate"]
        needed += values["margin"] * abs(needed)
        kept = champion.get(GATE_METRIC, -np.inf) >= needed
        ranking = EFFECT_MODEL if kept else values.get("fallback", values["best_simple"])
        reason = (
            values["reason"] + f"; the champion v{decision['champion_before']} stays and also "
            "beats the simple rankings on this holdout"
            if kept
            else f"this run's model was not promoted ({decision['reason']}) and the champion "
            f"does not beat the simple rankings on this holdout; ranking by "
            f"{values['candidates'][ranking]['label']}"
        )
    else:
        ranking, reason = values["chosen"], values["reason"]
    published = {
        "planner_ranking": ranking,
        "planner_ranking_reason": reason,
        "planner_yuan_per_score": repr(values["candidates"][ranking]["yuan_per_score"]),
    }
    for key, value in published.items():
        change_serving(
            VISIT_EFFECT_MODEL,
            f"tag {key}",
            lambda key=key, value=value: client.set_registered_model_tag(
                VISIT_EFFECT_MODEL, key, value
            ),
        )
    version = decision["version"]
    client.set_model_version_tag(VISIT_EFFECT_MODEL, version, "planner_ranking", ranking)
    return published


def _log_run(model: VisitEffect, report: dict[str, Any]) -> None:
    mlflow.log_params(
        {
            **report["config"],
            "training_weeks": len(report["training_weeks"]),
            "holdout_weeks_from": report["holdout_weeks"][0],
            "rows_train": report["rows"]["train_used"],
            "rows_holdout": report["rows"]["holdout"],
        }
    )
    metrics = {f"{METRIC}_{name}": v for name, v in report[METRIC].items()}
    metrics.update({f"ate_{k}": v for k, v in report["average_effect"].items()})
    metrics["propensity_share_clipped"] = report["overlap"]["share_clipped"]
    for name, entry in report["policy_values"].items():
        for key in ("estimate", "ci_low", "ci_high"):
            metrics[f"policy_value_{name}_{key}"] = entry[key]
        metrics[f"policy_value_{name}_overlap_only"] = entry["overlap_only"]["estimate"]
    mlflow.set_tags(
        {
            "planner_ranking_chosen": report["ranking_check"]["chosen"],
            "policy_value_reason": report["ranking_check"]["reason"][:4000],
            "overlap_advice": report["overlap_advice"][:4000],
        }
    )
    metrics["visit_rate_holdout"] = report["visit_rate"]["holdout"]
    if "truth" in report:
        metrics.update(
            {f"truth_spearman_{k}": v for k, v in report["truth"].items() if isinstance(v, float)}
        )
    mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
    mlflow.log_dict(
        {"features": model.features_, "disabled": report["disabled_features"]}, "features.json"
    )
    e_raw, t = model.train_propensity_
    figure = overlap_figure(e_raw, t, model.config.propensity_clip)
    mlflow.log_figure(figure, "plots/propensity_overlap.png")
    plt.close(figure)


def overlap_figure(e: np.ndarray, t: np.ndarray, clip: float) -> Figure:
    """Histogram of cross-fitted propensities for visited and unvisited retailer-weeks."""
    fig, ax = plots.pyplot().subplots(figsize=(6, 4.5))
    bins = np.linspace(0, 1, 41)
    ax.hist(e[t == 0], bins=bins, alpha=0.6, density=True, label="not visited")
    ax.hist(e[t == 1], bins=bins, alpha=0.6, density=True, label="visited")
    for edge in (clip, 1 - clip):
        ax.axvline(edge, color="grey", linestyle="--")
    ax.set_xlabel("propensity: P(visited this week | features), cross-fitted")
    ax.set_ylabel("density")
    ax.set_title(f"Overlap (dashed: clipped at {clip} / {1 - clip})")
    ax.legend()
    fig.tight_layout()
    return fig


def _log_model(model: VisitEffect):
    with tempfile.TemporaryDirectory() as scratch:
        booster_path = Path(scratch) / "booster.txt"
        model.booster_.save_model(str(booster_path))
        spec_path = Path(scratch) / "spec.json"
        spec = {
            "features": model.features_,
            "categories": model.categories_,
            "horizon_weeks": model.config.horizon_weeks,
            "outcome": model.report_["outcome"],
        }
        spec_path.write_text(json.dumps(spec, ensure_ascii=False))
        example = model_input(model.holdout_.head(5), model.features_)
        output = pd.DataFrame(
            {"visit_effect": [0.01] * len(example), "expected_saved_value": [1.0] * len(example)}
        )
        return log_pyfunc(
            PYFUNC_CODE,
            {"booster": str(booster_path), "spec": str(spec_path)},
            BOOSTER_REQUIREMENTS,
            example=example,
            output=output,
            metadata={"horizon_weeks": model.config.horizon_weeks},
        )

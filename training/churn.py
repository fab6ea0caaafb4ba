"""Train and evaluate the retailer churn model against honest baselines on one holdout.

Time is the split: the holdout is the snapshot at the cutoff; the calibration snapshot sits
one horizon earlier (its labels end at the cutoff); the model learns from snapshots whose
labels end before the calibration snapshot. Nothing a snapshot learns from happens after
the date it is evaluated on. Rolling-origin folds over the training snapshots pick
LightGBM's settings.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import average_precision_score

from features.errors import UserInputError
from features.retailer import (
    RetailerHistory,
    feature_columns,
    model_frame,
    prepare_history,
    retailer_snapshot,
)
from training.bgnbd import BGNBD
from training.churn_labels import churn_labels
from training.churn_models import (
    LightGBMChurn,
    PlattCalibration,
    logistic_pipeline,
    out_of_fold,
    retailer_folds,
    subsample,
    tune,
)
from training.churn_snapshots import (
    BTYD_FEATURES,
    CALIBRATION_FOLDS,
    CALIBRATION_SNAPSHOTS,
    RECENCY_FEATURE,
    SEGMENTS,
    ChurnConfig,
    SnapshotPlan,
    plan_snapshots,
)
from training.metrics import score_metrics, segment_metrics


@dataclass
class TrainedChurn:
    """Everything a run produced: models, data, metrics and the report."""

    config: ChurnConfig
    plan: SnapshotPlan
    features: list[str]
    lightgbm: LightGBMChurn
    calibration: PlattCalibration
    holdout: pd.DataFrame
    y_holdout: np.ndarray
    predictions: dict[str, np.ndarray]
    report: dict[str, Any]
    importance: pd.Series
    history: RetailerHistory = field(repr=False)
    recency: IsotonicRegression | None = field(default=None, repr=False)
    bgnbd: BGNBD | None = field(default=None, repr=False)


def train_churn(
    tables: dict[str, pd.DataFrame],
    config: ChurnConfig,
    cutoff: pd.Timestamp | None = None,
    oracle: pd.Series | None = None,
) -> TrainedChurn:
    """Fit the candidate and the baselines, calibrate, and evaluate all on the holdout.

    Args:
        tables: validated contract tables (only ``orders`` required).
        oracle: true churn probability per retailer_id at the cutoff, when known.
    """
    clock = _Clock()
    history = prepare_history(tables)
    plan = plan_snapshots(history, config, cutoff)
    weeks = config.population_weeks
    # Sample each training snapshot as it is built (every churner, a share of the rest),
    # so a province's sixteen snapshots never sit in memory whole.
    per_snapshot = max(1, config.max_train_rows // max(1, len(plan.fit_dates)))
    parts, train_rows, train_churned = [], 0, 0
    for k, date in enumerate(plan.fit_dates):
        snapshot = retailer_snapshot(history, date, weeks, lapsed=config.lapsed)
        y = churn_labels(history, snapshot.frame, config.label_spec).to_numpy()
        train_rows, train_churned = train_rows + len(y), train_churned + int(y.sum())
        keep, w = subsample(y, per_snapshot, config.seed + k)
        parts.append(snapshot.frame.iloc[keep].assign(_label=y[keep], _weight=w))
    fit = pd.concat(parts, ignore_index=True)
    everyone_snapshot = retailer_snapshot(history, plan.cutoff, weeks, lapsed=config.lapsed)
    features = feature_columns(fit.drop(columns=["_label", "_weight"]))
    x_fit, y_fit = model_frame(fit, features), fit["_label"].to_numpy()
    weights = fit["_weight"].to_numpy()
    fit_dates = fit["as_of"]
    if y_fit.sum() < 10:
        raise UserInputError(
            f"only {int(y_fit.sum())} churned retailers in the training snapshots; "
            "need more history or a longer horizon"
        )
    clock.lap("features_and_labels")
    tune_rows, tune_weights = subsample(y_fit, config.max_tune_rows, config.seed + 1)
    x_tune, y_tune = x_fit.iloc[tune_rows], y_fit[tune_rows]
    w_tune = weights[tune_rows] * tune_weights
    folds = retailer_folds(fit["retailer_id"].iloc[tune_rows], CALIBRATION_FOLDS, config.seed)
    dates_tune = fit_dates.iloc[tune_rows].reset_index(drop=True)
    params, rounds, tuning = tune(x_tune, y_tune, w_tune, dates_tune, folds, plan, config)
    clock.lap("tuning")
    lightgbm = LightGBMChurn(params, rounds, config.seed).fit(x_fit, y_fit, weights)
    clock.lap("lightgbm")

    # Calibration out of fold: each retailer's newest training snapshots scored by a model
    # that never saw that retailer, so no label window is set aside for it.
    newest = dates_tune.isin(plan.fit_dates[-CALIBRATION_SNAPSHOTS:]).to_numpy()
    raw_oof = out_of_fold(x_tune, y_tune, w_tune, folds, params, rounds, config.seed)
    scored = newest & np.isfinite(raw_oof)
    calibration = PlattCalibration().fit(raw_oof[scored], y_tune[scored], w_tune[scored])
    clock.lap("out_of_fold_calibration")

    everyone = everyone_snapshot.frame
    x_all = model_frame(everyone, features)
    y_all = churn_labels(history, everyone, config.label_spec).to_numpy()
    lapsed = (
        everyone["lapsed"].to_numpy(bool) if "lapsed" in everyone else np.zeros(len(y_all), bool)
    )
    # The baseline learns from the tuning sample: at province scale lbfgs on every row
    # would cost more than the candidate it is compared with.
    logistic = logistic_pipeline(features).fit(
        x_tune, y_tune, logisticregression__sample_weight=w_tune
    )
    clock.lap("logistic")
    logistic_cal = PlattCalibration().fit(
        logistic.predict_proba(x_tune[newest])[:, 1], y_tune[newest], w_tune[newest]
    )
    recency_feature = RECENCY_FEATURE
    recency = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4)
    recency.fit(x_fit[recency_feature].fillna(0), y_fit, sample_weight=weights)
    clock.lap("recency")
    # The classic model on the same history: every retailer's orders before the cutoff.
    bgnbd = BGNBD().fit(*(everyone[c].to_numpy(float) for c in BTYD_FEATURES))
    clock.lap("bgnbd")
    scores_all = {
        "lightgbm": calibration.transform(lightgbm.predict_raw(x_all)),
        "logistic": logistic_cal.transform(logistic.predict_proba(x_all)[:, 1]),
        "recency": recency.predict(x_all[recency_feature].fillna(0)),
        "bgnbd": bgnbd.no_order_probability(
            *(everyone[c].to_numpy(float) for c in BTYD_FEATURES), config.horizon_weeks
        ),
    }
    # The population at risk as before (ordered within the window): the headline figures
    # stay comparable across versions; "every_retailer" adds the lapsed.
    active = ~lapsed
    holdout = everyone.loc[active].reset_index(drop=True)
    holdout = holdout.drop(columns=["lapsed", "weeks_since_last_order"], errors="ignore")
    y_hold = y_all[active]
    predictions = {name: p[active] for name, p in scores_all.items()}
    top_k, top_k_rule = _top_k(holdout, config)
    excluded = dict(everyone_snapshot.excluded)
    excluded[f"no order in the {weeks} weeks before (lapsed; in every_retailer)"] = int(
        lapsed.sum()
    )
    report: dict[str, Any] = {
        "cutoff": str(plan.cutoff.date()),
        "horizon_weeks": config.horizon_weeks,
        "label": {
            "kind": config.label,
            "soft_threshold": config.soft_threshold,
            "definition": _label_definition(config),
        },
        "data_span": [str(d.date()) for d in plan.data_span],
        "calibration_snapshot": str(plan.calibration.date()),
        "calibration": {
            "method": (
                f"Platt on out-of-fold scores ({CALIBRATION_FOLDS} folds of retailers) of the "
                f"newest {CALIBRATION_SNAPSHOTS} training snapshots"
            ),
            "snapshots": [str(d.date()) for d in plan.fit_dates[-CALIBRATION_SNAPSHOTS:]],
            "rows": int(scored.sum()),
        },
        "training_snapshots": [str(d.date()) for d in plan.fit_dates],
        "snapshot_plan": {
            "history_weeks_before_first": plan.min_history_weeks,
            "every_weeks": plan.step_weeks,
        },
        "rows": {
            "train": train_rows,
            "train_used": len(fit),
            "calibration": int(scored.sum()),
            "holdout": len(holdout),
            "every_retailer": len(everyone),
        },
        "churn_rate": {
            "train": train_churned / max(train_rows, 1),
            "holdout": float(y_hold.mean()),
            "every_retailer": float(y_all.mean()),
        },
        "population": {
            "definition": (
                f"retailers with at least one order in the {config.population_weeks} weeks "
                "before the snapshot, licensed before it and licence not expired"
            ),
            "every_retailer_definition": (
                "every retailer with an order before the snapshot, licensed before it and "
                "licence not expired; lapsed ones score their chance of not coming back"
            ),
            "holdout_rows": len(holdout),
            "lapsed_rows": int(lapsed.sum()),
            "left_out_at_cutoff": excluded,
        },
        "orders_only": set(tables) == {"orders"},
        "bgnbd_params": {**bgnbd.describe(), "customers": bgnbd.customers_},
        "top_k": top_k,
        "top_k_rule": top_k_rule,
        "features": features,
        "disabled_features": history.disabled,
        "tuning": tuning,
        "timings_s": clock.laps,
        "config": asdict(config),
    }
    for name, p in predictions.items():
        report[name] = {
            **score_metrics(y_hold, p, top_k),
            "segments": segment_metrics(holdout, y_hold, p, SEGMENTS),
        }
    # PR-AUC of staying active too: on every retailer the lapsed make churn the easy class.
    every = {
        name: {
            **score_metrics(y_all, p, top_k),
            "pr_auc_active": float(average_precision_score(1 - y_all, 1 - p)),
        }
        for name, p in scores_all.items()
    }
    if oracle is not None:
        truth = oracle.reindex(holdout["retailer_id"]).to_numpy()
        known = ~np.isnan(truth)
        report["oracle"] = {
            **score_metrics(y_hold[known], truth[known], top_k),
            "rows": int(known.sum()),
            "segments": segment_metrics(holdout[known], y_hold[known], truth[known], SEGMENTS),
        }
        report["lightgbm_vs_oracle_roc_auc"] = (
            report["lightgbm"]["roc_auc"] / report["oracle"]["roc_auc"]
        )
        truth_all = oracle.reindex(everyone["retailer_id"]).to_numpy()
        known_all = ~np.isnan(truth_all)
        every["oracle"] = {
            **score_metrics(y_all[known_all], truth_all[known_all], top_k),
            "rows": int(known_all.sum()),
        }
    report["every_retailer"] = every
    importance = pd.Series(
        lightgbm.booster_.feature_importance("gain"), index=features
    ).sort_values(ascending=False)
    return TrainedChurn(
        config,
        plan,
        features,
        lightgbm,
        calibration,
        holdout,
        y_hold,
        predictions,
        report,
        importance,
        history,
        recency,
        bgnbd,
    )


class _Clock:
    """Seconds spent per stage, for the report."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 2)
        self._last = now


def _label_definition(config: ChurnConfig) -> str:
    if config.label == "hard":
        return f"no order in the {config.horizon_weeks} weeks from the snapshot date"
    return (
        f"order value in the {config.horizon_weeks} weeks from the snapshot below "
        f"{config.soft_threshold:.0%} of the retailer's mean weekly value over the 26 weeks "
        "before it"
    )


def _top_k(holdout: pd.DataFrame, config: ChurnConfig) -> tuple[int, str]:
    if config.top_k:
        return config.top_k, "given with --top-k"
    if "manager_weekly_capacity" in holdout and "manager_id" in holdout:
        capacity = holdout.drop_duplicates("manager_id")["manager_weekly_capacity"].sum()
        if capacity > 0:
            k = max(1, round(float(config.follow_up_share * capacity)))
            return k, (
                f"{config.follow_up_share:.0%} of the managers' weekly visit capacity "
                f"({int(capacity)} visits)"
            )
    k = max(1, int(np.ceil(0.02 * len(holdout))))
    return k, "2% of the population at risk (no manager capacity in the data)"

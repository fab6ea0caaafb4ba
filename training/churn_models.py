"""The churn models and their tuning: LightGBM with Platt calibration, the logistic baseline."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from features.retailer import (
    CATEGORICAL,
)
from training.boosters import lightgbm_params
from training.churn_snapshots import CALIBRATION_FOLDS, LGBM_GRID, ChurnConfig, SnapshotPlan


# ---------------------------------------------------------------------- models
class PlattCalibration:
    """Maps raw probabilities through a logistic fit on their log-odds (keeps the ranking)."""

    def fit(
        self, raw: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
    ) -> PlattCalibration:
        z = _logit(raw).reshape(-1, 1)
        lr = LogisticRegression(C=1e4, max_iter=1000).fit(z, y, sample_weight=weights)
        self.slope_, self.intercept_ = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(self.slope_ * _logit(raw) + self.intercept_)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


class LightGBMChurn:
    def __init__(self, params: dict[str, Any], n_estimators: int, seed: int = 0):
        self.params = params
        self.n_estimators = n_estimators
        self.seed = seed

    def _lgb_params(self) -> dict[str, Any]:
        return lightgbm_params("binary", self.seed, **self.params)

    def fit(self, x: pd.DataFrame, y: np.ndarray, w: np.ndarray | None = None) -> LightGBMChurn:
        data = lgb.Dataset(x, y, weight=w, free_raw_data=False)
        self.booster_ = lgb.train(self._lgb_params(), data, num_boost_round=self.n_estimators)
        self.categories_ = {
            c: list(x[c].cat.categories.astype(str))
            for c in x.columns
            if isinstance(x[c].dtype, pd.CategoricalDtype)
        }
        return self

    def best_rounds(self, x, y, w, x_valid, y_valid, max_rounds: int = 600) -> tuple[int, float]:
        train = lgb.Dataset(x, y, weight=w)
        valid = lgb.Dataset(x_valid, y_valid, reference=train)
        booster = lgb.train(
            {**self._lgb_params(), "metric": "binary_logloss"},
            train,
            num_boost_round=max_rounds,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(50, verbose=False)],
        )
        return booster.best_iteration, booster.best_score["valid_0"]["binary_logloss"]

    def predict_raw(self, x: pd.DataFrame) -> np.ndarray:
        return self.booster_.predict(x)


def logistic_pipeline(features: list[str]) -> Pipeline:
    numeric = [f for f in features if f not in CATEGORICAL]
    categorical = [f for f in features if f in CATEGORICAL]
    signed_log = FunctionTransformer(lambda v: np.sign(v) * np.log1p(np.abs(v)))
    columns = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    signed_log,
                    StandardScaler(),
                ),
                numeric,
            ),
            (
                "categorical",
                make_pipeline(
                    FunctionTransformer(
                        lambda v: v.astype("object").fillna("unknown").astype(str)
                    ),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
        ]
    )
    return make_pipeline(columns, LogisticRegression(C=0.5, max_iter=2000))


def subsample(y: np.ndarray, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows to keep (all churners, a share of the rest) and weights that undo the sampling."""
    if len(y) <= limit:
        return np.arange(len(y)), np.ones(len(y))
    rng = np.random.default_rng(seed)
    negatives = np.flatnonzero(y == 0)
    positives = np.flatnonzero(y == 1)
    rate = max(1e-3, (limit - len(positives)) / len(negatives))
    kept = negatives[rng.random(len(negatives)) < rate]
    rows = np.sort(np.concatenate([positives, kept]))
    weights = np.where(y[rows] == 1, 1.0, 1.0 / rate)
    return rows, weights


def retailer_folds(ids: pd.Series, k: int, seed: int = 0) -> np.ndarray:
    """A fold per retailer (all its snapshots together), stable across runs."""
    hashed = pd.util.hash_pandas_object(ids.astype(str), index=False, hash_key="fieldcoach-folds")
    return ((hashed.to_numpy() + np.uint64(seed)) % np.uint64(k)).astype(np.int64)


def tune(x, y, w, dates, folds, plan: SnapshotPlan, config: ChurnConfig) -> tuple[dict, int, dict]:
    """Rolling origin when the span allows (fit on snapshots whose labels end before each of
    the last two dates), else folds of retailers; picks settings and boosting rounds."""
    horizon = pd.Timedelta(weeks=config.horizon_weeks)
    origins = [o for o in plan.fit_dates[-2:] if (dates + horizon <= o).any()]
    if origins:
        splits = [((dates + horizon <= o).to_numpy(), (dates == o).to_numpy()) for o in origins]
        method = {"method": "rolling origin", "origins": [str(o.date()) for o in origins]}
    else:
        splits = [(folds != k, folds == k) for k in range(CALIBRATION_FOLDS)]
        method = {"method": f"{CALIBRATION_FOLDS} folds of retailers (span too short to roll)"}
    results = []
    for params in LGBM_GRID if config.tune else LGBM_GRID[:1]:
        rounds, losses = [], []
        for train, valid in splits:
            if train.sum() == 0 or y[valid].sum() == 0 or y[train].sum() == 0:
                continue
            model = LightGBMChurn(params, 0, config.seed)
            best, loss = model.best_rounds(x[train], y[train], w[train], x[valid], y[valid])
            rounds.append(best)
            losses.append(loss)
        if losses:
            results.append((float(np.mean(losses)), params, int(np.mean(rounds))))
    if not results:
        return dict(LGBM_GRID[0]), 200, {"folds": 0, **method}
    loss, params, rounds = min(results, key=lambda r: r[0])
    detail = {
        **method,
        "grid": [{"params": p, "log_loss": round(v, 6), "rounds": n} for v, p, n in results],
        "chosen": params,
        "rounds": max(20, int(rounds * 1.1)),
    }
    return params, detail["rounds"], detail


def out_of_fold(x, y, w, folds, params, rounds, seed) -> np.ndarray:
    """LightGBM's raw scores on each fold of retailers from a model fitted on the others."""
    raw = np.full(len(y), np.nan)
    for k in range(CALIBRATION_FOLDS):
        held = folds == k
        if held.all() or not held.any():
            continue
        model = LightGBMChurn(params, rounds, seed).fit(x[~held], y[~held], w[~held])
        raw[held] = model.predict_raw(x[held])
    return raw

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

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from features.calendar import to_days
from features.errors import UserInputError
from features.retailer import (
    CATEGORICAL,
    RetailerHistory,
    feature_columns,
    model_frame,
    prepare_history,
    retailer_snapshot,
)
from training.bgnbd import BGNBD
from training.boosters import lightgbm_params
from training.labels import LabelSpec, churn_labels
from training.metrics import score_metrics, segment_metrics

SEGMENTS = ("format", "area_type")
MODELS = ("lightgbm", "logistic", "recency", "bgnbd")
LGBM_GRID = (
    {"num_leaves": 15, "min_child_samples": 100},
    {"num_leaves": 31, "min_child_samples": 200},
)


LABELS = ("hard", "soft")
RECENCY_FEATURE = "days_since_last_order"
BTYD_FEATURES = ("btyd_frequency", "btyd_recency_weeks", "btyd_age_weeks")
MIN_HISTORY_FLOOR_WEEKS = 13  # the shortest history before a training snapshot
MIN_TRAINING_SNAPSHOTS = 4  # snapshots come closer together until the span holds this many
CALIBRATION_FOLDS = 3
CALIBRATION_SNAPSHOTS = 3  # out-of-fold scores of the newest snapshots fit the calibration


@dataclass(frozen=True)
class ChurnConfig:
    """How a churn model is trained; every field is logged with the run."""

    horizon_weeks: int = 8
    label: str = "hard"
    soft_threshold: float = 0.5
    snapshot_every_weeks: int = 4
    min_history_weeks: int = 26
    active_weeks: int | None = None  # default: the horizon (not churned by the label's rule)
    follow_up_share: float = 0.2  # share of a week's visits managers spend on risk follow-ups
    top_k: int | None = None
    max_train_rows: int = 1_500_000
    max_tune_rows: int = 400_000  # rolling-origin folds fit on at most this many rows
    tune: bool = True
    lapsed: bool = True  # score (and learn from) retailers with no order in the window too
    seed: int = 0

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise UserInputError(f"--label must be hard or soft, got {self.label!r}")
        if self.horizon_weeks < 1:
            raise UserInputError("--horizon-weeks must be at least 1")
        if not 0 < self.soft_threshold < 1:
            raise UserInputError(
                f"--soft-threshold must be between 0 and 1, got {self.soft_threshold}"
            )

    @property
    def population_weeks(self) -> int:
        return self.active_weeks or self.horizon_weeks

    @property
    def label_spec(self) -> LabelSpec:
        return LabelSpec(self.horizon_weeks, self.label, self.soft_threshold)


@dataclass
class SnapshotPlan:
    cutoff: pd.Timestamp
    calibration: pd.Timestamp  # the latest training snapshot (calibration is out-of-fold)
    fit_dates: list[pd.Timestamp]
    data_span: tuple[pd.Timestamp, pd.Timestamp]
    min_history_weeks: int = 26
    step_weeks: int = 4


def _latest_cutoff(last: int, horizon_weeks: int) -> tuple[int, int]:
    """The last day whose label window fits in the data, and the Monday on or before it."""
    latest = last + 1 - 7 * horizon_weeks
    return latest, latest - (latest + 3) % 7


def _fits(first: int, cutoff: int, horizon_weeks: int) -> bool:
    """One training snapshot with a full label window before ``cutoff``, after the floor."""
    return cutoff - 7 * horizon_weeks >= first + 7 * MIN_HISTORY_FLOOR_WEEKS


def plan_snapshots(
    history: RetailerHistory, config: ChurnConfig, cutoff: pd.Timestamp | None = None
) -> SnapshotPlan:
    """Choose the holdout and training snapshot dates, or say why it can't.

    The holdout needs one label window after it and the training snapshots one each before
    it; nothing else. Calibration is fitted out of fold on the training snapshots, so no
    window is spent on it. When the span is short the snapshots come closer together
    (overlapping label windows are fine: they are different retailers' weeks at different
    ages) and the history before the first one shrinks towards 13 weeks, which the features
    tolerate (their windows are scaled to the weeks each retailer has been known).
    """
    first, last = history.first_day, history.last_day
    span = (pd.Timestamp(first, unit="D"), pd.Timestamp(last, unit="D"))
    shown = f"{span[0].date()} .. {span[1].date()}"
    horizon_days = 7 * config.horizon_weeks
    latest, latest_monday = _latest_cutoff(last, config.horizon_weeks)
    if not _fits(first, latest if cutoff is not None else latest_monday, config.horizon_weeks):
        weeks = (last - first + 1) // 7
        raise UserInputError(
            f"--horizon-weeks {config.horizon_weeks} is longer than the data allows: "
            f"{weeks} weeks of orders ({shown}) must hold {MIN_HISTORY_FLOOR_WEEKS} weeks of "
            f"history plus two {config.horizon_weeks}-week label windows; "
            f"{_what_would_work(first, last)}"
        )
    if cutoff is None:
        # The latest Monday: the week's state is then fully known, which keeps the
        # simulator oracle exact; any date may still be given with --cutoff.
        t = latest_monday
    else:
        t = to_days(cutoff)
        if not first <= t <= last:
            raise UserInputError(f"--cutoff {cutoff.date()} is outside the data ({shown})")
        if t > latest:
            raise UserInputError(
                f"--cutoff {cutoff.date()}: its {config.horizon_weeks}-week label window ends "
                f"after the data; the latest possible cutoff is "
                f"{pd.Timestamp(latest, unit='D').date()}"
            )
        if not _fits(first, t, config.horizon_weeks):
            earliest_cutoff = first + 7 * MIN_HISTORY_FLOOR_WEEKS + horizon_days
            raise UserInputError(
                f"--cutoff {cutoff.date()} leaves too little history before it; the earliest "
                f"possible cutoff is {pd.Timestamp(earliest_cutoff, unit='D').date()}"
            )
    last_fit = t - horizon_days
    # Short spans give up history before the first snapshot, keeping a few weekly ones.
    room = (last_fit - first) // 7 - (MIN_TRAINING_SNAPSHOTS - 1)
    history_weeks = max(min(config.min_history_weeks, room), MIN_HISTORY_FLOOR_WEEKS)
    earliest = first + 7 * history_weeks
    step = config.snapshot_every_weeks
    while step > 1 and (last_fit - earliest) // (7 * step) + 1 < MIN_TRAINING_SNAPSHOTS:
        step -= 1
    fit = []
    day = last_fit
    while day >= earliest:
        fit.append(pd.Timestamp(day, unit="D"))
        day -= 7 * step
    return SnapshotPlan(
        cutoff=pd.Timestamp(t, unit="D"),
        calibration=pd.Timestamp(last_fit, unit="D"),
        fit_dates=sorted(fit),
        data_span=span,
        min_history_weeks=history_weeks,
        step_weeks=step,
    )


def _what_would_work(first: int, last: int) -> str:
    """The longest horizon this span holds and the cutoffs that would work with it."""
    for weeks in range(52, 0, -1):
        latest, latest_monday = _latest_cutoff(last, weeks)
        # The default cutoff (a Monday) must fit too, so the horizon works without --cutoff.
        if _fits(first, latest_monday, weeks):
            earliest = first + 7 * (MIN_HISTORY_FLOOR_WEEKS + weeks)
            return (
                f"the longest horizon it holds is {weeks} weeks "
                f"(--horizon-weeks {weeks} with --cutoff "
                f"{pd.Timestamp(earliest, unit='D').date()} .. "
                f"{pd.Timestamp(latest, unit='D').date()})"
            )
    return f"it holds no horizon: give at least {MIN_HISTORY_FLOOR_WEEKS + 2} weeks of orders"


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


def _subsample(y: np.ndarray, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
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


def _tune(
    x, y, w, dates, folds, plan: SnapshotPlan, config: ChurnConfig
) -> tuple[dict, int, dict]:
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


def _out_of_fold(x, y, w, folds, params, rounds, seed) -> np.ndarray:
    """LightGBM's raw scores on each fold of retailers from a model fitted on the others."""
    raw = np.full(len(y), np.nan)
    for k in range(CALIBRATION_FOLDS):
        held = folds == k
        if held.all() or not held.any():
            continue
        model = LightGBMChurn(params, rounds, seed).fit(x[~held], y[~held], w[~held])
        raw[held] = model.predict_raw(x[held])
    return raw


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
        keep, w = _subsample(y, per_snapshot, config.seed + k)
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
    tune_rows, tune_weights = _subsample(y_fit, config.max_tune_rows, config.seed + 1)
    x_tune, y_tune = x_fit.iloc[tune_rows], y_fit[tune_rows]
    w_tune = weights[tune_rows] * tune_weights
    folds = retailer_folds(fit["retailer_id"].iloc[tune_rows], CALIBRATION_FOLDS, config.seed)
    dates_tune = fit_dates.iloc[tune_rows].reset_index(drop=True)
    params, rounds, tuning = _tune(x_tune, y_tune, w_tune, dates_tune, folds, plan, config)
    clock.lap("tuning")
    lightgbm = LightGBMChurn(params, rounds, config.seed).fit(x_fit, y_fit, weights)
    clock.lap("lightgbm")

    # Calibration out of fold: each retailer's newest training snapshots scored by a model
    # that never saw that retailer, so no label window is set aside for it.
    newest = dates_tune.isin(plan.fit_dates[-CALIBRATION_SNAPSHOTS:]).to_numpy()
    raw_oof = _out_of_fold(x_tune, y_tune, w_tune, folds, params, rounds, config.seed)
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

"""How good a churn score is: ranking, calibration, and what managers can act on."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)

ECE_BINS = 15


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |observed rate - mean prediction| over equal-count bins, weighted by size.

    Equal-count bins, because churn is rare and equal-width bins would put nearly every
    retailer in the first one.
    """
    order = np.argsort(p, kind="stable")
    groups = np.array_split(order, bins)
    total = len(p)
    return float(sum(len(g) / total * abs(y[g].mean() - p[g].mean()) for g in groups if len(g)))


def top_share(y: np.ndarray, p: np.ndarray, k: int) -> tuple[float, float]:
    """Precision and recall among the ``k`` highest scores."""
    k = int(min(max(k, 1), len(p)))
    top = np.argsort(-p, kind="stable")[:k]
    hits = y[top].sum()
    positives = y.sum()
    return float(hits / k), float(hits / positives) if positives else float("nan")


def score_metrics(y: np.ndarray, p: np.ndarray, top_k: int | None = None) -> dict[str, float]:
    """The report's metrics for one model on one holdout."""
    y = np.asarray(y, dtype=np.int64)
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    both = 0 < y.sum() < len(y)
    metrics = {
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
        "mean_prediction": float(p.mean()),
        "churn_rate": float(y.mean()),
    }
    metrics["precision_top10"], metrics["recall_top10"] = top_share(
        y, p, int(np.ceil(0.1 * len(p)))
    )
    if top_k is not None:
        metrics["precision_top_k"], metrics["recall_top_k"] = top_share(y, p, top_k)
    return metrics


def segment_metrics(
    frame: pd.DataFrame, y: np.ndarray, p: np.ndarray, columns: tuple[str, ...]
) -> dict[str, dict[str, dict[str, float]]]:
    """Metrics per value of each segment column (those present in ``frame``)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for column in columns:
        if column not in frame:
            continue
        values = frame[column].astype("object").fillna("unknown").to_numpy()
        out[column] = {
            str(value): {"rows": int(mask.sum()), **score_metrics(y[mask], p[mask])}
            for value in pd.unique(values)
            if (mask := values == value).sum() >= 20
        }
    return out

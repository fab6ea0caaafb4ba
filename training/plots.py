"""Evaluation charts logged with every run: calibration, gains, feature importance."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def pyplot():
    """matplotlib's pyplot, drawing off-screen (Agg) unless the process chose a backend.

    Charts go to files and MLflow, so a training run must open no window and need no
    display; a notebook that said ``%matplotlib inline`` keeps its backend and shows them.
    Chosen here, when a chart is drawn, rather than when the module is imported.
    """
    if matplotlib.rcParams._get_backend_or_none() is None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def calibration_figure(
    y: np.ndarray, predictions: dict[str, np.ndarray], bins: int = 10
) -> Figure:
    fig, ax = pyplot().subplots(figsize=(5.5, 5))
    top = 0.0
    for name, p in predictions.items():
        order = np.argsort(p)
        groups = [g for g in np.array_split(order, bins) if len(g)]
        mean_p = [p[g].mean() for g in groups]
        rate = [y[g].mean() for g in groups]
        top = max(top, max(mean_p), max(rate))
        ax.plot(mean_p, rate, marker="o", label=name)
    ax.plot([0, top], [0, top], color="grey", linestyle="--", label="perfect")
    ax.set_xlabel("mean predicted churn probability (equal-count bins)")
    ax.set_ylabel("observed churn rate")
    ax.set_title("Calibration on the holdout")
    ax.legend()
    fig.tight_layout()
    return fig


def gains_figure(y: np.ndarray, predictions: dict[str, np.ndarray], top_k: int | None) -> Figure:
    fig, ax = pyplot().subplots(figsize=(6, 5))
    n, positives = len(y), max(int(y.sum()), 1)
    share = np.arange(1, n + 1) / n
    for name, p in predictions.items():
        captured = np.cumsum(y[np.argsort(-p, kind="stable")]) / positives
        ax.plot(share, captured, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="random")
    if top_k:
        ax.axvline(top_k / n, color="black", linewidth=0.8, label=f"top K = {top_k}")
    ax.set_xscale("log")
    ax.set_xlabel("share of retailers contacted, riskiest first (log scale)")
    ax.set_ylabel("share of churners reached")
    ax.set_title("Cumulative gains on the holdout")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def importance_figure(importance: pd.Series, top: int = 20) -> Figure:
    head = importance.head(top)[::-1]
    fig, ax = pyplot().subplots(figsize=(6.5, 0.3 * len(head) + 1.2))
    ax.barh(head.index, head.to_numpy())
    ax.set_xlabel("total gain")
    ax.set_title("LightGBM feature importance")
    fig.tight_layout()
    return fig

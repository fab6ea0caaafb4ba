"""Churn labels: what happens in the H weeks from a snapshot date (only training looks ahead).

Hard churn: no order at all in ``[t, t + 7H)``. Soft churn: order value in that window
below ``soft_threshold`` of the retailer's own baseline (its mean weekly value over the 26
weeks before ``t``, times H). A label exists only when the whole window is inside the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.calendar import to_days
from features.retailer import RetailerHistory, weekly_matrix

LABELS = ("hard", "soft")


@dataclass(frozen=True)
class LabelSpec:
    horizon_weeks: int = 8
    kind: str = "hard"
    soft_threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.kind not in LABELS:
            raise ValueError(f"label kind {self.kind!r}: use one of {', '.join(LABELS)}")
        if self.horizon_weeks < 1:
            raise ValueError("horizon must be at least one week")

    def window_complete(self, as_of: pd.Timestamp, last_day: int) -> bool:
        return to_days(as_of) + 7 * self.horizon_weeks - 1 <= last_day


def churn_labels(history: RetailerHistory, snapshot: pd.DataFrame, spec: LabelSpec) -> pd.Series:
    """1 if the retailer churns within the horizon after its row's ``as_of``, else 0."""
    out = np.zeros(len(snapshot), dtype=np.int8)
    for as_of, rows in snapshot.groupby("as_of", sort=False).indices.items():
        t = to_days(as_of)
        ahead = weekly_matrix(
            history.orders,
            history.n,
            t + 7 * spec.horizon_weeks,
            spec.horizon_weeks,
            history.orders.values["amount"],
        ).sum(axis=1)
        ordered = weekly_matrix(
            history.orders, history.n, t + 7 * spec.horizon_weeks, spec.horizon_weeks, None
        ).sum(axis=1)
        codes = history.ids.get_indexer(snapshot["retailer_id"].to_numpy()[rows])
        if spec.kind == "hard":
            churned = ordered[codes] == 0
        else:
            baseline = snapshot["baseline_weekly_value"].to_numpy()[rows] * spec.horizon_weeks
            churned = ahead[codes] < spec.soft_threshold * baseline
        out[rows] = churned
    return pd.Series(out, index=snapshot.index, name="churned")

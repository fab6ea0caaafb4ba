"""The churn model as MLflow serves it (logged as code, so loading it needs no ``training``).

Input: the retailer feature columns (``features.retailer``), numbers as floats and the
categorical columns as text. Output: ``churn_probability`` (calibrated) and ``reasons``
(JSON list of the top contributions, with sentences in Chinese and English).

Three kinds share this class, named by ``spec["kind"]``: ``lightgbm`` (booster + Platt
calibration + reason codes from its contributions), ``recency`` (the isotonic rule on
days since the last order) and ``bgnbd`` (the BG/NBD buy-till-you-die model's chance of no
order in the horizon). A baseline is served when LightGBM did not beat it on the holdout,
so that a small company still has a calibrated champion and says which one it is.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd

from features.booster_model import BoosterModel
from features.btyd import bgnbd_no_order_probability
from features.reasons import describe, reasons_json, top_reasons


class ChurnModel(BoosterModel):
    """A registered churn model of either kind, loaded from run artifacts."""

    label = "churn model"

    def read_spec(self, spec) -> None:
        self.kind: str = spec.get("kind", "lightgbm")
        if self.kind == "recency":
            self.thresholds = np.asarray(spec["recency"]["x"], dtype=float)
            self.levels = np.asarray(spec["recency"]["y"], dtype=float)
            # Below the typical risk, an order gap is no reason to worry about.
            self.reason_above = float(spec["recency"]["reason_above"])
            return
        if self.kind == "bgnbd":
            self.params = np.asarray(spec["bgnbd"]["params"], dtype=float)
            self.horizon_weeks = float(spec["horizon_weeks"])
            self.reason_above = float(spec["bgnbd"]["reason_above"])
            return
        self.slope, self.intercept = spec["calibration"]

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        raw = np.clip(raw, 1e-7, 1 - 1e-7)
        return 1 / (1 + np.exp(-(self.slope * np.log(raw / (1 - raw)) + self.intercept)))

    def _predict_recency(self, x: pd.DataFrame) -> pd.DataFrame:
        days = x[self.features[0]].fillna(0).to_numpy(float)
        probability = np.interp(days, self.thresholds, self.levels)
        reasons = [
            [{"feature": self.features[0], **describe(self.features[0], d)}]
            if p > self.reason_above
            else []
            for d, p in zip(days, probability, strict=True)
        ]
        return pd.DataFrame({"churn_probability": probability, "reasons": reasons_json(reasons)})

    def _predict_bgnbd(self, x: pd.DataFrame) -> pd.DataFrame:
        frequency, recency, age = (x[c].to_numpy(float) for c in self.features)
        probability = bgnbd_no_order_probability(
            self.params, frequency, recency, age, self.horizon_weeks
        )
        probability = np.clip(np.nan_to_num(probability, nan=1.0), 1e-6, 1 - 1e-6)
        quiet_days = np.round((age - recency) * 7)
        reasons = [
            [{"feature": "days_since_last_order", **describe("days_since_last_order", d)}]
            if p > self.reason_above
            else []
            for d, p in zip(quiet_days, probability, strict=True)
        ]
        return pd.DataFrame({"churn_probability": probability, "reasons": reasons_json(reasons)})

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        x = self.model_input(pd.DataFrame(model_input))
        if self.kind == "recency":
            return self._predict_recency(x)
        if self.kind == "bgnbd":
            return self._predict_bgnbd(x)
        probability = self.calibrate(self.booster.predict(x))
        contributions = self.booster.predict(x, pred_contrib=True)
        reasons = top_reasons(x, contributions, self.features)
        return pd.DataFrame({"churn_probability": probability, "reasons": reasons_json(reasons)})


mlflow.models.set_model(ChurnModel())

"""The churn model as MLflow serves it (logged as code, so loading it needs no ``training``).

Input: the retailer feature columns (``features.retailer``), numbers as floats and the
categorical columns as text. Output: ``churn_probability`` (calibrated) and ``reasons``
(JSON list of the top contributions, with sentences in Chinese and English).
"""

from __future__ import annotations

import json

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from features.reasons import reasons_json, top_reasons
from features.retailer import booster_input


class ChurnModel(PythonModel):
    """LightGBM booster + Platt calibration + reason codes, loaded from run artifacts."""

    def load_context(self, context) -> None:
        self.booster = lgb.Booster(model_file=context.artifacts["booster"])
        with open(context.artifacts["spec"], encoding="utf-8") as fh:
            spec = json.load(fh)
        self.features: list[str] = spec["features"]
        self.categories: dict[str, list[str]] = spec["categories"]
        self.slope, self.intercept = spec["calibration"]

    def model_input(self, frame: pd.DataFrame) -> pd.DataFrame:
        return booster_input(frame, self.features, self.categories, "churn model")

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        raw = np.clip(raw, 1e-7, 1 - 1e-7)
        return 1 / (1 + np.exp(-(self.slope * np.log(raw / (1 - raw)) + self.intercept)))

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        x = self.model_input(pd.DataFrame(model_input))
        probability = self.calibrate(self.booster.predict(x))
        contributions = self.booster.predict(x, pred_contrib=True)
        reasons = top_reasons(x, contributions, self.features)
        return pd.DataFrame({"churn_probability": probability, "reasons": reasons_json(reasons)})


mlflow.models.set_model(ChurnModel())

"""The visit-effect model as MLflow serves it (logged as code, so loading needs no ``training``).

Input: the retailer feature columns (``features.retailer``), numbers as floats and the
categorical columns as text. Output: ``visit_effect`` (extra order value over the horizon a
visit this week brings, as a share of the retailer's baseline value over the horizon) and
``expected_saved_value`` (that effect in yuan, never negative; NaN when the input has no
``baseline_weekly_value``).
"""

from __future__ import annotations

import json

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from features.retailer import booster_input


class VisitEffectModel(PythonModel):
    """The DR-learner's effect booster, loaded from run artifacts."""

    def load_context(self, context) -> None:
        self.booster = lgb.Booster(model_file=context.artifacts["booster"])
        with open(context.artifacts["spec"], encoding="utf-8") as fh:
            spec = json.load(fh)
        self.features: list[str] = spec["features"]
        self.categories: dict[str, list[str]] = spec["categories"]
        self.horizon_weeks: int = spec["horizon_weeks"]

    def model_input(self, frame: pd.DataFrame) -> pd.DataFrame:
        return booster_input(frame, self.features, self.categories, "visit-effect model")

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        effect = self.booster.predict(self.model_input(frame))
        if "baseline_weekly_value" in frame:
            baseline = pd.to_numeric(frame["baseline_weekly_value"], errors="coerce").to_numpy()
            saved = np.maximum(effect, 0.0) * np.nan_to_num(baseline) * self.horizon_weeks
        else:
            saved = np.full(len(effect), np.nan)
        return pd.DataFrame({"visit_effect": effect, "expected_saved_value": saved})


mlflow.models.set_model(VisitEffectModel())

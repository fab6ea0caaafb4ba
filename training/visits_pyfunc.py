"""The visit-effect model as MLflow serves it (logged as code, so loading needs no ``training``).

Input: the retailer feature columns (``features.retailer``), numbers as floats and the
categorical columns as text. Output: ``visit_effect`` (extra order value over the horizon a
visit this week brings, as a share of the retailer's baseline value over the horizon) and
``expected_saved_value`` (that effect in yuan, never negative; NaN when the input has no
``baseline_weekly_value``).
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd

from features.booster_model import BoosterModel
from features.rankings import saved_yuan


class VisitEffectModel(BoosterModel):
    """The DR-learner's effect booster, loaded from run artifacts."""

    label = "visit-effect model"

    def read_spec(self, spec) -> None:
        self.horizon_weeks: int = spec["horizon_weeks"]

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        effect = self.booster.predict(self.model_input(frame))
        if "baseline_weekly_value" in frame:
            baseline = pd.to_numeric(frame["baseline_weekly_value"], errors="coerce").to_numpy()
            saved = saved_yuan(effect, baseline, self.horizon_weeks)
        else:
            saved = np.full(len(effect), np.nan)
        return pd.DataFrame({"visit_effect": effect, "expected_saved_value": saved})


mlflow.models.set_model(VisitEffectModel())

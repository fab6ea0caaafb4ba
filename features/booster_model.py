"""What the logged LightGBM models share at inference: their spec, booster and inputs.

``training/churn_pyfunc.py`` and ``training/visits_pyfunc.py`` are logged as code and ship
``features/`` with them, so this module is part of every registered churn and visit-effect
model and must not import ``training``.
"""

from __future__ import annotations

import json
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class BoosterModel(PythonModel):
    """A pyfunc whose artifacts are ``spec`` (JSON: features, categories, ...) and, for a
    booster, ``booster`` (LightGBM text); subclasses read the rest in ``read_spec``."""

    label = "model"  # how errors name the model

    def load_context(self, context) -> None:
        with open(context.artifacts["spec"], encoding="utf-8") as fh:
            spec = json.load(fh)
        self.features: list[str] = spec["features"]
        self.categories: dict[str, list[str]] = spec.get("categories", {})
        booster = context.artifacts.get("booster")
        self.booster = lgb.Booster(model_file=booster) if booster else None
        self.read_spec(spec)

    def read_spec(self, spec: dict[str, Any]) -> None:
        """Take what this kind of model needs beyond features and booster from its spec."""

    def model_input(self, frame: pd.DataFrame) -> pd.DataFrame:
        return booster_input(frame, self.features, self.categories, self.label)


def booster_input(
    frame: pd.DataFrame, features: list[str], categories: dict[str, list[str]], model: str
) -> pd.DataFrame:
    """Rows typed as a logged booster was trained: floats, categoricals with its levels."""
    missing = [c for c in features if c not in frame]
    if missing:
        raise ValueError(f"{model}: input lacks feature column(s) {missing[:8]}")
    x = frame[features].copy()
    for column in features:
        if column in categories:
            x[column] = pd.Categorical(x[column].astype("object"), categories=categories[column])
        else:
            x[column] = (
                pd.to_numeric(x[column], errors="coerce")
                .astype("float64")
                .replace([np.inf, -np.inf], np.nan)
            )
    return x

"""Feature frames as models take them: for fitting, and as a logged MLflow model takes its
input. Part of what registered models carry at inference (``features/`` ships with them)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.retailer.signals import CATEGORICAL


def model_frame(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Model inputs for fitting: floats (no infinities), categoricals kept as categories."""
    x = frame[features].copy()
    for column in features:
        if column not in CATEGORICAL:
            x[column] = x[column].astype("float64").replace([np.inf, -np.inf], np.nan)
    return x


def model_input(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Feature rows as a logged MLflow model takes them: floats, categoricals as text."""
    x = model_frame(frame, features)
    for column in features:
        if column in CATEGORICAL:
            x[column] = x[column].astype("object").astype(str)
    return x


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model inputs of a feature frame (everything but keys)."""
    keys = ("retailer_id", "as_of", "manager_id", "lapsed", "weeks_since_last_order")
    return [c for c in frame.columns if c not in keys]

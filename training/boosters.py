"""The LightGBM settings every booster that training fits starts from.

Threads are LightGBM's own default: every core OpenMP sees (``OMP_NUM_THREADS`` caps it),
so a larger machine trains faster and a shared one can be held back from outside.
"""

from __future__ import annotations

from typing import Any

BASE_PARAMS: dict[str, Any] = {
    "learning_rate": 0.05,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
}
# LightGBM's defaults for what BASE_PARAMS changes, for a model fitted without subsampling.
NO_SUBSAMPLING: dict[str, Any] = {
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "bagging_freq": 0,
    "lambda_l2": 0.0,
}


def lightgbm_params(objective: str, seed: int, **overrides: Any) -> dict[str, Any]:
    """The base settings with ``objective``, ``seed`` and the caller's ``overrides``."""
    return {"objective": objective, **BASE_PARAMS, "seed": seed, **overrides}

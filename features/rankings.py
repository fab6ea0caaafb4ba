"""How a visit is ranked: the rankings the planner may use and the yuan a visit saves.

Training's self-check (``training.visit_policy``) picks one of these rankings on held-out
weeks, the planner (``planning.week``) plans by it and the policy evaluation replays it;
all three take the definitions from here, so they rank by the same numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EFFECT_RANKING = "effect_model"
# What each ranking the self-check of `train visits` may choose means, in the plan's notes.
RANKING_LABELS = {
    EFFECT_RANKING: "the visit-effect model's expected saved value",
    "churn_x_value": "churn probability x value at risk",
    "churn": "churn probability",
    "value": "usual order value",
    "rotation": "days since the last visit (the current rotation)",
}
NEVER_VISITED_DAYS = 365.0  # a never-visited retailer counts as a year overdue for rotation
EFFECT_SHRINK = 0.5  # weight of a retailer's own estimated effect against the average


def saved_yuan(effect, usual_value, weeks: int = 1) -> np.ndarray:
    """The saved-value formula: yuan a visit saves is its relative lift of the orders (never
    negative) times the usual value (per week, times ``weeks``; unknown counts as 0)."""
    lift = np.maximum(np.asarray(effect, dtype=np.float64), 0.0)
    return lift * np.nan_to_num(np.asarray(usual_value, dtype=np.float64)) * weeks


def saved_value(
    effect: np.ndarray, usual_value: np.ndarray, mean_effect: float | None = None
) -> np.ndarray:
    """Yuan a visit is expected to save, as the planner ranks by it: ``saved_yuan`` of the
    estimated effect shrunk towards the average.

    Per-retailer effect estimates are noisy (they rank the true effects with a Spearman of
    0.2-0.35 on simulated territories), so each is shrunk halfway towards this week's
    average effect; in the policy evaluation this kept about a quarter more value than the
    raw estimates.
    """
    effect = np.asarray(effect, dtype=float)
    mean = np.nanmean(effect) if mean_effect is None else mean_effect
    shrunk = EFFECT_SHRINK * effect + (1 - EFFECT_SHRINK) * mean
    return saved_yuan(shrunk, usual_value)


def simple_ranking_scores(
    frame: pd.DataFrame, churn_p: np.ndarray, horizon: int
) -> dict[str, np.ndarray]:
    """The simple rankings' scores (higher = visit first); see ``RANKING_LABELS``."""
    usual = np.nan_to_num(frame["baseline_weekly_value"].to_numpy(float) * horizon)
    churn_p = np.asarray(churn_p, dtype=float)
    scores = {"churn_x_value": churn_p * usual, "churn": churn_p, "value": usual}
    if "days_since_last_visit" in frame:
        since = frame["days_since_last_visit"].astype(float).to_numpy()
        scores["rotation"] = np.where(np.isnan(since), NEVER_VISITED_DAYS, since)
    return scores

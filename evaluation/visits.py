"""The visit-effect model against the simulator's true effects (reads ``_truth/``).

``fieldcoach train visits`` on a simulated folder adds this to its report as ``truth``;
the training run itself never sees the truth (it is handed ``truth_check_for(folder)``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.retailer import model_frame
from simulator.export import has_truth, load_truth
from training.visit_rows import visit_rows
from training.visits import VisitEffect, baseline_scores


def truth_check_for(data_dir: Path) -> Callable[[VisitEffect], dict[str, Any]] | None:
    """How a training run on ``data_dir`` checks its model against the truth; None without."""
    if not has_truth(data_dir):
        return None
    return lambda model: effect_truth_correlation(data_dir, model)


def effect_truth_correlation(
    data_dir: Path, model: VisitEffect, weeks: list[pd.Timestamp] | None = None
) -> dict[str, Any]:
    """Spearman correlation of the estimated and the simulator's true visit effect.

    Evaluation code only (reads ``_truth/``). Over the retailer-weeks of ``weeks`` (default:
    the model's holdout weeks), compares the DR-learner, the T-learner (no propensity) and
    the rankings of ``baseline_scores`` with the true ``visit_effect``.
    """
    truth = load_truth(data_dir, "retailer_weeks")
    truth = truth.assign(week_start=pd.to_datetime(truth["week_start"]))
    weeks = list(weeks) if weeks is not None else model.plan_.holdout
    if {pd.Timestamp(w) for w in weeks} == set(model.plan_.holdout):
        frame = model.holdout_
    else:
        frame = pd.concat(
            [visit_rows(model.history_, w, model.config) for w in weeks], ignore_index=True
        )
    x = model_frame(frame, model.features_)
    scores = {"dr_learner": model.booster_.predict(x)}
    fitted = model.nuisance_.predict(x, model.config.propensity_clip)
    scores["t_learner"] = fitted.mu1 - fitted.mu0
    scores.update(baseline_scores(frame))
    key = pd.MultiIndex.from_arrays([frame["retailer_id"], pd.to_datetime(frame["as_of"])])
    true = (
        truth.set_index(["retailer_id", "week_start"])["visit_effect"]
        .reindex(key)
        .to_numpy(dtype=np.float64)
    )
    known = np.isfinite(true)
    result: dict[str, Any] = {"rows": int(known.sum()), "weeks": [str(w.date()) for w in weeks]}
    for name, score in scores.items():
        s = pd.Series(np.asarray(score, dtype=float)[known])
        result[name] = float(s.corr(pd.Series(true[known]), method="spearman"))
    result["true_mean_effect"] = float(true[known].mean())
    return result

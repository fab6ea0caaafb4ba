"""The nuisance models of the visit-effect DR-learner, cross-fitted by retailer.

Per fold: the visit propensity ``e(x)``, the share ``q(x)`` of visits with the planner's
purpose, and the outcome models ``mu0(x)`` and ``mu1(x, m)``; together they give each row
its doubly robust pseudo-outcome (``Nuisance.phi``). The method is described in
``training.visits``, which fits the effect model on that pseudo-outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from training.boosters import lightgbm_params


def booster_params(objective: str, seed: int, **overrides: Any) -> dict[str, Any]:
    """The shared LightGBM settings with 31 leaves of at least 100 rows, unless overridden."""
    return lightgbm_params(
        objective, seed, **{"num_leaves": 31, "min_child_samples": 100, **overrides}
    )


def fit_booster(
    x: pd.DataFrame, y: np.ndarray, params: dict[str, Any], rounds: int
) -> lgb.Booster:
    """One LightGBM model of ``y`` on ``x``."""
    return lgb.train(params, lgb.Dataset(x, y), num_boost_round=rounds)


@dataclass
class Nuisance:
    """Cross-fitted propensities and outcome predictions for a set of rows."""

    e: np.ndarray  # clipped visit propensity
    e_raw: np.ndarray
    mu0: np.ndarray
    mu1: np.ndarray  # outcome of a visit with the planner's purpose, mu1(x, m=1)
    ep: np.ndarray | None = None  # clipped propensity of such a visit, e(x) q(x)
    ep_raw: np.ndarray | None = None

    def phi(self, t: np.ndarray, y: np.ndarray, m: np.ndarray | None = None) -> np.ndarray:
        """The DR pseudo-outcome of each row for a visit with the planner's purpose."""
        m = t if m is None else m
        ep = self.e if self.ep is None else self.ep
        return (
            self.mu1
            - self.mu0
            + t * m * (y - self.mu1) / ep
            - (1 - t) * (y - self.mu0) / (1 - self.e)
        )


def _with_purpose(x: pd.DataFrame, m) -> pd.DataFrame:
    return x.assign(_purpose_match=np.broadcast_to(np.asarray(m, dtype=np.float64), len(x)))


@dataclass
class NuisanceModels:
    """Per fold: the visit propensity, the planner's-purpose share and two outcome models."""

    propensity: list[lgb.Booster] = field(default_factory=list)
    control: list[lgb.Booster] = field(default_factory=list)
    treated: list[lgb.Booster] = field(default_factory=list)
    matched: list[lgb.Booster | float] = field(default_factory=list)

    def fit_fold(
        self, x: pd.DataFrame, t: np.ndarray, y: np.ndarray, config, m: np.ndarray | None = None
    ) -> None:
        seed = config.seed + len(self.propensity)
        rounds = config.nuisance_rounds
        m = t if m is None else m
        visited = t == 1
        self.propensity.append(fit_booster(x, t, booster_params("binary", seed), rounds))
        self.control.append(
            fit_booster(x[t == 0], y[t == 0], booster_params("regression", seed), rounds)
        )
        self.treated.append(
            fit_booster(
                _with_purpose(x[visited], m[visited]),
                y[visited],
                booster_params("regression", seed),
                rounds,
            )
        )
        share = float(m[visited].mean())
        if 0 < share < 1:
            self.matched.append(
                fit_booster(x[visited], m[visited], booster_params("binary", seed), rounds)
            )
        else:  # every visit had the planner's purpose (or none had): a constant share
            self.matched.append(share)

    def predict(self, x: pd.DataFrame, clip: float, folds: list[int] | None = None) -> Nuisance:
        """Average of the given folds' models (all folds by default)."""
        use = folds if folds is not None else list(range(len(self.propensity)))
        e_raw = np.mean([self.propensity[k].predict(x) for k in use], axis=0)
        mu0 = np.mean([self.control[k].predict(x) for k in use], axis=0)
        planned = _with_purpose(x, 1.0)
        mu1 = np.mean([self.treated[k].predict(planned) for k in use], axis=0)
        q = np.mean(
            [
                m.predict(x) if isinstance(m, lgb.Booster) else np.full(len(x), m)
                for m in (self.matched[k] for k in use)
            ],
            axis=0,
        )
        e = np.clip(e_raw, clip, 1 - clip)
        return Nuisance(e, e_raw, mu0, mu1, np.clip(e_raw * q, clip, 1.0), e_raw * q)


def fold_of(retailer_ids: pd.Series, folds: int, seed: int) -> np.ndarray:
    """Fold of each row, the same for every week of a retailer."""
    codes, uniques = pd.factorize(retailer_ids)
    assignment = np.random.default_rng(seed).permutation(len(uniques)) % folds
    return assignment[codes]

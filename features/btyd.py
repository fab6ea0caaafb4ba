"""Buy-till-you-die quantities: each buyer's own rhythm, and the BG/NBD model's predictions.

A retailer's order history is summarised the way the classic models read it (Fader, Hardie
and Lee 2005, "Counting your customers the easy way"): ``frequency`` x, the repeat order
days; ``recency`` t_x, weeks from the first to the last order day; ``age`` T, weeks from
the first order day to the as-of date. Several orders on one day count once. The same
summary feeds LightGBM as features and the BG/NBD baseline, so the two see one history.

The BG/NBD formulas here are the closed forms of the paper (eq. 6 for the individual
likelihood, the P(alive) of its appendix); fitting them lives in ``training.bgnbd``. They
sit in ``features`` because the served model (``training/churn_pyfunc.py``) may be the
BG/NBD rule itself and must predict without importing ``training``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln

BGNBD_PARAMS = ("r", "alpha", "a", "b")


def order_rhythm(code: np.ndarray, day: np.ndarray, n: int, t: int) -> dict[str, np.ndarray]:
    """Per retailer, from order events before day ``t`` (sorted by code, then day).

    Returns frequency, recency and age in weeks, the mean, coefficient of variation and
    maximum of the gaps between order days (days), NaN where undefined.
    """
    before = day < t
    code, day = code[before], day[before]
    distinct = np.ones(len(code), dtype=bool)
    distinct[1:] = (code[1:] != code[:-1]) | (day[1:] != day[:-1])
    code, day = code[distinct], day[distinct]
    days_ordered = np.bincount(code, minlength=n).astype(np.float64)
    has = days_ordered > 0
    first = np.full(n, np.nan)
    last = np.full(n, np.nan)
    if len(code):
        starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
        ends = np.r_[starts[1:], len(code)] - 1
        first[code[starts]] = day[starts]
        last[code[ends]] = day[ends]
    same = np.r_[False, code[1:] == code[:-1]] if len(code) else np.zeros(0, dtype=bool)
    gap = np.diff(day, prepend=0).astype(np.float64)[same]
    gap_code = code[same]
    gaps = np.bincount(gap_code, minlength=n).astype(np.float64)
    total = np.bincount(gap_code, weights=gap, minlength=n)
    squares = np.bincount(gap_code, weights=gap * gap, minlength=n)
    longest = np.zeros(n)
    np.maximum.at(longest, gap_code, gap)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(gaps > 0, total / gaps, np.nan)
        sd = np.sqrt(np.maximum(squares / gaps - mean * mean, 0))
        cv = np.where(gaps > 1, sd / mean, np.nan)
    return {
        "frequency": np.where(has, days_ordered - 1, np.nan),
        "recency_weeks": (last - first) / 7,
        "age_weeks": (t - first) / 7,
        "gap_mean_days": mean,
        "gap_cv": cv,
        "gap_max_days": np.where(gaps > 0, longest, np.nan),
    }


def bgnbd_log_likelihood(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
    """Each customer's BG/NBD log-likelihood (FHL 2005, eq. 6), ``params`` = r, alpha, a, b."""
    r, alpha, a, b = params
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    term1 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + big_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        term2 = np.where(
            x > 0,
            betaln(a + 1, b + x - 1) - betaln(a, b) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return common + np.logaddexp(term1, term2)


def bgnbd_p_alive(params, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    """P(still a customer at T | x, t_x, T)."""
    r, alpha, a, b = params
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_odds = (
            np.log(a)
            - np.log(np.maximum(b + x - 1, 1e-12))
            + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
        )
    return np.where(x > 0, 1 / (1 + np.exp(np.minimum(log_odds, 700))), 1.0)


def bgnbd_no_order_probability(
    params, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, horizon_weeks: float
) -> np.ndarray:
    """P(no order in the ``horizon_weeks`` after T | x, t_x, T): the BG/NBD churn score.

    A customer who is gone orders nothing; one still alive orders nothing with the
    gamma-mixed Poisson chance ((alpha + T) / (alpha + T + h)) ** (r + x), and in BG/NBD
    cannot drop out before that next order.
    """
    r, alpha = params[0], params[1]
    alive = bgnbd_p_alive(params, x, t_x, big_t)
    quiet = np.exp((r + x) * (np.log(alpha + big_t) - np.log(alpha + big_t + horizon_weeks)))
    return (1 - alive) + alive * quiet

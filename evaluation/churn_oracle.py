"""The best possible churn score: the true probability, from the simulator that made the data.

Evaluation code only. It replays the territory from its seed to the week of the snapshot
(the simulator is deterministic), then runs many futures from that true state with fresh
randomness under the same current practice, and counts how often each retailer places no
order in the label window. A data folder without simulator truth, or one whose history a
custom plan steered, has no oracle.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from features.calendar import to_days
from simulator.export import TRUTH_DIR, has_truth
from simulator.territory import SimulationConfig, Territory


class OracleUnavailable(RuntimeError):
    """No simulator truth to compute the oracle from."""


ChurnOracle = Callable[[pd.Timestamp, int], tuple[pd.Series | None, str | None]]


def oracle_for(data_dir: Path) -> ChurnOracle | None:
    """The oracle as ``training.churn_run.run_churn_training`` takes it; None without truth.

    Called with the holdout cutoff and the horizon, it gives the true churn probabilities,
    or None and why the territory has none (a custom plan steered it, say).
    """
    if not has_truth(data_dir):
        return None

    def at(cutoff: pd.Timestamp, horizon_weeks: int) -> tuple[pd.Series | None, str | None]:
        try:
            return oracle_churn_probability(data_dir, cutoff, horizon_weeks), None
        except OracleUnavailable as exc:
            return None, str(exc)

    return at


def _replay(data_dir: Path, as_of: pd.Timestamp) -> tuple[Territory, int]:
    params_path = Path(data_dir) / TRUTH_DIR / "params.json"
    if not params_path.exists():
        raise OracleUnavailable(f"{data_dir}: no simulator truth")
    params = json.loads(params_path.read_text())
    if not params.get("replayable", False):
        raise OracleUnavailable(f"{data_dir}: a custom plan steered this territory")
    raw = params["config"]
    fields = {f.name for f in dataclasses.fields(SimulationConfig)}
    config = SimulationConfig(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in fields}
    )
    config = dataclasses.replace(config, record_truth=False)
    territory = Territory.create(config)
    week = (to_days(as_of) - territory.start_day) // 7
    if not 0 <= week < params["week"]:
        raise OracleUnavailable(f"{as_of.date()} is outside the simulated weeks")
    territory.run(week)
    territory.records.clear()
    return territory, week


def oracle_churn_probability(
    data_dir: Path,
    as_of: pd.Timestamp | str,
    horizon_weeks: int,
    replicates: int = 32,
) -> pd.Series:
    """True probability of no order in ``[as_of, as_of + horizon)``, by retailer_id.

    Conditions on the true state at the start of the week holding ``as_of``. Each simulated
    future contributes the exact probability of no order given its health path (exits and
    orders integrated out week by week) rather than one sampled outcome, so a few dozen
    futures give smooth probabilities even for rare churn. Retailers that opened during
    that week have no state at its start and are missing from the result.
    """
    as_of = pd.Timestamp(as_of)
    base, _ = _replay(Path(data_dir), as_of)
    t = to_days(as_of)
    end = t + 7 * horizon_weeks
    weeks_to_run = (end - base.current_day + 6) // 7
    n = len(base.retailers)
    alive = base.retailers.alive.copy()
    order_dow = base.retailers.order_dow.astype(np.int64)
    total = np.zeros(n)
    for k in range(replicates):
        future = base.clone()
        future.rng = np.random.default_rng([base.config.seed, 7919, to_days(as_of), k])
        trading_no_order = alive.astype(np.float64)  # still trading, no order in window yet
        gone_no_order = (~alive).astype(np.float64)  # left before ordering in the window
        for _ in range(weeks_to_run):
            day = future.current_day
            future.step()
            exit_p = future.exit_hazard(day)[:n]
            order_day = day + order_dow
            in_window = (order_day >= t) & (order_day < end)
            order_p = np.where(in_window, future.order_probability(day)[:n], 0.0)
            gone_no_order += trading_no_order * exit_p
            trading_no_order *= (1 - exit_p) * (1 - order_p)
        total += trading_no_order + gone_no_order
    return pd.Series(total / replicates, index=base.retailer_ids(np.arange(n)), name="oracle")

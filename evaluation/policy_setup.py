"""What every policy run starts from: the simulator's saved territory and the company's
tables up to then (``load_start``), what a company would observe as the weeks go on
(``Observed``), the retailers at risk on a Monday, each manager's capacity, and the
models fitted on the data before the snapshot that the non-oracle policies plan with
(``fit_estimators``). The runs themselves: ``evaluation.policy_runs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.errors import UserInputError
from features.rankings import EFFECT_RANKING, saved_value
from features.retailer import model_frame, prepare_history, retailer_snapshot
from features.validate import load_dataset
from planning.purpose import choose_purposes
from planning.week import FALLBACK_EFFECT_SHARE, Ranking, ranked_benefit
from simulator.export import STATE_FILE, build_event_tables, build_static_tables
from simulator.territory import Territory
from training.churn import ChurnConfig, TrainedChurn, train_churn

EVENT_TABLES = ("orders", "visits", "complaints", "surveys", "assessments", "trainings")


@dataclass(frozen=True)
class PolicyConfig:
    weeks: int = 8
    seeds: int = 5
    horizon_weeks: int = 8
    days: int = 5
    min_gap_days: int = 7
    # The planner stops after a fixed number of solutions so that a re-run gives the same
    # figures whatever the machine's load; the time limit only caps a slow solve. 200
    # solutions (about 0.8 s for 200 retailers) keep 98.6% of the expected benefit of the
    # best capacity-many stops; 50 kept only 92%.
    solution_limit: int = 200
    time_limit_s: float = 5.0
    seed: int = 0


@dataclass
class Estimators:
    """What the non-oracle policies know: models fitted on the data before the snapshot."""

    churn: TrainedChurn
    effect: Any  # training.visits.VisitEffect, or None for the risk x value fallback
    horizon_weeks: int

    def churn_probability(self, frame: pd.DataFrame) -> np.ndarray:
        raw = self.churn.lightgbm.predict_raw(model_frame(frame, self.churn.features))
        return self.churn.calibration.transform(raw)

    ranking: Ranking | None = None  # the self-check's choice; None: the effect model

    @property
    def ranked(self) -> bool:
        """Whether the benefit is a simple ranking's score (as ``planning.week``)."""
        return (
            self.effect is not None
            and self.ranking is not None
            and (self.ranking.name != EFFECT_RANKING)
        )

    def expected_benefit(self, frame: pd.DataFrame, churn_p: np.ndarray) -> np.ndarray:
        """The planner's benefit, ranked the way ``train visits``' self-check chose."""
        usual = frame["baseline_weekly_value"].to_numpy(float) * self.horizon_weeks
        if self.effect is None:
            return churn_p * usual * FALLBACK_EFFECT_SHARE
        if self.ranked and self.ranking is not None:
            return ranked_benefit(frame, self.ranking, churn_p, self.horizon_weeks)
        return saved_value(self.effect.predict(frame), usual)


def fit_estimators(
    tables: dict[str, pd.DataFrame], config: PolicyConfig, incumbent: str | None = None
) -> Estimators:
    """The planner's models on ``tables``; ``incumbent``: the ranking in use, which the
    self-check keeps unless another clearly beats it (``training.visit_policy``)."""
    churn = train_churn(tables, ChurnConfig(horizon_weeks=config.horizon_weeks, tune=False))
    effect = None
    if "visits" in tables:
        from training.visit_policy import check_rankings
        from training.visit_rows import VisitEffectConfig
        from training.visits import fit_visit_effect

        effect = fit_visit_effect(
            tables, VisitEffectConfig(horizon_weeks=config.horizon_weeks), choose_purposes
        )
        if incumbent is not None and incumbent != effect.ranking_check_["chosen"]:
            effect.ranking_check_ = check_rankings(effect, incumbent=incumbent)
            effect.report_["ranking_check"] = {
                k: v for k, v in effect.ranking_check_.items() if k != "candidates"
            }
        elif incumbent is not None:  # the rules chose the ranking in use again
            effect.ranking_check_.update(incumbent=incumbent, kept_incumbent=True)
        values = effect.ranking_check_
        ranking = Ranking(values["chosen"], values["reason"], values["yuan_per_score"])
        return Estimators(churn, effect, config.horizon_weeks, ranking)
    return Estimators(churn, effect, config.horizon_weeks)


class Observed:
    """The tables a company would hold after some simulated weeks: the data plus new records."""

    def __init__(self, base: dict[str, pd.DataFrame]):
        self.base = base

    def tables(self, territory: Territory) -> dict[str, pd.DataFrame]:
        tables = dict(self.base)
        for name, table in build_static_tables(territory).items():
            if name in ("retailers", "managers"):
                tables[name] = _typed(table.to_pandas(), self.base[name])
        new = build_event_tables(territory)
        for name in EVENT_TABLES:
            if name in new and name in self.base:
                frame = _typed(new[name].to_pandas(), self.base[name])
                tables[name] = pd.concat([self.base[name], frame], ignore_index=True)
        return tables


def _typed(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    for column in frame.columns:
        if column in like and pd.api.types.is_datetime64_any_dtype(like[column]):
            frame[column] = pd.to_datetime(frame[column]).astype(like[column].dtype)
    return frame[[c for c in frame.columns if c in like.columns]]


def load_start(data_dir: Path, needs: str) -> tuple[Territory, dict[str, pd.DataFrame]]:
    """The simulator's saved territory at the end of ``data_dir`` (records and truth cleared:
    what comes next is the policies' doing) and the company's tables up to then.

    Raises:
        UserInputError: the folder holds no simulator state; ``needs`` names who needs it.
    """
    state = Path(data_dir) / STATE_FILE
    if not state.exists():
        raise UserInputError(
            f"{data_dir}: no saved simulator state ({STATE_FILE}); {needs} needs a folder "
            "written by `fieldcoach simulate`"
        )
    start = Territory.load(state)
    start.records.clear()
    start.truth.clear()
    return start, load_dataset(data_dir).tables


def at_risk(tables: dict[str, pd.DataFrame], monday: int, horizon_weeks: int) -> pd.DataFrame:
    """The retailers at risk on ``monday`` that have a manager, each with its purpose."""
    history = prepare_history(tables)
    frame = retailer_snapshot(history, pd.Timestamp(monday, unit="D"), horizon_weeks).frame
    frame = frame[frame["manager_id"].notna()].reset_index(drop=True)
    frame["purpose"] = choose_purposes(frame)
    return frame


def capacities(territory: Territory) -> dict[str, int]:
    managers = territory.manager_ids()
    return dict(zip(managers, territory.managers.capacity.astype(int), strict=True))

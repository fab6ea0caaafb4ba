"""The week a plan is made for, and every retailer at risk in it scored: features as of the
week's Monday, churn risk, the visit's expected benefit and purpose.

The expected benefit of visiting a retailer is the order value the visit is expected to
save: the registered ``visit-effect`` model's estimate (relative lift of the next H weeks'
value) times the retailer's usual value over those weeks, unless `train visits`' self-check
chose a simple ranking. Where that model is missing (no visits table, or not trained yet)
the benefit falls back to churn probability x value at risk x a fixed share, and with thin
history to a recency rule; the plan says which. Everything comes from the data folder and
registered models; this package never imports ``training``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.calendar import WorkingCalendar, to_days
from features.errors import UserInputError
from features.i18n import Note
from features.rankings import (
    EFFECT_RANKING,
    RANKING_LABELS,
    saved_value,
    simple_ranking_scores,
)
from features.retailer import (
    RetailerHistory,
    model_input,
    prepare_history,
    retailer_snapshot,
)
from fieldcoach.champions import ModelStore, registered_tags, registry_missing
from fieldcoach.registry import CHURN_MODEL, VISIT_EFFECT_MODEL
from planning.pace import PACE_WEEKS
from planning.purpose import (
    PeerFigures,
    choose_purposes,
    peer_brands,
)
from planning.win_back import add_win_back

FALLBACK_EFFECT_SHARE = 0.25  # share of value at risk a visit saves when no effect model exists
THIN_HISTORY_WEEKS = 26
MAX_WEEKS_AHEAD = 4


def parse_week(week: str) -> pd.Timestamp:
    """Monday of an ISO week written ``YYYY-Www`` (e.g. 2026-W01)."""
    try:
        year, number = week.upper().split("-W")
        if not 1900 <= int(year) <= 2199:  # pandas timestamps and the trading calendar
            raise ValueError(year)
        return pd.Timestamp(dt.date.fromisocalendar(int(year), int(number), 1))
    except (ValueError, AttributeError):
        raise UserInputError(
            f"--week {week!r}: write an ISO week as YYYY-Www, e.g. 2026-W01"
        ) from None


def week_of(day: int) -> str:
    year, number, _ = pd.Timestamp(day, unit="D").isocalendar()
    return f"{year}-W{number:02d}"


def default_week(history: RetailerHistory) -> str:
    """The week after the data's last day."""
    return week_of(history.last_day + 7 - pd.Timestamp(history.last_day, unit="D").weekday())


def plannable_days(history: RetailerHistory) -> tuple[int, int]:
    """Mondays (as day numbers) of the first and last week ``prepare_week`` will plan: the
    week of the data's last day up to ``MAX_WEEKS_AHEAD`` weeks after it."""
    last = history.last_day
    first_open = last + 7 - pd.Timestamp(last, unit="D").weekday()
    return first_open - 7, first_open + 7 * (MAX_WEEKS_AHEAD - 1)


@dataclass(frozen=True)
class Ranking:
    """The ranking `train visits` chose on held-out weeks (registered-model tags)."""

    name: str
    reason: str = ""
    yuan_per_score: float = 1.0  # turns a simple ranking's score into yuan saved per visit

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> Ranking | None:
        name = tags.get("planner_ranking")
        if name not in RANKING_LABELS:
            return None
        try:
            scale = float(tags.get("planner_yuan_per_score", "1"))
        except ValueError:
            scale = 1.0
        return cls(name, tags.get("planner_ranking_reason", ""), scale)


def load_ranking(tracking_uri: str | None = None) -> Ranking | None:
    """The ranking the latest self-check chose, or None (never checked, registry down)."""
    if tracking_uri and registry_missing(tracking_uri):
        return None  # asking would create an empty store in place of the one meant
    tags = registered_tags(tracking_uri, VISIT_EFFECT_MODEL) if tracking_uri else None
    if tags is not None:  # read from the SQLite file, without starting MLflow's store
        return Ranking.from_tags(tags)
    import mlflow  # only for a registry that is not a SQLite file: it costs a second

    try:
        client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        return Ranking.from_tags(client.get_registered_model(VISIT_EFFECT_MODEL).tags)
    except Exception:  # no registry or no such model: the planner's documented fallback
        return None


@dataclass
class Models:
    """Registered champions the planner uses; any may be missing."""

    churn: Any = None
    effect: Any = None
    notes: list[Note | str] = field(default_factory=list)
    ranking: Ranking | None = None

    @classmethod
    def load(cls, tracking_uri: str, models_dir: Path) -> Models:
        """The champions as the API loads them: the registry's, else the last known good
        copies in ``models_dir`` (read, never written here)."""
        store = ModelStore(
            tracking_uri, models_dir, (CHURN_MODEL, VISIT_EFFECT_MODEL), export=False
        )
        store.start()
        return cls.from_store(store, missing="no_champion")

    @classmethod
    def from_store(cls, store: ModelStore, missing: str = "no_loaded_champion") -> Models:
        """The planner's models from loaded champions; a missing one is a documented
        fallback (noted with ``missing``), not an error."""
        churn, effect = store.get(CHURN_MODEL), store.get(VISIT_EFFECT_MODEL)
        return cls(
            churn=churn.model if churn else None,
            effect=effect.model if effect else None,
            notes=[
                Note.of(missing, model=name)
                for name, loaded in ((CHURN_MODEL, churn), (VISIT_EFFECT_MODEL, effect))
                if loaded is None
            ],
            # The ranking `train visits` chose; None if the registry is unreachable.
            ranking=load_ranking(store.tracking_uri),
        )


@dataclass
class PlanContext:
    """The data a week's plans are made from, prepared once for every manager."""

    tables: dict[str, pd.DataFrame]
    history: RetailerHistory
    week_start: pd.Timestamp
    features: pd.DataFrame
    notes: list[Note | str]
    horizon_weeks: int = 8
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    ranked: bool = False  # the benefit is a simple ranking's score (``ranked_by_rule``)

    @cached_property
    def recent_visits(self) -> dict[str, pd.DataFrame]:
        """Each manager's visits of the ``PACE_WEEKS`` weeks before the week, grouped once
        for all the week's plans (a batch would otherwise scan every visit per manager)."""
        visits = self.tables.get("visits")
        if visits is None or not {"manager_id", "visit_date"} <= set(visits.columns):
            return {}
        dates = pd.to_datetime(visits["visit_date"])
        start = self.week_start - pd.Timedelta(weeks=PACE_WEEKS)
        recent = visits[(dates >= start) & (dates < self.week_start)]
        return {str(m): rows for m, rows in recent.groupby("manager_id", sort=False)}


def prepare_week(
    tables: dict[str, pd.DataFrame],
    week: str | None,
    models: Models,
    horizon_weeks: int = 8,
    history: RetailerHistory | None = None,
    managers: Collection[str] | None = None,
) -> PlanContext:
    """Features of every retailer at risk as of the week's Monday, with benefits and purposes.

    With ``managers``, only their retailers are scored and made candidates, while the
    figures every benefit and purpose is measured against still come from the whole week:
    their plans are the ones the whole week gives, and one manager's plan does not pay for
    every retailer's churn reasons (most of a command-line plan's time on 3,000 retailers).

    The steps are public so that an engine preparing the week in parts (a group of managers
    each, ``serving.batch_spark``) runs this same code: ``week_dates`` and ``score_week``
    per part, ``WeekFigures`` once on the whole, then ``finish_week`` per part.
    """
    history = history or prepare_history(tables)
    monday, as_of = week_dates(history, week)
    notes = list(models.notes)
    whole = retailer_snapshot(history, as_of, horizon_weeks).frame
    part = _managers_part(whole, managers)
    scored = score_week(history, as_of, models, horizon_weeks, notes, snapshot=part)
    if scored.frame.empty:
        raise UserInputError(f"no retailer at risk on {as_of.date()}")
    figures = WeekFigures.of(scored)
    if part is not whole:
        effect = _effect(_with_value_at_risk(whole, horizon_weeks), models, scored.thin)
        figures = WeekFigures.of(ScoredWeek(whole, as_of, scored.thin, effect))
    finish_week(scored, history, models, figures, horizon_weeks, notes)
    calendar = WorkingCalendar(tables.get("working_days"))
    ranked = ranked_by_rule(models, scored.thin)
    return PlanContext(
        tables, history, monday, scored.frame, notes, horizon_weeks, calendar, ranked
    )


def _managers_part(whole: pd.DataFrame, managers: Collection[str] | None) -> pd.DataFrame:
    """The rows of ``managers``' retailers; the whole week when that leaves none (their
    empty plan then carries the notes and columns any other part of the week has)."""
    if managers is None or "manager_id" not in whole:
        return whole
    part = whole[whole["manager_id"].isin(list(managers))]
    return part.reset_index(drop=True) if len(part) else whole


def week_dates(history: RetailerHistory, week: str | None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The week's Monday and the features' as-of date; raises for a week outside the data."""
    last = history.last_day
    week = week or default_week(history)
    monday = parse_week(week)
    t = to_days(monday)
    first_open = last + 7 - pd.Timestamp(last, unit="D").weekday()
    earliest, latest = plannable_days(history)
    if t < earliest:
        raise UserInputError(
            f"--week {week} is in the past: the data runs to "
            f"{pd.Timestamp(last, unit='D').date()}; plan {week_of(first_open)} or later"
        )
    if t > latest:
        raise UserInputError(
            f"--week {week} is more than {MAX_WEEKS_AHEAD} weeks after the data "
            f"(last day {pd.Timestamp(last, unit='D').date()}); plans need recent data"
        )
    return monday, pd.Timestamp(min(t, last + 1), unit="D")


@dataclass
class ScoredWeek:
    """Each retailer at risk with its churn risk and, where the benefit reads it, its
    estimated visit effect: what depends on the retailer's own records only."""

    frame: pd.DataFrame
    as_of: pd.Timestamp
    thin: bool  # too little history for the models: the rules decide
    effect: np.ndarray | None


def score_week(
    history: RetailerHistory,
    as_of: pd.Timestamp,
    models: Models,
    horizon_weeks: int,
    notes: list[Note | str],
    snapshot: pd.DataFrame | None = None,
) -> ScoredWeek:
    """Features at ``as_of`` (records strictly before it), churn risk and visit effect; of
    ``snapshot``'s rows (a part of that day's snapshot) when given."""
    if snapshot is None:
        snapshot = retailer_snapshot(history, as_of, horizon_weeks).frame
    thin = (history.last_day - history.first_day) < 7 * THIN_HISTORY_WEEKS
    if snapshot.empty:
        return ScoredWeek(snapshot, as_of, thin, None)
    frame = _with_value_at_risk(snapshot, horizon_weeks)
    churn_p, reasons = _churn(frame, models, thin, notes)
    frame["churn_probability"] = churn_p
    frame["reasons"] = reasons
    return ScoredWeek(frame, as_of, thin, _effect(frame, models, thin))


def _with_value_at_risk(snapshot: pd.DataFrame, horizon_weeks: int) -> pd.DataFrame:
    return snapshot.assign(
        value_at_risk=snapshot["baseline_weekly_value"].astype(float) * horizon_weeks
    )


@dataclass(frozen=True)
class WeekFigures:
    """Figures of all the week's retailers that each one's benefit and purpose read."""

    peers: PeerFigures
    mean_effect: float  # the average estimated visit effect; NaN without estimates

    @classmethod
    def of(cls, scored: ScoredWeek) -> WeekFigures:
        return cls(PeerFigures.of(scored.frame), exact_nanmean(scored.effect))


def exact_nanmean(values: np.ndarray | None) -> float:
    """The mean of the finite values, exactly rounded: the same whatever their order, so a
    week scored in parts gives the mean of the week scored whole."""
    if values is None:
        return math.nan
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    return math.fsum(values) / len(values) if len(values) else math.nan


def finish_week(
    scored: ScoredWeek,
    history: RetailerHistory,
    models: Models,
    figures: WeekFigures,
    horizon_weeks: int,
    notes: list[Note | str],
) -> None:
    """Benefits, purposes and last complaints added to ``scored.frame`` (in place)."""
    frame = scored.frame
    frame["expected_benefit"] = _benefit(scored, models, horizon_weeks, notes, figures.mean_effect)
    frame["purpose"] = choose_purposes(frame, figures=figures.peers)
    frame["peer_brands_per_order"] = peer_brands(frame, figures.peers).to_numpy()
    if not scored.thin:

        def value(rows: pd.DataFrame) -> np.ndarray:
            """Lapsed candidates valued as this week's others are (same ranking, figures)."""
            part = ScoredWeek(rows, scored.as_of, False, _effect(rows, models, False))
            return np.asarray(_benefit(part, models, horizon_weeks, [], figures.mean_effect))

        scored.frame = frame = add_win_back(
            frame, history, scored.as_of, models.churn, horizon_weeks, value
        )
    _add_last_complaint(frame, history, to_days(scored.as_of))


def _add_last_complaint(frame: pd.DataFrame, history: RetailerHistory, t: int) -> None:
    """Date and category of each retailer's last complaint before ``t`` (for its reasons)."""
    log = history.complaints
    if log is None:
        return
    codes = history.ids.get_indexer(frame["retailer_id"])
    last = log.last_before(history.n, t)[codes]
    found = last >= 0
    # With no complaint at all (a manager's part of the week can have none) nothing is read.
    at = np.maximum(last, 0) if len(log.day) else None
    day = np.where(found, log.day[at], 0) if at is not None else np.zeros(len(frame))
    frame["last_complaint_on"] = pd.to_datetime(day, unit="D").where(found)
    if "category" in log.values:
        category = log.values["category"][at] if at is not None else None
        frame["last_complaint_category"] = np.where(found, category, None)


def _churn(frame, models: Models, thin: bool, notes: list[Note | str]):
    if models.churn is not None and not thin:
        features = models.churn.metadata.get_input_schema().input_names()
        if set(features) <= set(frame.columns):
            predicted = models.churn.predict(model_input(frame, features))
            return (
                predicted["churn_probability"].to_numpy(),
                predicted["reasons"].map(json.loads).to_list(),
            )
        notes.append(Note.of("churn_needs_features"))
    # Without a usable model: the chance of not ordering rises with the weeks since the last.
    notes.append(Note.of("churn_recency_rule"))
    weeks = frame["days_since_last_order"].to_numpy(float) / 7
    return 1 - np.exp(-np.maximum(weeks - 1, 0) / 3), [[] for _ in range(len(frame))]


def ranked_benefit(
    frame: pd.DataFrame, ranking: Ranking, churn_p: np.ndarray, horizon: int
) -> np.ndarray:
    """Yuan a visit is expected to save under a simple ranking: its score x yuan per score."""
    scores = simple_ranking_scores(frame, churn_p, horizon)
    if ranking.name not in scores:
        raise UserInputError(
            f"the chosen ranking {ranking.name!r} needs data this folder lacks; "
            "retrain with `fieldcoach train visits`"
        )
    return scores[ranking.name] * ranking.yuan_per_score


def ranked_by_rule(models: Models, thin: bool) -> bool:
    """Whether the week's benefit is a simple ranking the self-check chose."""
    ranking = models.ranking
    return ranking is not None and ranking.name != EFFECT_RANKING and not thin


def _effect(frame: pd.DataFrame, models: Models, thin: bool) -> np.ndarray | None:
    """The effect model's estimates, when the week's benefit is read from them."""
    if ranked_by_rule(models, thin) or models.effect is None or thin:
        return None
    features = models.effect.metadata.get_input_schema().input_names()
    if not set(features) <= set(frame.columns):
        return None
    return models.effect.predict(model_input(frame, features))["visit_effect"].to_numpy(float)


def _benefit(
    scored: ScoredWeek, models: Models, horizon: int, notes: list[Note | str], mean_effect: float
) -> np.ndarray:
    frame, thin, ranking = scored.frame, scored.thin, models.ranking
    if ranking is not None and ranked_by_rule(models, thin):
        notes.append(Note.of("ranking_checked", ranking=ranking.name, reason=ranking.reason))
        return ranked_benefit(frame, ranking, frame["churn_probability"].to_numpy(), horizon)
    if scored.effect is not None:
        usual = frame["baseline_weekly_value"].to_numpy(float) * horizon
        notes.append(
            Note.of("ranking_checked", ranking=EFFECT_RANKING, reason=ranking.reason)
            if ranking is not None
            else Note.of("ranking_unchecked", ranking=EFFECT_RANKING)
        )
        return saved_value(scored.effect, usual, mean_effect)
    if models.effect is not None and not thin:
        notes.append(Note.of("effect_needs_features"))
    notes.append(Note.of("benefit_fallback", share=FALLBACK_EFFECT_SHARE))
    return frame["churn_probability"] * frame["value_at_risk"] * FALLBACK_EFFECT_SHARE

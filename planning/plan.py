"""A manager's next-best visits for a week: who, why, which day, in which order.

The expected benefit of visiting a retailer is the order value the visit is expected to
save: the registered ``visit-effect`` model's estimate (relative lift of the next H weeks'
value) times the retailer's usual value over those weeks. Where that model is missing (no
visits table, or not trained yet) the benefit falls back to churn probability x value at
risk x a fixed share, and with thin history to a recency rule; the plan says which.
Everything a plan needs comes from the data folder and registered models; this package
never imports ``training``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from features.calendar import WorkingCalendar, to_days, week_working_offsets
from features.errors import UserInputError
from features.i18n import LANGUAGES, PURPOSE_NAMES, Note, check_language, pick, render_notes
from features.rankings import (
    EFFECT_RANKING,
    NEVER_VISITED_DAYS,
    RANKING_LABELS,
    saved_value,
    simple_ranking_scores,
)
from features.reasons import restate
from features.retailer import (
    RetailerHistory,
    model_input,
    prepare_history,
    retailer_snapshot,
)
from fieldcoach.champions import ModelStore, registered_tags, registry_missing
from fieldcoach.registry import CHURN_MODEL, VISIT_EFFECT_MODEL
from planning.explore import (
    Exploration,
    annotate_plan,
    draw_week,
    exploration_notes,
    exploration_record,
    plan_seed,
)
from planning.feedback import PlanFeedback
from planning.optimise import PlanRules, WeekPlan, haversine_km, plan_week
from planning.purpose import (
    PeerFigures,
    benefit_reason,
    choose_purposes,
    peer_brands,
    purpose_reasons,
    reason_signals,
    talking_point,
)
from planning.win_back import add_win_back, win_back_note

FALLBACK_EFFECT_SHARE = 0.25  # share of value at risk a visit saves when no effect model exists
THIN_HISTORY_WEEKS = 26
# Plans stop at the local search's optimum or after this many improving solutions, so the
# same data, models and parameters give the same plan; the time limit is only a safety cap
# (reported in the notes when hit). 100 solutions keep 97.7-98.8% of the best capacity-many
# stops' benefit on 300 candidates for 60 visits (see planning.optimise.PlanRules).
SOLUTION_LIMIT = 100
TIME_CAP_S = 5.0
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


def prepare_week(
    tables: dict[str, pd.DataFrame],
    week: str | None,
    models: Models,
    horizon_weeks: int = 8,
    history: RetailerHistory | None = None,
) -> PlanContext:
    """Features of every retailer at risk as of the week's Monday, with benefits and purposes.

    The steps are public so that an engine preparing the week in parts (a group of managers
    each, ``serving.batch_spark``) runs this same code: ``week_dates`` and ``score_week``
    per part, ``WeekFigures`` once on the whole, then ``finish_week`` per part.
    """
    history = history or prepare_history(tables)
    monday, as_of = week_dates(history, week)
    notes = list(models.notes)
    scored = score_week(history, as_of, models, horizon_weeks, notes)
    if scored.frame.empty:
        raise UserInputError(f"no retailer at risk on {as_of.date()}")
    finish_week(scored, history, models, WeekFigures.of(scored), horizon_weeks, notes)
    calendar = WorkingCalendar(tables.get("working_days"))
    return PlanContext(tables, history, monday, scored.frame, notes, horizon_weeks, calendar)


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
) -> ScoredWeek:
    """Features at ``as_of`` (records strictly before it), churn risk and visit effect."""
    frame = retailer_snapshot(history, as_of, horizon_weeks).frame
    thin = (history.last_day - history.first_day) < 7 * THIN_HISTORY_WEEKS
    if frame.empty:
        return ScoredWeek(frame, as_of, thin, None)
    frame = frame.assign(
        value_at_risk=frame["baseline_weekly_value"].astype(float) * horizon_weeks
    )
    churn_p, reasons = _churn(frame, models, thin, notes)
    frame["churn_probability"] = churn_p
    frame["reasons"] = reasons
    return ScoredWeek(frame, as_of, thin, _effect(frame, models, thin))


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


def _ranked(models: Models, thin: bool) -> bool:
    """Whether the week's benefit is a simple ranking the self-check chose."""
    ranking = models.ranking
    return ranking is not None and ranking.name != EFFECT_RANKING and not thin


def _effect(frame: pd.DataFrame, models: Models, thin: bool) -> np.ndarray | None:
    """The effect model's estimates, when the week's benefit is read from them."""
    if _ranked(models, thin) or models.effect is None or thin:
        return None
    features = models.effect.metadata.get_input_schema().input_names()
    if not set(features) <= set(frame.columns):
        return None
    return models.effect.predict(model_input(frame, features))["visit_effect"].to_numpy(float)


def _benefit(
    scored: ScoredWeek, models: Models, horizon: int, notes: list[Note | str], mean_effect: float
) -> np.ndarray:
    frame, thin, ranking = scored.frame, scored.thin, models.ranking
    if ranking is not None and _ranked(models, thin):
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


def _base_of(
    manager_id: str, tables, retailers: pd.DataFrame
) -> tuple[tuple[float, float], Note | None]:
    """Where the manager's days start and end, and a note when it is not their home.

    Without home coordinates the base is the medoid of the manager's own retailers (the
    shop with the least total distance to the others): a point of their territory, whereas
    the middle of the whole company's retailers left far-away managers driving most of the
    day (800-900 km a week) and filling a fifth of their capacity.
    """
    managers = tables.get("managers")
    if managers is not None and {"home_lat", "home_lon"} <= set(managers.columns):
        row = managers[managers["manager_id"] == manager_id]
        if len(row) and row[["home_lat", "home_lon"]].notna().all(axis=None):
            return (float(row["home_lat"].iloc[0]), float(row["home_lon"].iloc[0])), None
    own = retailers[(retailers["manager_id"] == manager_id)].dropna(subset=["lat", "lon"])
    if own.empty:
        own = retailers.dropna(subset=["lat", "lon"])
    lat, lon = own["lat"].to_numpy(float), own["lon"].to_numpy(float)
    if len(lat) > 2000:  # the medoid of a sample is as central and keeps this fast
        keep = np.random.default_rng(0).choice(len(lat), 2000, replace=False)
        lat, lon = lat[keep], lon[keep]
    total = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :]).sum(axis=1)
    k = int(np.argmin(total))
    note = Note.of("base_medoid", manager=manager_id, lat=f"{lat[k]:.4f}", lon=f"{lon[k]:.4f}")
    return (float(lat[k]), float(lon[k])), note


def manager_capacity(tables, manager_id: str, default: int = 60) -> int:
    managers = tables.get("managers")
    if managers is not None and "weekly_capacity" in managers:
        row = managers.loc[managers["manager_id"] == manager_id, "weekly_capacity"]
        if len(row) and pd.notna(row.iloc[0]):
            return int(row.iloc[0])
    return default


def manager_ids(tables) -> set[str]:
    known = set()
    if "managers" in tables:
        known |= set(tables["managers"]["manager_id"])
    if "retailers" in tables and "manager_id" in tables["retailers"]:
        known |= set(tables["retailers"]["manager_id"].dropna())
    return known


def plan_manager(
    context: PlanContext, manager_id: str, *, language: str = "en", **options: Any
) -> dict[str, Any]:
    """Plan one manager's week in one language (see ``plan_manager_languages``)."""
    check_language(language)
    return plan_manager_languages(context, manager_id, (language,), **options)[language]


def plan_manager_languages(
    context: PlanContext,
    manager_id: str,
    languages: tuple[str, ...] = LANGUAGES,
    capacity: int | None = None,
    days: int = 5,
    min_gap_days: int = 7,
    time_limit_s: float = TIME_CAP_S,
    max_days_between_visits: int | None = None,
    include_non_working_days: bool = False,
    feedback: PlanFeedback | None = None,
    solution_limit: int | None = SOLUTION_LIMIT,
    exploration: Exploration | None = None,
) -> dict[str, dict[str, Any]]:
    """Plan one manager's week once, shown in each of ``languages``: the ranked visits and
    the day-by-day routes.

    ``exploration`` spends a share of the week on near-best candidates drawn at random and
    may hold back recommended retailers, seeded by (manager, week), with every candidate's
    probability logged in the plan (``planning.explore``); None plans without.

    ``max_days_between_visits`` is a visit-frequency rule (e.g. every retailer at least
    every 28 days): retailers that would pass it by the end of the week, or were never
    visited, become stops the optimiser must place when the week can hold them, whatever
    their expected benefit; they are marked ``due`` in the plan.
    """
    if max_days_between_visits is not None and max_days_between_visits < min_gap_days:
        raise UserInputError(
            f"--max-days-between-visits {max_days_between_visits} is shorter than "
            f"--min-gap-days {min_gap_days}: no plan can keep both"
        )
    tables = context.tables
    if manager_id not in manager_ids(tables):
        raise UserInputError(f"--manager {manager_id!r}: no such manager in the data")
    if "retailers" not in tables or not {"lat", "lon", "manager_id"} <= set(
        tables["retailers"].columns
    ):
        raise UserInputError("planning needs the retailers table with manager_id, lat and lon")
    PlanRules(capacity=1 if capacity is None else capacity, days=days)  # checks the options
    offsets, notes = _working_offsets(context, days, include_non_working_days)
    week_capacity = manager_capacity(tables, manager_id) if capacity is None else capacity
    if capacity is None and offsets and len(offsets) != days:
        # The manager's capacity is for a normal week; a holiday week holds fewer visits.
        week_capacity = max(1, round(week_capacity * len(offsets) / days))
        notes.append(
            Note.of("fewer_working_days", working=len(offsets), days=days, capacity=week_capacity)
        )
    rules = PlanRules(
        capacity=week_capacity,
        days=max(len(offsets), 1),
        min_gap_days=min_gap_days,
        time_limit_s=time_limit_s,
        solution_limit=solution_limit,
    )
    frame = context.features
    mine = frame[frame["manager_id"] == manager_id].reset_index(drop=True)
    retailers = tables["retailers"].set_index("retailer_id")
    shown = [c for c in ("name", "address") if c in retailers.columns]
    mine = mine.join(retailers[["lat", "lon", *shown]], on="retailer_id")
    mine = mine[mine["lat"].notna() & mine["lon"].notna()].reset_index(drop=True)
    notes += win_back_note(mine, context.horizon_weeks)
    since = (
        mine["days_since_last_visit"].to_numpy(float)
        if "days_since_last_visit" in mine
        else np.full(len(mine), np.nan)  # no visits table: nobody was visited
    )
    # Days from the features' as-of date to the plan's Monday (0 for next week's plan).
    lead = to_days(context.week_start) - to_days(mine["as_of"].iloc[0]) if len(mine) else 0
    if feedback is not None and len(mine):
        feedback = feedback.for_retailers(mine["retailer_id"])
        since = _count_done_visits(mine, since, feedback, notes)
    # The minimum gap: a retailer visited recently may only go on a later working day.
    first_day = min_gap_days - since - lead
    earliest = np.searchsorted(np.asarray(offsets), np.nan_to_num(first_day, nan=0.0))
    if not offsets:
        earliest = np.full(len(mine), rules.days)  # no working day: nobody this week
    if feedback is not None and len(mine):
        earliest = _leave_out(context, mine, earliest, offsets, feedback, notes)
    benefit = mine["expected_benefit"].to_numpy(float)
    # Retailers with no expected benefit can still fill the week: most overdue first.
    overdue = np.nan_to_num(since + lead, nan=NEVER_VISITED_DAYS)
    filler = ~(benefit > 0)
    benefit = np.where(filler, 1e-3 * overdue / NEVER_VISITED_DAYS, benefit)
    due = np.zeros(len(mine), dtype=bool)
    if max_days_between_visits is not None:
        week_end = offsets[-1] + 1 if offsets else days
        due = np.isnan(since) | (since + lead + week_end > max_days_between_visits)
        due &= earliest < rules.days  # a retailer left out is not due this week
        if "lapsed" in mine:  # the rule is for retailers still ordering, not win-backs
            due &= ~mine["lapsed"].fillna(False).to_numpy(bool)
        # A due stop still needs a value for the ranking; zero would hide it.
        benefit = np.where(due, np.maximum(benefit, 0.01), benefit)
        if due.sum() > rules.capacity:
            notes.append(
                Note.of(
                    "due_over_capacity",
                    due=int(due.sum()),
                    rule=max_days_between_visits,
                    capacity=rules.capacity,
                )
            )
    candidates = mine.assign(
        earliest_day=earliest,
        mandatory=due,
        expected_benefit=benefit,
        days_since_last_visit=since,  # with visits reported done since the export
    )
    base, base_note = _base_of(manager_id, tables, retailers.reset_index())
    plan = plan_week(candidates, base, rules)
    draw = None
    if exploration is not None and not exploration.off and offsets:
        # The draws change the plan the optimiser chose; the week is then routed again.
        seed = plan_seed(manager_id, week_of(to_days(context.week_start)))
        plain = float(plan.visits["expected_benefit"].sum())
        draw = draw_week(
            candidates, rules.capacity, rules.days, exploration, seed, plan.visits["retailer_id"]
        )
        plan = plan_week(draw.candidates, base, rules)
        given_up = plain - float(plan.visits["expected_benefit"].sum())
    if not offsets:
        plan = WeekPlan(visits=plan.visits.iloc[:0], days=[], dropped=plan.dropped)
    notes += [base_note] if base_note else []
    notes += _capacity_notes(plan, rules, candidates)
    fillers = int(plan.visits["retailer_id"].isin(mine.loc[filler, "retailer_id"]).sum())
    if fillers:
        notes.append(Note.of("rotation_fillers", count=fillers))
    if plan.time_capped:
        notes.append(
            Note.of(
                "solver_time_cap",
                seconds=f"{rules.time_limit_s:g}",
                solutions=rules.solution_limit,
            )
        )
    record = None
    if draw is not None and exploration is not None:  # a draw is only made with exploration
        record = exploration_record(draw, exploration, seed, plan.visits["retailer_id"], given_up)
        notes += exploration_notes(record)
    return {
        lang: annotate_plan(
            {
                **_render(context, manager_id, plan, rules, lang, notes, base, offsets),
                "max_days_between_visits": max_days_between_visits,
            },
            record,
        )
        for lang in languages
    }


def visit_reasons(
    row: pd.Series, horizon_weeks: int, hit: dict[str, bool] | None = None
) -> list[dict[str, Any]]:
    """Why visit: the signals behind the purpose, what the visit is worth, then what drives
    the churn risk, each reason once (by code), in both languages."""
    churn = row["reasons"] if isinstance(row.get("reasons"), list) else []
    reasons = [
        *purpose_reasons(row, hit),
        benefit_reason(float(row["expected_benefit"]), float(row["value_at_risk"]), horizon_weeks),
        *restate(churn, row),
    ]
    seen: set[str] = set()
    out = []
    for reason in reasons:
        if reason["code"] not in seen:
            seen.add(reason["code"])
            out.append(reason)
    return out


def _capacity_notes(plan: WeekPlan, rules: PlanRules, candidates: pd.DataFrame) -> list[Note]:
    """Why a plan holds fewer visits than the capacity, if it does."""
    planned = len(plan.visits)
    if planned >= rules.capacity:
        return []
    head = {"planned": planned, "capacity": rules.capacity}
    if plan.eligible < rules.capacity:
        gap = int((candidates["earliest_day"] >= rules.days).sum())
        return [
            Note.of(
                "short_candidates",
                **head,
                eligible=plan.eligible,
                total=len(candidates),
                gap=gap,
                min_gap=rules.min_gap_days,
            )
        ]
    if plan.time_capped:
        return [Note.of("short_time_cap", **head, seconds=f"{rules.time_limit_s:g}")]
    minutes = [
        d["km"] / rules.speed_kmh * 60 + d["stops"] * rules.service_minutes for d in plan.days
    ]
    if max(minutes, default=0) >= 0.9 * rules.day_minutes:
        return [
            Note.of(
                "short_day_minutes",
                **head,
                minutes=f"{rules.day_minutes:g}",
                service=f"{rules.service_minutes:g}",
            )
        ]
    return [Note.of("short_not_worth", **head)]


def _render(
    context: PlanContext,
    manager_id: str,
    plan: WeekPlan,
    rules: PlanRules,
    language: str,
    notes: Sequence[Note | str] = (),
    base: tuple[float, float] | None = None,
    offsets: list[int] | None = None,
) -> dict[str, Any]:
    visits = plan.visits
    monday = context.week_start
    offsets = list(range(rules.days)) if offsets is None else offsets
    detour = _detour_km(visits)
    priority = visits["expected_benefit"].to_numpy(float) - detour * rules.cost_per_km
    rows = []
    hits = reason_signals(visits)
    for (i, v), hit in zip(visits.assign(priority=priority).iterrows(), hits, strict=True):
        reasons = visit_reasons(v, context.horizon_weeks, hit)
        offset = offsets[int(v["day"])]
        # Days since the last visit as of the planned day, not as of the data's end.
        lead = to_days(monday) - to_days(v["as_of"]) + offset
        rows.append(
            {
                "retailer_id": v["retailer_id"],
                "name": _text(v.get("name")),
                "address": _text(v.get("address")),
                "churn_probability": round(float(v["churn_probability"]), 4),
                "value_at_risk": round(float(v["value_at_risk"]), 2),
                "expected_benefit": round(float(v["expected_benefit"]), 2),
                "priority": round(float(v["priority"]), 2),
                "purpose": v["purpose"],
                "purpose_name": pick(PURPOSE_NAMES[v["purpose"]], language),
                "talking_point": talking_point(v["purpose"], language),
                "reasons": [r["zh" if language == "zh" else "en"] for r in reasons],
                "days_since_last_visit": None
                if pd.isna(v.get("days_since_last_visit"))
                else int(v["days_since_last_visit"]) + lead,
                "date": str((monday + pd.Timedelta(days=offset)).date()),
                "stop": int(v["stop"]),
                "due": bool(v.get("mandatory", False)),
                "km_from_previous": float(v["km_from_previous"]),
                "lat": float(v["lat"]),
                "lon": float(v["lon"]),
                "_index": i,
            }
        )
    ranked = sorted(rows, key=lambda r: -r["priority"])
    for rank, row in enumerate(ranked, start=1):
        row["rank"] = rank
        row.pop("_index")
    schedule = []
    for day in plan.days:
        date = monday + pd.Timedelta(days=offsets[day["day"]])
        stops = sorted(
            (r for r in ranked if r["date"] == str(date.date())), key=lambda r: r["stop"]
        )
        schedule.append(
            {
                "date": str(date.date()),
                "visits": len(stops),
                "km": day["km"],
                "km_back_to_base": day.get("km_back_to_base", 0.0),
                "route": [r["retailer_id"] for r in stops],
            }
        )
    return {
        "manager_id": manager_id,
        "week": week_of(to_days(monday)),
        "week_start": str(monday.date()),
        "capacity": rules.capacity,
        "days": rules.days,
        "working_dates": [str((monday + pd.Timedelta(days=o)).date()) for o in offsets],
        "base": None if base is None else {"lat": base[0], "lon": base[1]},
        "min_gap_days": rules.min_gap_days,
        "visits": ranked,
        "schedule": schedule,
        "total_km": round(sum(d["km"] for d in plan.days), 2),
        "expected_benefit": round(sum(r["expected_benefit"] for r in ranked), 2),
        "candidates_left_out": plan.dropped,
        "language": language,
        "notes": render_notes([*context.notes, *notes], language),
    }


def _count_done_visits(
    mine: pd.DataFrame, since: np.ndarray, feedback: PlanFeedback, notes: list[Note | str]
) -> np.ndarray:
    """Days since the last visit, with visits reported done since the data was exported."""
    last = feedback.last_done()
    if last.empty:
        return since
    as_of = pd.Timestamp(mine["as_of"].iloc[0])
    done = mine["retailer_id"].map(last)
    days = (as_of - pd.to_datetime(done)).dt.days.to_numpy(float)
    newer = ~np.isnan(days) & (np.isnan(since) | (days < since))
    for retailer, day in zip(mine["retailer_id"][newer], done[newer], strict=True):
        notes.append(Note.of("visit_done", retailer=retailer, date=str(day.date())))
    return np.where(newer, days, since)


def _leave_out(
    context: PlanContext,
    mine: pd.DataFrame,
    earliest: np.ndarray,
    offsets: list[int],
    feedback: PlanFeedback,
    notes: list[Note | str],
) -> np.ndarray:
    """Push each retailer a planner left out past the day it may be planned again."""
    until = feedback.excluded_until()
    if until.empty:
        return earliest
    earliest = earliest.copy()
    monday = context.week_start
    for k, retailer in enumerate(mine["retailer_id"]):
        if retailer not in until.index:
            continue
        row = until.loc[retailer]
        first = (pd.Timestamp(row["until"]) - monday).days
        if first <= 0:
            continue
        earliest[k] = max(earliest[k], int(np.searchsorted(np.asarray(offsets), first)))
        notes.append(
            Note.of(
                "excluded_feedback",
                retailer=retailer,
                reason=row["reason"] or "-",
                meaning_zh=row["zh"],
                meaning_en=row["en"],
                until=str(pd.Timestamp(row["until"]).date()),
            )
        )
    return earliest


def _working_offsets(
    context: PlanContext, days: int, include_non_working: bool
) -> tuple[list[int], list[Note | str]]:
    """The week's working days (0 = Monday) for the plan, with notes on the days skipped."""
    calendar = context.calendar
    offsets, skipped = week_working_offsets(
        context.week_start, days, calendar, include_non_working
    )
    notes: list[Note | str] = []
    for offset, kind in skipped:
        day = (context.week_start + pd.Timedelta(days=offset)).date()
        notes.append(Note.of("non_working_day", date=str(day), holiday=kind.holiday))
    for offset in offsets:
        day = (context.week_start + pd.Timedelta(days=offset)).date()
        if calendar.kind(day).adjusted:
            notes.append(Note.of("adjusted_working_day", date=str(day)))
    if include_non_working:
        notes.append(Note.of("working_on_holidays"))
    if not offsets:
        notes.append(Note.of("no_working_day"))
    for year in sorted(calendar.years_without_official_data):
        notes.append(Note.of("no_official_calendar", year=year))
    return offsets, notes


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _detour_km(visits: pd.DataFrame) -> np.ndarray:
    """Extra kilometres each stop adds to its day's route (its share of the travel cost)."""
    out = np.zeros(len(visits))
    for _, day in visits.groupby("day"):
        day = day.sort_values("stop")
        lat, lon = day["lat"].to_numpy(), day["lon"].to_numpy()
        legs_in = day["km_from_previous"].to_numpy()
        for k, index in enumerate(day.index):
            if k + 1 < len(day):
                leg_out = haversine_km(lat[k], lon[k], lat[k + 1], lon[k + 1])
                skip = haversine_km(lat[k - 1], lon[k - 1], lat[k + 1], lon[k + 1]) if k else 0
                out[index] = legs_in[k] + leg_out - skip
            else:
                out[index] = legs_in[k]
    return out


def plan_team(context: PlanContext, team_id: str, **options) -> dict[str, Any]:
    """Plans for every manager of a team for the week."""
    managers = context.tables.get("managers")
    if managers is None or "team_id" not in managers:
        raise UserInputError("team plans need the managers table with team_id")
    members = sorted(managers.loc[managers["team_id"] == team_id, "manager_id"])
    if not members:
        raise UserInputError(f"--team {team_id!r}: no such team in the data")
    return summarise_team(team_id, [plan_manager(context, m, **options) for m in members])


def summarise_team(team_id: str, plans: list[dict[str, Any]]) -> dict[str, Any]:
    """A team's week from its managers' plans."""
    return {
        "team_id": team_id,
        "week": plans[0]["week"],
        "managers": plans,
        "visits": sum(len(p["visits"]) for p in plans),
        "expected_benefit": round(sum(p["expected_benefit"] for p in plans), 2),
        "total_km": round(sum(p["total_km"] for p in plans), 2),
    }

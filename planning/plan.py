"""A manager's next-best visits for a week: who, which day, in which order, fitted to
capacity, from a week prepared by ``planning.week``; and a team's week from its managers'.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from features.calendar import to_days, week_working_offsets
from features.errors import UserInputError
from features.i18n import LANGUAGES, Note, check_language
from features.rankings import (
    NEVER_VISITED_DAYS,
)
from planning.explore import (
    Exploration,
    annotate_plan,
    draw_week,
    exploration_notes,
    exploration_record,
    plan_seed,
)
from planning.feedback import PlanFeedback
from planning.optimise import RANKED_POOL_FACTOR, PlanRules, WeekPlan, haversine_km, plan_week
from planning.pace import PACE_WEEKS, observed_pace, paced
from planning.render import render_plan
from planning.week import PlanContext, week_of
from planning.win_back import win_back_note

# Plans stop at the local search's optimum or after this many improving solutions, so the
# same data, models and parameters give the same plan; the time limit is only a safety cap
# (reported in the notes when hit). 100 solutions keep 97.7-98.8% of the best capacity-many
# stops' benefit on 300 candidates for 60 visits (see planning.optimise.PlanRules).
SOLUTION_LIMIT = 100
TIME_CAP_S = 5.0


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
        pool_factor=RANKED_POOL_FACTOR if context.ranked else PlanRules.pool_factor,
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
    assumed = rules.service_minutes
    visits = context.recent_visits.get(manager_id)
    pace = observed_pace(visits, tables["retailers"], manager_id, base, context.week_start, rules)
    rules = paced(rules, pace)
    if pace is not None and rules.service_minutes < assumed:
        notes.append(
            Note.of(
                "pace_from_visits",
                manager=manager_id,
                weeks=PACE_WEEKS,
                days=pace.days,
                visits=f"{pace.visits_per_day:g}",
                minutes=f"{rules.service_minutes:g}",
                default=f"{assumed:g}",
            )
        )
    plan = plan_week(candidates, base, rules)
    draw = None
    if exploration is not None and not exploration.off and offsets:
        # The draws change the plan the optimiser chose; the week is then routed again.
        seed = plan_seed(manager_id, week_of(to_days(context.week_start)))
        plain = float(plan.visits["expected_benefit"].sum())
        draw = draw_week(
            candidates, rules.capacity, rules.days, exploration, seed, plan.visits["retailer_id"]
        )
        first = plan
        plan = plan_week(draw.candidates, base, rules)
        given_up = plain - float(plan.visits["expected_benefit"].sum())
        # The draw leaves only the week's chosen stops open; whether more candidates could
        # have been visited is a fact of the week, not of the draw (the notes say why not).
        plan = replace(plan, eligible=first.eligible)
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
                **render_plan(context, manager_id, plan, rules, lang, notes, base, offsets),
                "max_days_between_visits": max_days_between_visits,
            },
            record,
        )
        for lang in languages
    }


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

"""Visit plans for a manager's week and for a whole team."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from planning.explore import Exploration
from planning.export import route_rows
from planning.plan import summarise_team
from serving.access import authorise_manager, authorise_team
from serving.db import latest_feedback_at, load_plan, plan_feedback
from serving.deps import (
    FormatQuery,
    LanguageDep,
    Planner,
    SessionDep,
    TerritoryDep,
    csv_response,
)
from serving.responses import protected
from serving.schemas import ID_PATTERN, WEEK_PATTERN, TeamPlan, VisitPlan
from serving.served_territory import ServedTerritory

router = APIRouter(tags=["visits"])

WeekQuery = Annotated[
    str | None,
    Query(
        pattern=WEEK_PATTERN,
        description="ISO week YYYY-Www (default: the week after the data's last date).",
        examples=["2026-W01"],
    ),
]
ManagerPath = Annotated[str, Path(pattern=ID_PATTERN, examples=["M0003"])]
TeamPath = Annotated[str, Path(pattern=ID_PATTERN, examples=["T00"])]


@dataclass(frozen=True)
class PlanAsk:
    """What one manager's week is asked for; the default ask is the plan the batch made."""

    manager_id: str
    week: str
    language: str
    capacity: int | None = None
    days: int = 5
    work_on_holidays: bool = False
    explore_share: float | None = None

    @property
    def is_default(self) -> bool:
        return (
            self.capacity is None
            and self.days == 5
            and not self.work_on_holidays
            and self.explore_share is None
        )


def _memo_key(request: Request, ask: PlanAsk) -> tuple:
    return (ask.manager_id, ask.week, ask.language, request.app.state.store.versions_key())


def cached_plan(request: Request, session, ask: PlanAsk):
    """The precomputed default plan's JSON, if made with the models now serving."""
    store = request.app.state.store
    key = _memo_key(request, ask)
    memo: dict = request.app.state.plan_memo
    if key in memo:
        return memo[key]
    row = load_plan(session, ask.manager_id, ask.week, ask.language)
    if row is None or row.models != store.versions_key():
        return None
    told = latest_feedback_at(session, ask.manager_id)
    if told is not None and told >= row.created_at:
        return None  # feedback arrived after the batch: the plan must hear it
    if len(memo) > 5000:
        memo.clear()
    memo[key] = row.body
    return row.body


def manager_plan(
    request: Request, session, territory: ServedTerritory, ask: PlanAsk
) -> tuple[str | None, dict[str, Any] | None]:
    """(cached JSON, None) for a default plan made by the batch, else (None, fresh plan)."""
    if ask.is_default:
        body = cached_plan(request, session, ask)
        if body is not None:
            return body, None
    plan = computed_plan(request, territory, ask, plan_feedback(session, [ask.manager_id]))
    plan["source"] = "computed"
    return None, plan


def computed_plan(
    request: Request, territory: ServedTerritory, ask: PlanAsk, feedback=None
) -> dict[str, Any]:
    """A plan made on request: identical concurrent requests share one solver run, and the
    result is kept while the same models serve and no new feedback arrived (the generation
    and the feedback's fingerprint are part of the key)."""
    territory.manager_team(ask.manager_id)  # an unknown manager is a 404, never kept
    heard = None if feedback is None else feedback.fingerprint()
    key = (ask, territory.store.generation, heard)
    exploration = None
    if ask.explore_share is not None:
        holdout = territory.exploration.holdout_share if territory.exploration else 0.0
        exploration = Exploration(ask.explore_share, holdout)
    return request.app.state.plan_flights.get(
        key,
        lambda: territory.plan(
            ask.manager_id,
            ask.week,
            ask.capacity,
            ask.days,
            ask.language,
            feedback=feedback,
            include_non_working_days=ask.work_on_holidays,
            exploration=exploration,
        ),
    )


def _visit_rows(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan in route order (day, stop, from the base and back), as a manager prints it."""
    return route_rows(plan)


PLAN_LINKS = {
    "RetailerRisk": {
        "operationRef": "#/paths/~1v1~1retailers~1{retailer_id}~1risk/get",
        "parameters": {"retailer_id": "$response.body#/visits/0/retailer_id"},
        "description": "The first recommended retailer's risk.",
    }
}
TEAM_LINKS = {
    "ManagerPlan": {
        "operationRef": "#/paths/~1v1~1managers~1{manager_id}~1visit-plan/get",
        "parameters": {"manager_id": "$response.body#/managers/0/manager_id"},
        "description": "The first manager's own plan.",
    }
}


def _with_links(responses: dict, links: dict) -> dict:
    return {**responses, 200: {**responses.get(200, {}), "links": links}}


@router.get(
    "/managers/{manager_id}/visit-plan",
    response_model=VisitPlan,
    openapi_extra={"x-roles": ["planner"]},
    responses=_with_links(protected(404, 503, csv=True), PLAN_LINKS),
)
async def get_visit_plan(
    request: Request,
    manager_id: ManagerPath,
    principal: Planner,
    territory: TerritoryDep,
    language: LanguageDep,
    week: WeekQuery = None,
    capacity: Annotated[
        int | None, Query(ge=1, le=300, description="Visits this week (default: the manager's).")
    ] = None,
    days: Annotated[int, Query(ge=1, le=7, description="Working days.")] = 5,
    work_on_holidays: Annotated[
        bool, Query(description="Plan on public holidays and company days off too.")
    ] = False,
    explore_share: Annotated[
        float | None,
        Query(
            ge=0,
            lt=1,
            description="Share of capacity drawn at random among the near-best (default: "
            "FIELDCOACH_EXPLORE_SHARE; 0 turns exploration off).",
        ),
    ] = None,
    format: FormatQuery = "json",
):
    """A manager's next-best visits for a week: ranked list and day-by-day routes."""
    authorise_manager(principal, territory, manager_id)
    ask = PlanAsk(
        manager_id,
        week or territory.default_week(),
        language,
        capacity,
        days,
        work_on_holidays,
        explore_share,
    )
    # The week's precomputed plan straight from memory: the request the latency bar is
    # about never leaves the event loop. Anything else (database, solver) runs in a thread.
    if ask.is_default and format == "json":
        body = request.app.state.plan_memo.get(_memo_key(request, ask))
        if body is not None:
            return Response(body, media_type="application/json")
    return await run_in_threadpool(_visit_plan, request, territory, ask, format)


def _visit_plan(request: Request, territory: ServedTerritory, ask: PlanAsk, format: str):
    with request.app.state.sessions() as session:
        body, plan = manager_plan(request, session, territory, ask)
    if format == "csv":
        # manager_plan gives the cached JSON or a fresh plan, never neither.
        found = plan if plan is not None else json.loads(cast(str, body))
        return csv_response(_visit_rows(found), f"visit-plan-{ask.manager_id}", ask.language)
    if body is not None:
        return Response(body, media_type="application/json")
    return plan


@router.get(
    "/teams/{team_id}/visit-plan",
    response_model=TeamPlan,
    openapi_extra={"x-roles": ["planner"]},
    responses=_with_links(protected(404, 503, csv=True), TEAM_LINKS),
)
def get_team_plan(
    request: Request,
    team_id: TeamPath,
    principal: Planner,
    session: SessionDep,
    territory: TerritoryDep,
    language: LanguageDep,
    week: WeekQuery = None,
    format: FormatQuery = "json",
):
    """Plans for every manager of a team for the week (precomputed ones where available)."""
    plans: list[dict[str, Any]] = []
    week = week or territory.default_week()
    for manager_id in authorise_team(principal, territory, team_id):
        ask = PlanAsk(manager_id, week, language)
        body, plan = manager_plan(request, session, territory, ask)
        # manager_plan gives the cached JSON or a fresh plan, never neither.
        plans.append(plan if plan is not None else json.loads(cast(str, body)))
    if format == "csv":
        return csv_response(
            [r for p in plans for r in _visit_rows(p)], f"team-plan-{team_id}", language
        )
    return summarise_team(team_id, plans)

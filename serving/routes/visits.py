"""Visit plans for a manager's week and for a whole team."""

from __future__ import annotations

import json
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
from serving.territory import Territory

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


def _memo_key(request: Request, manager_id: str, week: str, language: str) -> tuple:
    return (manager_id, week, language, request.app.state.store.versions_key())


def cached_plan(request: Request, session, manager_id: str, week: str, language: str):
    """The precomputed default plan's JSON, if made with the models now serving."""
    store = request.app.state.store
    key = _memo_key(request, manager_id, week, language)
    memo: dict = request.app.state.plan_memo
    if key in memo:
        return memo[key]
    row = load_plan(session, manager_id, week, language)
    if row is None or row.models != store.versions_key():
        return None
    told = latest_feedback_at(session, manager_id)
    if told is not None and told >= row.created_at:
        return None  # feedback arrived after the batch: the plan must hear it
    if len(memo) > 5000:
        memo.clear()
    memo[key] = row.body
    return row.body


def manager_plan(
    request: Request,
    session,
    territory: Territory,
    manager_id: str,
    week: str | None,
    capacity: int | None,
    days: int,
    language: str,
    work_on_holidays: bool = False,
    explore_share: float | None = None,
) -> tuple[str | None, dict[str, Any] | None]:
    """(cached JSON, None) for a default plan made by the batch, else (None, fresh plan)."""
    week = week or territory.default_week()
    if capacity is None and days == 5 and not work_on_holidays and explore_share is None:
        body = cached_plan(request, session, manager_id, week, language)
        if body is not None:
            return body, None
    feedback = plan_feedback(session, [manager_id])
    plan = computed_plan(
        request,
        territory,
        manager_id,
        week,
        capacity,
        days,
        language,
        feedback,
        work_on_holidays,
        explore_share,
    )
    plan["source"] = "computed"
    return None, plan


def computed_plan(
    request: Request,
    territory: Territory,
    manager_id: str,
    week: str,
    capacity: int | None,
    days: int,
    language: str,
    feedback=None,
    work_on_holidays: bool = False,
    explore_share: float | None = None,
) -> dict[str, Any]:
    """A plan made on request: identical concurrent requests share one solver run, and the
    result is kept while the same models serve and no new feedback arrived (the generation
    and the feedback's fingerprint are part of the key)."""
    territory.manager_team(manager_id)  # an unknown manager is a 404, never kept
    heard = None if feedback is None else feedback.fingerprint()
    key = (
        manager_id,
        week,
        capacity,
        days,
        language,
        territory.store.generation,
        heard,
        work_on_holidays,
        explore_share,
    )
    exploration = None
    if explore_share is not None:
        holdout = territory.exploration.holdout_share if territory.exploration else 0.0
        exploration = Exploration(explore_share, holdout)
    return request.app.state.plan_flights.get(
        key,
        lambda: territory.plan(
            manager_id,
            week,
            capacity,
            days,
            language,
            feedback=feedback,
            include_non_working_days=work_on_holidays,
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
    # The week's precomputed plan straight from memory: the request the latency bar is
    # about never leaves the event loop. Anything else (database, solver) runs in a thread.
    default = capacity is None and days == 5 and not work_on_holidays and explore_share is None
    if default and format == "json":
        memo_key = _memo_key(request, manager_id, week or territory.default_week(), language)
        body = request.app.state.plan_memo.get(memo_key)
        if body is not None:
            return Response(body, media_type="application/json")
    return await run_in_threadpool(
        _visit_plan,
        request,
        territory,
        manager_id,
        week,
        capacity,
        days,
        language,
        format,
        work_on_holidays,
        explore_share,
    )


def _visit_plan(
    request,
    territory,
    manager_id,
    week,
    capacity,
    days,
    language,
    format,
    work_on_holidays,
    explore_share=None,
):
    with request.app.state.sessions() as session:
        body, plan = manager_plan(
            request,
            session,
            territory,
            manager_id,
            week,
            capacity,
            days,
            language,
            work_on_holidays,
            explore_share,
        )
    if format == "csv":
        return csv_response(
            _visit_rows(plan or json.loads(body)), f"visit-plan-{manager_id}", language
        )
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
    for manager_id in authorise_team(principal, territory, team_id):
        body, plan = manager_plan(request, session, territory, manager_id, week, None, 5, language)
        # manager_plan gives the cached JSON or a fresh plan, never neither.
        plans.append(plan if plan is not None else json.loads(cast(str, body)))
    if format == "csv":
        return csv_response(
            [r for p in plans for r in _visit_rows(p)], f"team-plan-{team_id}", language
        )
    return summarise_team(team_id, plans)

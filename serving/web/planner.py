"""The planner's pages: a team's week, a manager's week, a retailer; visit feedback.

Every plan, risk and feedback write goes through the API's own handlers (same team checks,
same cache, same validation); this module only lays their answers out.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from serving.db import Feedback
from serving.deps import TerritoryDep
from serving.routes.feedback import post_visit_decision, post_visit_outcome
from serving.routes.retailers import get_retailer_risk
from serving.routes.visits import ManagerPath, TeamPath, WeekQuery, get_team_plan, get_visit_plan
from serving.schemas import ID_PATTERN, VisitDecision, VisitOutcome
from serving.web.auth import PlannerUser, WebUser, writing_form
from serving.web.calls import call, form_error, post_feedback
from serving.web.charts import bar_chart, route_map
from serving.web.render import PREFIX, language_of, page, safe_next

router = APIRouter(prefix=f"{PREFIX}/plan", include_in_schema=False)
VISIT_HISTORY_ROWS = 12
CapacityQuery = Annotated[int | None, Query(ge=1, le=300)]
DaysQuery = Annotated[int, Query(ge=1, le=7)]


def granted_teams(user: WebUser, territory) -> list[str]:
    teams = {t for t in territory.team_of_manager.values() if isinstance(t, str)}
    return sorted(t for t in teams if user.principal.may_see_team(t))


@router.get("")
def teams(request: Request, user: PlannerUser, territory: TerritoryDep):
    return page(
        request,
        "plan_teams.html",
        user,
        teams=granted_teams(user, territory),
        week=territory.default_week(),
    )


def team_rows(team: dict[str, Any]) -> list[dict[str, Any]]:
    """Per manager: planned visits, capacity used, expected value saved, retailers due."""
    rows = []
    for plan in team["managers"]:
        visits = plan["visits"]
        rows.append(
            {
                "manager_id": plan["manager_id"],
                "visits": len(visits),
                "capacity": plan["capacity"],
                "used": len(visits) / plan["capacity"] if plan["capacity"] else 0.0,
                "expected_benefit": plan["expected_benefit"],
                "due": sum(1 for v in visits if v.get("due")),
                "km": plan["total_km"],
            }
        )
    return rows


async def _team_plan(request, user, territory, team_id, week, fmt):
    """The API's team plan (JSON rows or its CSV download), off the event loop."""
    language = language_of(request)

    def plans():
        with request.app.state.sessions() as session:
            return call(
                get_team_plan,
                request=request,
                team_id=team_id,
                principal=user.principal,
                session=session,
                territory=territory,
                language=language,
                week=week,
                format=fmt,
            )

    return await run_in_threadpool(plans)


@router.get("/teams/{team_id}")
async def team_week(
    request: Request,
    team_id: TeamPath,
    user: PlannerUser,
    territory: TerritoryDep,
    week: WeekQuery = None,
):
    team = await _team_plan(request, user, territory, team_id, week, "json")
    return page(request, "plan_team.html", user, team=team, rows=team_rows(team))


@router.get("/teams/{team_id}/plan.csv")
async def team_csv(
    request: Request,
    team_id: TeamPath,
    user: PlannerUser,
    territory: TerritoryDep,
    week: WeekQuery = None,
):
    return await _team_plan(request, user, territory, team_id, week, "csv")


async def _plan(request, user, territory, manager_id, week, capacity, days, fmt="json"):
    answer = await call(
        get_visit_plan,
        request=request,
        manager_id=manager_id,
        principal=user.principal,
        territory=territory,
        language=language_of(request),
        week=week,
        capacity=capacity,
        days=days,
        format=fmt,
    )
    if fmt != "json":
        return answer
    return json.loads(answer.body) if isinstance(answer, Response) else answer


def visit_states(session, manager_id: str, week: str, week_start: str) -> dict[str, dict]:
    """The latest stored decision and outcome of each retailer for this plan's week."""
    start = dt.date.fromisoformat(str(week_start)[:10])
    end = start + dt.timedelta(days=7)
    rows = session.scalars(
        select(Feedback)
        .where(Feedback.manager_id == manager_id, Feedback.kind.in_(("decision", "outcome")))
        .order_by(Feedback.id)
    )
    states: dict[str, dict] = {}
    for row in rows:
        p = row.payload
        state = states.setdefault(p.get("retailer_id", ""), {})
        if row.kind == "decision" and p.get("week") == week:
            state["decision"], state["reason"] = p.get("decision"), p.get("reason")
        elif row.kind == "outcome" and start <= dt.date.fromisoformat(p["visit_date"]) < end:
            state["done"] = bool(p.get("done"))
    return states


@router.get("/managers/{manager_id}")
async def manager_week(
    request: Request,
    manager_id: ManagerPath,
    user: PlannerUser,
    territory: TerritoryDep,
    week: WeekQuery = None,
    capacity: CapacityQuery = None,
    days: DaysQuery = 5,
):
    plan = await _plan(request, user, territory, manager_id, week, capacity, days)

    def states():
        with request.app.state.sessions() as session:
            return visit_states(session, manager_id, plan["week"], plan["week_start"])

    stored = await run_in_threadpool(states)
    query = {"week": plan["week"]}
    if capacity is not None:
        query["capacity"] = capacity
    if days != 5:
        query["days"] = days
    return page(
        request,
        "plan_manager.html",
        user,
        plan=plan,
        team_id=territory.team_of_manager.get(manager_id),
        states=stored,
        drawing=route_map(plan["visits"]),
        nonce=secrets.token_urlsafe(12),
        query=query,
        saved=request.query_params.get("saved") == "1",
    )


@router.get("/managers/{manager_id}/plan.csv")
async def manager_csv(
    request: Request,
    manager_id: ManagerPath,
    user: PlannerUser,
    territory: TerritoryDep,
    week: WeekQuery = None,
    capacity: CapacityQuery = None,
    days: DaysQuery = 5,
):
    return await _plan(request, user, territory, manager_id, week, capacity, days, "csv")


def _feedback_body(manager_id: str, form: dict[str, str], client_key: str):
    action = form.get("action")
    retailer_id = form.get("retailer_id", "")
    if action in ("accept", "reject"):
        reason = form.get("reason", "").strip() or None
        if action == "reject" and reason is None:
            raise HTTPException(422, "a rejection needs a reason")
        return "decision", VisitDecision(
            client_key=client_key,
            manager_id=manager_id,
            retailer_id=retailer_id,
            week=form.get("week", ""),
            decision=action,
            reason=reason,
        )
    if action == "done":
        return "outcome", VisitOutcome(
            client_key=client_key,
            manager_id=manager_id,
            retailer_id=retailer_id,
            visit_date=form.get("date", ""),
            done=True,
            purpose=form.get("purpose") or None,
        )
    raise HTTPException(422, "action must be accept, reject or done")


@router.post("/managers/{manager_id}/feedback")
async def manager_feedback(
    request: Request, manager_id: ManagerPath, user: PlannerUser, territory: TerritoryDep
):
    form = await writing_form(request, user)
    nonce = form.get("nonce", "")
    # One key per rendered form and visit: a double-click stores one record, as a retried
    # API post does.
    client_key = (
        f"web-{user.session_id}-{nonce[:40]}-{form.get('action')}-{form.get('retailer_id')}"
    )
    try:
        kind, body = _feedback_body(manager_id, form, client_key)
    except ValidationError as exc:
        raise form_error(exc) from None
    handler = post_visit_decision if kind == "decision" else post_visit_outcome
    await post_feedback(request, handler, body, user.principal, territory)
    back = safe_next(form.get("next"))
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joiner}saved=1#visit-{body.retailer_id}", 303)


def visit_history(territory, retailer_id: str) -> list[dict[str, Any]]:
    visits = territory.tables.get("visits")
    if visits is None or visits.empty:
        return []
    mine = visits[visits["retailer_id"] == retailer_id]
    mine = mine.sort_values("visit_date", ascending=False).head(VISIT_HISTORY_ROWS)
    rows = []
    for r in mine.to_dict("records"):
        duration = r.get("duration_min")
        rows.append(
            {
                "date": str(pd.Timestamp(r["visit_date"]).date()),
                "manager_id": r.get("manager_id"),
                "purpose": r.get("purpose") if isinstance(r.get("purpose"), str) else None,
                "duration_min": None if pd.isna(duration) else round(float(duration)),
            }
        )
    return rows


@router.get("/retailers/{retailer_id}")
async def retailer(
    request: Request,
    retailer_id: Annotated[str, Path(pattern=ID_PATTERN)],
    user: PlannerUser,
    territory: TerritoryDep,
):
    language = language_of(request)

    def risk():
        return call(
            get_retailer_risk,
            request=request,
            retailer_id=retailer_id,
            principal=user.principal,
            territory=territory,
            language=language,
        )

    found = await run_in_threadpool(risk)
    values = [w["order_value"] for w in found["order_history"]]
    return page(
        request,
        "plan_retailer.html",
        user,
        risk=found,
        bars=list(zip(bar_chart(values), found["order_history"], strict=True)),
        history=visit_history(territory, retailer_id),
    )

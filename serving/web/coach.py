"""The training coordinator's pages: a team's skill gaps, one manager, cohorts, completions.

Skills, recommended modules, cohorts and the recorded completion all come from the API's
handlers (``serving.routes.skills`` and ``serving.routes.feedback``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from features.contract import SKILLS
from serving.db import Feedback
from serving.deps import StoreDep
from serving.routes.feedback import post_training_completion
from serving.routes.skills import ManagerPath, get_cohorts, get_skills, get_training, skills_state
from serving.schemas import TrainingCompletion
from serving.web.auth import CoordinatorUser, writing_form
from serving.web.calls import call, form_error, post_feedback
from serving.web.charts import gap_colour
from serving.web.render import PREFIX, language_of, page

router = APIRouter(prefix=f"{PREFIX}/skills", include_in_schema=False)
NO_TEAM = "-"


def _teams(request: Request, managers: list[str]) -> dict[str, list[str]]:
    """Managers of the skills model grouped by their team in the data (if it is loaded)."""
    territory = request.app.state.territory
    teams: dict[str, list[str]] = {}
    for manager in managers:
        team = territory.team_of_manager.get(manager) if territory is not None else None
        teams.setdefault(team if isinstance(team, str) else NO_TEAM, []).append(manager)
    return teams


@router.get("")
def team_gaps(
    request: Request,
    user: CoordinatorUser,
    store: StoreDep,
    team: Annotated[str | None, Query(max_length=64)] = None,
):
    state, _version = skills_state(store)
    teams = _teams(request, state.managers())
    chosen = team if team in teams else sorted(teams)[0]
    rows: list[dict[str, Any]] = []
    for manager in teams[chosen]:
        found = call(
            get_skills,
            request=request,
            manager_id=manager,
            principal=user.principal,
            store=store,
            language=language_of(request),
            format="json",
        )
        by_skill = {s["skill"]: s for s in found["skills"]}
        rows.append({"manager_id": manager, "skills": by_skill})
    worst = max((max(s["gap"], 0) for r in rows for s in r["skills"].values()), default=0.0)
    return page(
        request,
        "skills_team.html",
        user,
        teams=sorted(teams),
        team=chosen,
        rows=rows,
        skills=SKILLS,
        colour=lambda gap: gap_colour(gap, worst),
        as_of=state.as_of,
    )


def completions(session, manager_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Feedback)
        .where(Feedback.manager_id == manager_id, Feedback.kind == "training")
        .order_by(Feedback.id.desc())
        .limit(20)
    )
    return [r.payload for r in rows]


@router.get("/managers/{manager_id}")
async def manager_skills(
    request: Request, manager_id: ManagerPath, user: CoordinatorUser, store: StoreDep
):
    language = language_of(request)

    def load():
        offered = {"request": request, "manager_id": manager_id, "principal": user.principal}
        skills = call(get_skills, **offered, store=store, language=language, format="json")
        training = call(get_training, **offered, store=store, language=language, format="json")
        with request.app.state.sessions() as session:
            recorded = completions(session, manager_id)
        return skills, training, recorded

    skills, training, recorded = await run_in_threadpool(load)
    state, _version = skills_state(store)
    courses = sorted((c["course_id"], c["title"]) for c in state.catalogue)
    return page(
        request,
        "skills_manager.html",
        user,
        manager_id=manager_id,
        team_id=_team_of(request, manager_id),
        skills=skills,
        training=training,
        courses=courses,
        recorded=recorded,
        today=dt.date.today().isoformat(),
        nonce=secrets.token_urlsafe(12),
        saved=request.query_params.get("saved") == "1",
    )


def _team_of(request: Request, manager_id: str) -> str | None:
    territory = request.app.state.territory
    return territory.team_of_manager.get(manager_id) if territory is not None else None


@router.post("/managers/{manager_id}/trainings")
async def record_training(
    request: Request, manager_id: ManagerPath, user: CoordinatorUser, store: StoreDep
):
    form = await writing_form(request, user)
    territory = request.app.state.territory
    if territory is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the data is not loaded")
    try:
        body = TrainingCompletion(
            client_key=f"web-{user.session_id}-{form.get('nonce', '')[:40]}-training",
            manager_id=manager_id,
            course_id=form.get("course_id", ""),
            completed_on=form.get("completed_on", ""),
        )
    except ValidationError as exc:
        raise form_error(exc) from None
    state, _version = skills_state(store)
    if body.course_id not in {c["course_id"] for c in state.catalogue}:
        raise HTTPException(422, f"no course {body.course_id!r}")
    await post_feedback(request, post_training_completion, body, user.principal, territory)
    return RedirectResponse(f"{PREFIX}/skills/managers/{manager_id}?saved=1", 303)


MinSize = Annotated[int, Query(ge=1, le=100)]
MaxSize = Annotated[int, Query(ge=1, le=200)]


def _cohorts(request: Request, user, store, min_size: int, max_size: int, fmt: str):
    """The API's cohorts for this coordinator, as JSON rows or its CSV download."""
    return call(
        get_cohorts,
        request=request,
        principal=user.principal,
        store=store,
        territory=request.app.state.territory,
        language=language_of(request),
        min_size=min_size,
        max_size=max_size,
        format=fmt,
    )


@router.get("/cohorts")
def cohorts(
    request: Request,
    user: CoordinatorUser,
    store: StoreDep,
    min_size: MinSize = 4,
    max_size: MaxSize = 12,
):
    sessions = _cohorts(request, user, store, min_size, max_size, "json")
    return page(
        request,
        "skills_cohorts.html",
        user,
        cohorts=sessions,
        min_size=min_size,
        max_size=max_size,
    )


@router.get("/cohorts.csv")
def cohorts_csv(
    request: Request,
    user: CoordinatorUser,
    store: StoreDep,
    min_size: MinSize = 4,
    max_size: MaxSize = 12,
):
    return _cohorts(request, user, store, min_size, max_size, "csv")

"""Skill estimates and gaps, training recommendations and cohorts, for coordinators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, status

from features.i18n import SKILL_NAMES, pick
from features.skill_gaps import explain_gaps
from features.skill_plans import SkillsState, recommend_cohorts, recommend_training
from fieldcoach.champions import SKILLS
from serving.access import authorise_manager, authorise_team, forbidden, scoped_managers
from serving.deps import (
    Coordinator,
    FormatQuery,
    LanguageDep,
    StoreDep,
    TerritoryDep,
    csv_response,
)
from serving.limits import error_item
from serving.responses import protected
from serving.schemas import ID_PATTERN, Cohort, ManagerSkills, TrainingPlan
from serving.security import Principal

router = APIRouter(tags=["skills"])
ManagerPath = Annotated[str, Path(pattern=ID_PATTERN, examples=["M0003"])]


def skills_state(store) -> tuple[SkillsState, str | None]:
    loaded = store.get(SKILLS)
    if loaded is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no manager-skills champion")
    return loaded.model.unwrap_python_model().state, loaded.version


def _authorise(request: Request, principal: Principal, state: SkillsState, manager_id: str):
    """Coordinators are scoped by team like planners: a scoped key gets one 403 for any
    manager outside its teams, known or not; an all-teams key gets 404 for an unknown one."""
    territory = request.app.state.territory
    if not principal.all_teams:
        scoped_managers(principal, territory)  # 503 when the teams cannot be checked
        authorise_manager(principal, territory, manager_id)
    if manager_id not in set(state.managers()):
        if not principal.all_teams:
            raise forbidden("manager", manager_id)
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no manager {manager_id!r} in the skills model"
        )


@router.get(
    "/managers/{manager_id}/skills",
    response_model=ManagerSkills,
    openapi_extra={"x-roles": ["coordinator"]},
    responses=protected(404, 503, csv=True),
)
def get_skills(
    request: Request,
    manager_id: ManagerPath,
    principal: Coordinator,
    store: StoreDep,
    language: LanguageDep,
    format: FormatQuery = "json",
):
    """A manager's nine skill estimates with uncertainty, targets, gaps and evidence."""
    state, version = skills_state(store)
    _authorise(request, principal, state, manager_id)
    rows = sorted(state.manager_estimates(manager_id).values(), key=lambda r: r["rank"])
    skills = [
        {
            **{k: v for k, v in r.items() if k != "manager_id"},
            "rank": int(r["rank"]),
            "latest_score": None
            if r.get("latest_score") != r.get("latest_score")
            else r.get("latest_score"),
        }
        for r in rows
    ]
    if format == "csv":
        return csv_response(
            [
                {"manager_id": manager_id, "skill_name": pick(SKILL_NAMES[s["skill"]], language)}
                | s
                for s in skills
            ],
            f"skills-{manager_id}",
            language,
        )
    return {
        "manager_id": manager_id,
        "as_of": state.as_of,
        "model_version": version,
        "skills": skills,
    }


@router.get(
    "/managers/{manager_id}/training",
    response_model=TrainingPlan,
    openapi_extra={"x-roles": ["coordinator"]},
    responses=protected(404, 503, csv=True),
)
def get_training(
    request: Request,
    manager_id: ManagerPath,
    principal: Coordinator,
    store: StoreDep,
    language: LanguageDep,
    budget_hours: Annotated[
        float | None, Query(gt=0, le=1000, description="Hours this quarter (default: model's).")
    ] = None,
    format: FormatQuery = "json",
):
    """Ranked training modules filling the budget, with expected gains and a rationale."""
    state, _version = skills_state(store)
    _authorise(request, principal, state, manager_id)
    plan = recommend_training(state, manager_id, budget_hours)
    modules = [
        {
            **{k: v for k, v in m.items() if not k.startswith("rationale_")},
            "rationale": m["rationale_zh" if language == "zh" else "rationale_en"],
        }
        for m in plan
    ]
    if format == "csv":
        return csv_response(
            [{"manager_id": manager_id, **m} for m in modules],
            f"training-{manager_id}",
            language,
        )
    key = "zh" if language == "zh" else "en"
    gaps = [
        {**g, "skill_name": g["skill_name"][key], "text": g[key]}
        for g in explain_gaps(state, manager_id, plan, budget_hours)
    ]
    return {
        "manager_id": manager_id,
        "as_of": state.as_of,
        "budget_hours": budget_hours or state.budget_hours,
        "modules": modules,
        "gaps": gaps,
    }


COHORT_LINKS = {
    "MemberTraining": {
        "operationRef": "#/paths/~1v1~1managers~1{manager_id}~1training/get",
        "parameters": {"manager_id": "$response.body#/0/members/0"},
        "description": "Training for the first session's first member.",
    }
}


@router.get(
    "/cohorts",
    response_model=list[Cohort],
    openapi_extra={"x-roles": ["coordinator"]},
    responses={
        **protected(503, 404, csv=True),
        200: {**protected(csv=True)[200], "links": COHORT_LINKS},
    },
)
def get_cohorts(
    request: Request,
    principal: Coordinator,
    store: StoreDep,
    territory: TerritoryDep,
    language: LanguageDep,
    min_size: Annotated[int, Query(ge=1, le=100, description="Smallest session.")] = 4,
    max_size: Annotated[int, Query(ge=1, le=200, description="Largest session.")] = 12,
    course_id: Annotated[
        str | None,
        Query(pattern=ID_PATTERN, description="Who should attend this course (its sessions)."),
    ] = None,
    team_id: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="Only this team's managers.")
    ] = None,
    format: FormatQuery = "json",
):
    """Labelled sessions of managers who share a gap (or who should attend ``course_id``),
    with the expected benefit, and who was left out and why.

    A team-scoped key groups only the managers of its teams."""
    if max_size < min_size:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            [error_item("max_size must be at least min_size", ["query", "max_size"])],
        )
    state, _version = skills_state(store)
    if course_id is not None and course_id not in {c["course_id"] for c in state.catalogue}:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no course {course_id!r}")
    known = set(state.managers())
    mine = scoped_managers(principal, request.app.state.territory)
    managers = None if mine is None else [m for m in mine if m in known]
    if team_id is not None:
        authorise_team(principal, territory, team_id)
        in_team = [m for m in territory.team_managers(team_id) if m in known]
        managers = in_team if managers is None else [m for m in in_team if m in managers]
        if not managers:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"team {team_id!r} has no manager in the model"
            )
    sessions = []
    if managers is None or managers:
        sessions = [
            _in_language(s, language)
            for s in recommend_cohorts(state, min_size, max_size, managers, course_id)
        ]
    if format == "csv":
        rows = [
            {**s, "left_out": [f"{x['manager_id']}: {x['text']}" for x in s["left_out"]]}
            for s in sessions
        ]
        return csv_response(rows, "cohorts", language)
    return sessions


def _in_language(session: dict, language: str) -> dict:
    key = "zh" if language == "zh" else "en"
    return {
        **session,
        "label": (session.get("label") or {}).get(key),
        "left_out": [
            {"manager_id": x["manager_id"], "reason": x["reason"], "text": x[key]}
            for x in session.get("left_out", [])
        ],
    }

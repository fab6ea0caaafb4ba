"""Skill estimates and gaps, training recommendations and cohorts, for coordinators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, status

from features.skill_plans import SkillsState, recommend_cohorts, recommend_training
from serving.access import authorise_manager, forbidden, scoped_managers
from serving.champions import SKILLS
from serving.deps import Coordinator, FormatQuery, LanguageDep, StoreDep, csv_response
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
            [{"manager_id": manager_id, **s} for s in skills], f"skills-{manager_id}"
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
            [
                {"manager_id": manager_id, **m, "expected_gain": str(m["expected_gain"])}
                for m in modules
            ],
            f"training-{manager_id}",
        )
    return {
        "manager_id": manager_id,
        "as_of": state.as_of,
        "budget_hours": budget_hours or state.budget_hours,
        "modules": modules,
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
        **protected(503, csv=True),
        200: {**protected(csv=True)[200], "links": COHORT_LINKS},
    },
)
def get_cohorts(
    request: Request,
    principal: Coordinator,
    store: StoreDep,
    min_size: Annotated[int, Query(ge=1, le=100, description="Smallest session.")] = 4,
    max_size: Annotated[int, Query(ge=1, le=200, description="Largest session.")] = 12,
    format: FormatQuery = "json",
):
    """Sessions of managers who share a priority gap, with course and expected benefit.

    A team-scoped key groups only the managers of its teams."""
    if max_size < min_size:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            [error_item("max_size must be at least min_size", ["query", "max_size"])],
        )
    state, _version = skills_state(store)
    mine = scoped_managers(principal, request.app.state.territory)
    if mine is None:
        sessions = recommend_cohorts(state, min_size, max_size)
    else:
        known = set(state.managers())
        members = [m for m in mine if m in known]
        sessions = recommend_cohorts(state, min_size, max_size, members) if members else []
    if format == "csv":
        return csv_response(sessions, "cohorts")
    return sessions

"""Feedback from the field: visit decisions, visit outcomes and training completions.

Each record is committed (fsynced on SQLite) before the response is sent, and a retried
post with the same ``client_key`` returns the first record. ``fieldcoach feedback export``
turns done visits and completions into rows of the data folder's tables.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status

from serving.db import Feedback, record_feedback
from serving.deps import Coordinator, Planner, SessionDep, TerritoryDep, check_team
from serving.schemas import FeedbackReceipt, TrainingCompletion, VisitDecision, VisitOutcome

router = APIRouter(prefix="/feedback", tags=["feedback"])

RESPONSES = {
    200: {"model": FeedbackReceipt, "description": "Already stored (a retry): the first record"},
    403: {"description": "Team not granted"},
    404: {"description": "Unknown manager"},
}


def forget_plans(request: Request, manager_id: str) -> None:
    """Drop the manager's plans held in memory: the next request re-plans with the feedback."""
    memo: dict = request.app.state.plan_memo
    for key in [k for k in memo if k[0] == manager_id]:
        memo.pop(key, None)


def _receipt(row: Feedback, created: bool, response: Response) -> FeedbackReceipt:
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return FeedbackReceipt(
        id=row.id,
        client_key=row.client_key,
        kind=row.kind,
        created=created,
        received_at=row.created_at,
    )


@router.post(
    "/visits",
    status_code=201,
    response_model=FeedbackReceipt,
    responses=RESPONSES,
    openapi_extra={"x-roles": ["planner"]},
)
def post_visit_decision(
    request: Request,
    body: VisitDecision,
    principal: Planner,
    session: SessionDep,
    territory: TerritoryDep,
    response: Response,
) -> FeedbackReceipt:
    """A planner's accept or reject (with reason) of a recommended visit; a rejection leaves
    the retailer out of the next plans (for the period a "not now" reason implies)."""
    check_team(principal, territory.manager_team(body.manager_id))
    row, created = record_feedback(
        session, "decision", body.client_key, body.manager_id, body.model_dump(), principal.key_id
    )
    forget_plans(request, body.manager_id)
    return _receipt(row, created, response)


@router.post(
    "/outcomes",
    status_code=201,
    response_model=FeedbackReceipt,
    responses=RESPONSES,
    openapi_extra={"x-roles": ["planner"]},
)
def post_visit_outcome(
    request: Request,
    body: VisitOutcome,
    principal: Planner,
    session: SessionDep,
    territory: TerritoryDep,
    response: Response,
) -> FeedbackReceipt:
    """Whether a visit was made and what happened; done visits feed the next training."""
    check_team(principal, territory.manager_team(body.manager_id))
    row, created = record_feedback(
        session, "outcome", body.client_key, body.manager_id, body.model_dump(), principal.key_id
    )
    forget_plans(request, body.manager_id)
    return _receipt(row, created, response)


@router.post(
    "/trainings",
    status_code=201,
    response_model=FeedbackReceipt,
    responses=RESPONSES,
    openapi_extra={"x-roles": ["coordinator"]},
)
def post_training_completion(
    body: TrainingCompletion,
    principal: Coordinator,
    session: SessionDep,
    territory: TerritoryDep,
    response: Response,
) -> FeedbackReceipt:
    """A manager completed a course; it feeds course effects at the next training run."""
    if body.manager_id not in territory.team_of_manager:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no manager {body.manager_id!r}")
    row, created = record_feedback(
        session, "training", body.client_key, body.manager_id, body.model_dump(), principal.key_id
    )
    return _receipt(row, created, response)

"""Feedback from the field: visit decisions, visit outcomes and training completions.

Each record is committed (fsynced on SQLite) before the response is sent. A retried post
with the same ``client_key`` and body returns the first record; client keys are scoped to
the API key that posts them and the kind of feedback, and reusing one for a different body
is 409. Every id in a body is checked against the key's teams and the data, and dates and
weeks against the data contract's rules, before anything is stored; ``fieldcoach feedback
export`` turns done visits and completions into rows of the data folder's tables.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from serving.access import authorise_manager, authorise_visit
from serving.db import ClientKeyConflict, Feedback, as_utc, record_feedback
from serving.deps import Coordinator, Planner, SessionDep, TerritoryDep
from serving.feedback_rules import check_course, check_day, check_week
from serving.responses import errors, protected
from serving.schemas import FeedbackReceipt, TrainingCompletion, VisitDecision, VisitOutcome
from serving.security import Principal

router = APIRouter(prefix="/feedback", tags=["feedback"])

RESPONSES = {
    200: {"model": FeedbackReceipt, "description": "Already stored (a retry): the first record"},
    **protected(404, 409, 503),
    **errors(400),
}


def _store(session, kind: str, body, principal: Principal, response: Response) -> FeedbackReceipt:
    try:
        row, created = record_feedback(
            session, kind, body.client_key, body.manager_id, body.model_dump(), principal.key_id
        )
    except ClientKeyConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return _receipt(row, created, response)


def _receipt(row: Feedback, created: bool, response: Response) -> FeedbackReceipt:
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return FeedbackReceipt(
        id=row.id,
        client_key=row.client_key,
        kind=row.kind,
        created=created,
        received_at=as_utc(row.created_at),
    )


@router.post(
    "/visits",
    status_code=201,
    response_model=FeedbackReceipt,
    responses=RESPONSES,
    openapi_extra={"x-roles": ["planner"]},
)
def post_visit_decision(
    body: VisitDecision,
    principal: Planner,
    session: SessionDep,
    territory: TerritoryDep,
    response: Response,
) -> FeedbackReceipt:
    """A planner's accept or reject (with reason) of a recommended visit."""
    authorise_visit(principal, territory, body.manager_id, body.retailer_id)
    check_week(territory, body.week)
    return _store(session, "decision", body, principal, response)


@router.post(
    "/outcomes",
    status_code=201,
    response_model=FeedbackReceipt,
    responses=RESPONSES,
    openapi_extra={"x-roles": ["planner"]},
)
def post_visit_outcome(
    body: VisitOutcome,
    principal: Planner,
    session: SessionDep,
    territory: TerritoryDep,
    response: Response,
) -> FeedbackReceipt:
    """Whether a visit was made and what happened; done visits feed the next training."""
    authorise_visit(principal, territory, body.manager_id, body.retailer_id)
    check_day(territory, body.manager_id, body.visit_date, "visit_date")
    return _store(session, "outcome", body, principal, response)


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
    authorise_manager(principal, territory, body.manager_id)
    check_course(territory, body.course_id)
    check_day(territory, body.manager_id, body.completed_on, "completed_on")
    return _store(session, "training", body, principal, response)

"""Feedback from the field: visit decisions, visit outcomes and training completions.

Each record is committed (fsynced on SQLite) before the response is sent. A retried post
with the same ``client_key`` and body returns the first record; client keys are scoped to
the API key that posts them and the kind of feedback, and reusing one for a different body
is 409. Every id in a body is checked against the key's teams and the data, and dates and
weeks against the data contract's rules, before anything is stored; ``fieldcoach feedback
export`` turns done visits and completions into rows of the data folder's tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from sqlalchemy.orm import Session

from serving.access import authorise_manager, authorise_visit
from serving.db import ClientKeyConflict, as_utc, record_feedback
from serving.deps import Coordinator, Planner, SessionDep, TerritoryDep
from serving.feedback_rules import check_course, check_day, check_week
from serving.responses import errors, protected
from serving.schemas import (
    FeedbackBase,
    FeedbackReceipt,
    TrainingCompletion,
    VisitDecision,
    VisitOutcome,
)
from serving.security import Principal
from serving.served_territory import ServedTerritory

router = APIRouter(prefix="/feedback", tags=["feedback"])

RESPONSES = {
    200: {"model": FeedbackReceipt, "description": "Already stored (a retry): the first record"},
    **protected(404, 409, 503),
    **errors(400),
}

Handler = TypeVar("Handler", bound=Callable[..., Any])


def _post(path: str, role: str) -> Callable[[Handler], Handler]:
    """The route every feedback post shares: 201 on a new record, 200 on a retry."""
    return router.post(
        path,
        status_code=201,
        response_model=FeedbackReceipt,
        responses=RESPONSES,
        openapi_extra={"x-roles": [role]},
    )


def forget_plans(request: Request, manager_id: str) -> None:
    """Drop the manager's plans held in memory: the next request re-plans with the feedback."""
    memo: dict = request.app.state.plan_memo
    for key in [k for k in memo if k[0] == manager_id]:
        memo.pop(key, None)


@dataclass(frozen=True)
class FeedbackDesk:
    """Where a checked feedback post is stored: the request's session, data and response.

    The web pages build one from their own session, so a record posted from a form is
    stored, acknowledged and heard by the plans exactly as one posted to the API.
    """

    request: Request
    session: Session
    territory: ServedTerritory
    response: Response

    def record(
        self, kind: str, body: FeedbackBase, principal: Principal, *, replan: bool = False
    ) -> FeedbackReceipt:
        """Store ``body`` as feedback of ``kind`` and answer with its receipt.

        Args:
            replan: the record changes the manager's plans, so the ones held in memory go.
        """
        try:
            row, created = record_feedback(
                self.session,
                kind,
                body.client_key,
                body.manager_id,
                body.model_dump(),
                principal.key_id,
            )
        except ClientKeyConflict as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        if replan:
            forget_plans(self.request, body.manager_id)
        self.response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return FeedbackReceipt(
            id=row.id,
            client_key=row.client_key,
            kind=row.kind,
            created=created,
            received_at=as_utc(row.created_at),
        )


def get_desk(
    request: Request, session: SessionDep, territory: TerritoryDep, response: Response
) -> FeedbackDesk:
    return FeedbackDesk(request, session, territory, response)


DeskDep = Annotated[FeedbackDesk, Depends(get_desk)]


@_post("/visits", "planner")
def post_visit_decision(body: VisitDecision, principal: Planner, desk: DeskDep) -> FeedbackReceipt:
    """A planner's accept or reject (with reason) of a recommended visit; a rejection leaves
    the retailer out of the next plans (for the period a "not now" reason implies)."""
    authorise_visit(principal, desk.territory, body.manager_id, body.retailer_id)
    check_week(desk.territory, body.week)
    return desk.record("decision", body, principal, replan=True)


@_post("/outcomes", "planner")
def post_visit_outcome(body: VisitOutcome, principal: Planner, desk: DeskDep) -> FeedbackReceipt:
    """Whether a visit was made and what happened; done visits feed the next training."""
    authorise_visit(principal, desk.territory, body.manager_id, body.retailer_id)
    check_day(desk.territory, body.manager_id, body.visit_date, "visit_date")
    return desk.record("outcome", body, principal, replan=True)


@_post("/trainings", "coordinator")
def post_training_completion(
    body: TrainingCompletion, principal: Coordinator, desk: DeskDep
) -> FeedbackReceipt:
    """A manager completed a course; it feeds course effects at the next training run."""
    authorise_manager(principal, desk.territory, body.manager_id)
    check_course(desk.territory, body.course_id)
    check_day(desk.territory, body.manager_id, body.completed_on, "completed_on")
    return desk.record("training", body, principal)

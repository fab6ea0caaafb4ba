"""Calling the API's route handlers from a page: the arguments each declares, by name.

The pages answer through the API's own handlers so that every rule (roles, team scope,
object checks, validation) is the API's. A handler's parameters are its dependencies
(``request``, ``principal``, ``store``, ``session``, ...); a page offers what it has and
each handler takes what it declares, so a handler that gains a dependency keeps working
here without a second copy of its checks.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from serving.routes.feedback import FeedbackDesk
from serving.schemas import FeedbackBase
from serving.security import Principal
from serving.served_territory import ServedTerritory


def call(handler: Callable[..., Any], **offered: Any) -> Any:
    """``handler(...)`` with the offered values its signature names (``_`` is the principal).

    Raises:
        TypeError: the handler needs a value the page did not offer.
    """
    arguments = {}
    for name, parameter in inspect.signature(handler).parameters.items():
        key = "principal" if name == "_" else name
        if key in offered:
            arguments[name] = offered[key]
        elif parameter.default is inspect.Parameter.empty:
            raise TypeError(f"{handler.__name__} needs {name!r}, which the page did not offer")
    return handler(**arguments)


def needs(handler: Callable[..., Any], name: str) -> bool:
    """Whether ``handler`` declares ``name`` (to open a database session only if it does)."""
    return name in inspect.signature(handler).parameters


async def post_feedback(
    request: Request,
    handler: Callable[..., Any],
    body: FeedbackBase,
    principal: Principal,
    territory: ServedTerritory,
) -> None:
    """Store a form's feedback through the API's handler, in a thread with its own session."""

    def store() -> None:
        with request.app.state.sessions() as session:
            desk = FeedbackDesk(request, session, territory, Response())
            call(handler, body=body, principal=principal, desk=desk)

    await run_in_threadpool(store)


def form_error(exc: ValidationError) -> HTTPException:
    """A form that fails its API schema: 422 naming each field and what is wrong with it."""
    detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return HTTPException(422, detail)

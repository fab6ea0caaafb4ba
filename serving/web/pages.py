"""The workspace's door: sign in and out, the start page of each role, the language switch."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from serving.web.auth import (
    SESSION_COOKIE,
    SESSION_HOURS,
    SIGNIN_COOKIE,
    UserDep,
    WebUser,
    end_session,
    optional_user,
    read_form,
    start_session,
    writing_form,
)
from serving.web.i18n import LANGUAGES
from serving.web.render import LANGUAGE_COOKIE, PREFIX, page, safe_next

router = APIRouter(prefix=PREFIX, include_in_schema=False)

HOME_OF_ROLE = {
    "planner": f"{PREFIX}/plan",
    "coordinator": f"{PREFIX}/skills",
    "data_scientist": f"{PREFIX}/models",
}


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.get("")
async def home(request: Request, user: Annotated[WebUser | None, Depends(optional_user)]):
    if user is None:  # the address people are given answers with the sign-in form itself
        return signin_form(request)
    target = HOME_OF_ROLE.get(user.principal.role)
    if target is None:
        return page(request, "admin.html", user)
    return RedirectResponse(target, 303)


@router.get("/signin")
def signin_form(request: Request, next: Annotated[str | None, Query(max_length=500)] = None):
    token = secrets.token_urlsafe(24)
    response = page(request, "signin.html", None, signin_token=token, next=safe_next(next))
    response.set_cookie(
        SIGNIN_COOKIE,
        token,
        max_age=900,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path=f"{PREFIX}/signin",
    )
    return response


@router.post("/signin")
async def signin(request: Request) -> Response:
    form = await read_form(request)
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    given = form.get("signin_token", "")
    target = safe_next(form.get("next"))
    if not expected or not hmac.compare_digest(expected, given):
        # A post from another site (or an expired form): show a fresh form, sign nobody in.
        return RedirectResponse(f"{PREFIX}/signin", 303)
    key = form.get("key", "").strip()

    def start():
        with request.app.state.sessions() as session:
            return start_session(session, key) if 0 < len(key) <= 200 else None

    started = await run_in_threadpool(start)
    if started is None:
        token = secrets.token_urlsafe(24)
        response: Response = page(
            request,
            "signin.html",
            None,
            status_code=401,
            signin_token=token,
            next=target,
            failed=True,
        )
        response.set_cookie(
            SIGNIN_COOKIE, token, max_age=900, httponly=True, samesite="strict",
            secure=_secure(request), path=f"{PREFIX}/signin",
        )  # fmt: skip
        return response
    token, principal = started
    if target == PREFIX:
        target = HOME_OF_ROLE.get(principal.role, PREFIX)
    response = RedirectResponse(target, 303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path=PREFIX,
    )
    response.delete_cookie(SIGNIN_COOKIE, path=f"{PREFIX}/signin")
    return response


@router.post("/signout")
async def signout(request: Request, user: UserDep) -> Response:
    await writing_form(request, user)
    token = request.cookies.get(SESSION_COOKIE, "")

    def end():
        with request.app.state.sessions() as session:
            end_session(session, token)

    await run_in_threadpool(end)
    response = RedirectResponse(f"{PREFIX}/signin", 303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/lang")
def switch_language(
    to: Annotated[str, Query(max_length=2)],
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Remember the language in a cookie (it changes no data, so a link is enough)."""
    response = RedirectResponse(safe_next(next), 303)
    if to in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, to, max_age=365 * 86400, samesite="lax", path="/")
    return response

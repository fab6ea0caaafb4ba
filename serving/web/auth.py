"""Signing in to the workspace: an API key pasted once, exchanged for a session cookie.

The cookie holds a random session token; the database keeps only its SHA-256 next to the
key's hash (never the key), the session's CSRF token and its expiry. Every request looks
the session up and then the key through ``serving.security`` (the API's own rule), so a
revoked key stops working on the next page, and the role and team checks are the API's
``require`` and ``check_team``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from serving.db import Base, utcnow
from serving.deps import require
from serving.security import Principal, find_key, find_key_hash, hash_key

SESSION_COOKIE = "fc_session"
SIGNIN_COOKIE = "fc_signin"  # double-submit token of the sign-in form (before a session)
SESSION_HOURS = 8
MAX_FORM_BYTES = 64 * 1024


class WebSession(Base):
    """A signed-in browser: the hash of its cookie's token and of the key it signed in with.

    Declared on ``serving.db.Base``, so ``make_engine`` creates the table with the others.
    """

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    key_hash: Mapped[str] = mapped_column(String(64), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


@dataclass(frozen=True)
class WebUser:
    """The signed-in person: the API principal behind their key and their session's CSRF."""

    principal: Principal
    csrf_token: str
    session_id: int


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(session: Session, key: str) -> tuple[str, Principal] | None:
    """A new session for a valid key: (the cookie's token, the principal), else None."""
    principal = find_key(session, key)
    if principal is None:
        return None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        WebSession(
            token_hash=_token_hash(token),
            key_hash=hash_key(key),
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + dt.timedelta(hours=SESSION_HOURS),
        )
    )
    session.commit()
    return token, principal


def end_session(session: Session, token: str) -> None:
    row = session.scalar(select(WebSession).where(WebSession.token_hash == _token_hash(token)))
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()
        session.commit()


def find_user(session: Session, token: str) -> WebUser | None:
    """The person behind a cookie's token: session live and its key not revoked."""
    row = session.scalar(
        select(WebSession).where(
            WebSession.token_hash == _token_hash(token),
            WebSession.ended_at.is_(None),
            WebSession.expires_at > utcnow(),
        )
    )
    if row is None:
        return None
    principal = find_key_hash(session, row.key_hash)
    if principal is None:
        return None
    return WebUser(principal, row.csrf_token, row.id)


def _lookup(request: Request, token: str) -> WebUser | None:
    with request.app.state.sessions() as session:
        return find_user(session, token)


async def optional_user(request: Request) -> WebUser | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 200:
        return None
    return await run_in_threadpool(_lookup, request, token)


async def current_user(request: Request) -> WebUser:
    user = await optional_user(request)
    if user is None:
        raise SignInRequired()
    request.state.web_user = user  # a refusal page still shows the person's menu
    return user


UserDep = Annotated[WebUser, Depends(current_user)]


def need(*roles: str):
    """A page dependency: a signed-in person whose key has one of ``roles`` (API's check)."""
    check = require(*roles)

    async def dependency(user: UserDep) -> WebUser:
        await check(user.principal)
        return user

    return dependency


PlannerUser = Annotated[WebUser, Depends(need("planner"))]
CoordinatorUser = Annotated[WebUser, Depends(need("coordinator"))]
ScientistUser = Annotated[WebUser, Depends(need("data_scientist"))]


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form (the only kind the pages send), size-limited; first value wins."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "form too large")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "unreadable form") from None
    return {k: v[0] for k, v in fields.items()}


def check_csrf(user: WebUser, form: dict[str, str]) -> None:
    """Every form that writes carries the session's token; a forged post lacks it."""
    if not hmac.compare_digest(form.get("csrf", ""), user.csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form's CSRF token is missing or stale")


async def writing_form(request: Request, user: WebUser) -> dict[str, str]:
    form = await read_form(request)
    check_csrf(user, form)
    return form

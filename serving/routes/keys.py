"""API keys, for admins."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from serving.db import ApiKey
from serving.deps import Admin, SessionDep
from serving.schemas import KeyCreated, KeyInfo, KeyRequest
from serving.security import create_key

router = APIRouter(prefix="/keys", tags=["keys"])


@router.post("", status_code=201, response_model=KeyCreated, openapi_extra={"x-roles": ["admin"]})
def post_key(body: KeyRequest, _: Admin, session: SessionDep) -> KeyCreated:
    """Create a key; the response is the only time the key is shown."""
    try:
        key, row = create_key(session, body.role, body.teams, body.label)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
    return KeyCreated(id=row.id, key=key, role=row.role, teams=row.teams)


@router.get("", response_model=list[KeyInfo], openapi_extra={"x-roles": ["admin"]})
def list_keys(_: Admin, session: SessionDep) -> list[ApiKey]:
    """Every key's id, prefix, role and teams (never the key)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))

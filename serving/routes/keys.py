"""API keys, for admins: create, list and revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from serving.db import ApiKey
from serving.deps import Admin, SessionDep
from serving.limits import error_item
from serving.responses import errors, protected
from serving.schemas import KeyCreated, KeyInfo, KeyRequest
from serving.security import create_key, principal_of, revoke_key, stored_keys

router = APIRouter(prefix="/keys", tags=["keys"])

KEY_LINKS = {
    "RevokeKey": {
        "operationRef": "#/paths/~1v1~1keys~1{key_id}/delete",
        "parameters": {"key_id": "$response.body#/id"},
        "description": "Revoke the key just created.",
    }
}


def key_info(row: ApiKey) -> KeyInfo:
    """A key's record as shown (a coordinator key of old with no team reads as '*')."""
    info = KeyInfo.model_validate(row)
    return info.model_copy(update={"teams": sorted(principal_of(row).teams)})


@router.post(
    "",
    status_code=201,
    response_model=KeyCreated,
    openapi_extra={"x-roles": ["admin"]},
    responses={**protected(), **errors(400), 201: {"links": KEY_LINKS}},
)
def post_key(body: KeyRequest, _: Admin, session: SessionDep) -> KeyCreated:
    """Create a key; the response is the only time the key is shown."""
    try:
        key, row = create_key(session, body.role, body.teams, body.label)
    except ValueError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY, [error_item(str(exc), ["body"])]
        ) from None
    return KeyCreated(id=row.id, key=key, role=row.role, teams=row.teams)


@router.get(
    "", response_model=list[KeyInfo], openapi_extra={"x-roles": ["admin"]}, responses=protected()
)
def list_keys(_: Admin, session: SessionDep) -> list[KeyInfo]:
    """Every key's id, prefix, role, teams and revocation (never the key)."""
    return [key_info(row) for row in stored_keys(session)]


@router.delete(
    "/{key_id}",
    response_model=KeyInfo,
    openapi_extra={"x-roles": ["admin"]},
    responses=protected(404),
)
def delete_key(
    key_id: Annotated[int, Path(ge=1, le=2**31 - 1)], _: Admin, session: SessionDep
) -> KeyInfo:
    """Revoke a key: from the next request on, in every worker, it is refused (401)."""
    row = revoke_key(session, key_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no key {key_id}")
    return key_info(row)

"""FastAPI dependencies: the database session, the caller's key, language and format."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import Depends, Header, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from features.i18n import localise_rows
from fieldcoach.champions import ModelStore
from serving.security import KeyLookup, Principal
from serving.served_territory import ServedTerritory


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_store(request: Request) -> ModelStore:
    return request.app.state.store


StoreDep = Annotated[ModelStore, Depends(get_store)]


async def get_territory(request: Request) -> ServedTerritory:
    territory = request.app.state.territory
    if territory is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the data is not loaded")
    return territory


TerritoryDep = Annotated[ServedTerritory, Depends(get_territory)]


async def lookup_principal(request: Request, key: str) -> Principal | None:
    """The key's holder, read from the database on every request (one indexed query): a
    revoked key is refused on its next request in every worker."""
    if len(key) > 200:  # no key is this long; do not hash megabytes
        return None
    lookup: KeyLookup = request.app.state.key_lookup
    if lookup.on_loop:
        return lookup(key)
    return await run_in_threadpool(lookup, key)


async def get_principal(
    request: Request,
    x_api_key: Annotated[
        str | None, Header(description="Your API key (`fieldcoach keys create`).")
    ] = None,
) -> Principal:
    if not x_api_key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send it in the X-API-Key header",
            headers={"WWW-Authenticate": "X-API-Key"},
        )
    principal = await lookup_principal(request, x_api_key)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown or revoked API key",
            headers={"WWW-Authenticate": "X-API-Key"},
        )
    return principal


async def get_optional_principal(
    request: Request,
    x_api_key: Annotated[
        str | None,
        Header(description="Optional: a data_scientist or admin key shows run ids and notes."),
    ] = None,
) -> Principal | None:
    """The caller if a valid key is sent; anyone may call without one."""
    if not x_api_key:
        return None
    return await lookup_principal(request, x_api_key)


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets through only keys of these roles (403 otherwise)."""

    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"a {principal.role} key may not call this; it needs role {' or '.join(roles)}",
            )
        return principal

    check.roles = roles  # type: ignore[attr-defined]  # read by the route tests
    return check


Planner = Annotated[Principal, Depends(require("planner"))]
Coordinator = Annotated[Principal, Depends(require("coordinator"))]
DataScientist = Annotated[Principal, Depends(require("data_scientist"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def check_team(principal: Principal, team_id: str | None) -> None:
    """403 unless the key may see this team (the message does not say whether it exists)."""
    if not principal.may_see_team(team_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"this key may not see team {team_id or '(none)'}"
        )


async def get_language(
    accept_language: Annotated[
        str | None, Header(description="`zh` or `en` (default) for reasons and talking points.")
    ] = None,
) -> str:
    """The first of zh/en the client accepts, in its order of preference."""
    if not accept_language:
        return "en"
    ranked = []
    for i, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower().split("-")[0]))
    for _, _, tag in sorted(ranked):
        if tag in ("zh", "en"):
            return tag
    return "en"


LanguageDep = Annotated[str, Depends(get_language)]
FormatQuery = Annotated[
    Literal["json", "csv"],
    Query(description="csv: a UTF-8 CSV with BOM that opens in Excel with Chinese intact."),
]


def csv_response(rows: list[dict[str, Any]], filename: str, language: str = "en") -> Response:
    """Rows as CSV with a UTF-8 BOM (Excel then reads Chinese correctly), headers, yes/no and
    numbers in the reader's language."""
    # object columns: a blank base row must not turn whole yuan into floats (1019.0)
    frame = pd.DataFrame(localise_rows(rows, language), dtype=object)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return Response(
        content=("\ufeff" + buffer.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )

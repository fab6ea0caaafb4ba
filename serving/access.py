"""Object-level authorisation: every id a caller names, checked against its key's teams.

A key scoped to some teams gets one answer for an id outside its scope, whether that id
exists or not: 403 "this key may not see manager X". Answering "not yours" differently from
"not there" would let a scoped key map the other teams' ids. A key for all teams (``*``)
sees every id, so for it an unknown id is a plain 404.

Ids in a body are checked the same way, and against the data: a visit's retailer must be
served by the manager named with it, so a key for T00 cannot write about T01's retailers
by naming one of its own managers.
"""

from __future__ import annotations

from fastapi import HTTPException, status

from serving.limits import error_item, safe_text
from serving.security import Principal
from serving.served_territory import ServedTerritory

_MISSING = object()


def forbidden(kind: str, value: str) -> HTTPException:
    return HTTPException(
        status.HTTP_403_FORBIDDEN, f"this key may not see {kind} {safe_text(value, 64)}"
    )


def not_found(kind: str, value: str) -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND, f"no {kind} {safe_text(value, 64)!r} in the data"
    )


def unprocessable(message: str, field: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_ENTITY, [error_item(message, ["body", field], "rule")]
    )


def authorise_manager(principal: Principal, territory: ServedTerritory, manager_id: str) -> None:
    """403 if the key may not see this manager (or it is unknown to a scoped key), else 404
    for an unknown manager."""
    team = territory.team_of_manager.get(manager_id, _MISSING)
    if principal.all_teams:
        if team is _MISSING:
            raise not_found("manager", manager_id)
        return
    if team is _MISSING or not principal.may_see_team(team):  # type: ignore[arg-type]
        raise forbidden("manager", manager_id)


def authorise_team(principal: Principal, territory: ServedTerritory, team_id: str) -> list[str]:
    """The team's managers, if the key may see the team (same 403 / 404 rule)."""
    members = sorted(m for m, t in territory.team_of_manager.items() if t == team_id)
    if principal.all_teams:
        if not members:
            raise not_found("team", team_id)
    elif not members or not principal.may_see_team(team_id):
        raise forbidden("team", team_id)
    return members


def authorise_retailer(principal: Principal, territory: ServedTerritory, retailer_id: str) -> None:
    """403 if the key may not see the retailer's manager (or it is unknown to a scoped
    key), else 404 for an unknown retailer."""
    known = territory.knows_retailer(retailer_id)
    if principal.all_teams:
        if not known:
            raise not_found("retailer", retailer_id)
        return
    owner = territory.manager_of_retailer.get(retailer_id)
    team = territory.team_of_manager.get(owner) if owner else None
    if not known or owner is None or not principal.may_see_team(team):
        raise forbidden("retailer", retailer_id)


def authorise_visit(
    principal: Principal, territory: ServedTerritory, manager_id: str, retailer_id: str
) -> None:
    """A body naming a manager and a retailer: the key may see the manager, and the
    retailer is that manager's in the data (a scoped key gets the same 403 for any other
    retailer; an all-teams key gets a 422 naming the rule)."""
    authorise_manager(principal, territory, manager_id)
    owner = territory.manager_of_retailer.get(retailer_id)
    if not principal.all_teams:
        if owner != manager_id:
            raise forbidden("retailer", retailer_id)
        return
    if not territory.knows_retailer(retailer_id):
        raise unprocessable(
            f"retailer_id {safe_text(retailer_id, 64)!r} is not a retailer_id in retailers",
            "retailer_id",
        )
    if owner is not None and owner != manager_id:
        raise unprocessable(
            f"retailer {retailer_id} is served by manager {owner}, not {manager_id}: "
            "feedback names the retailer's own manager",
            "retailer_id",
        )


def scoped_managers(principal: Principal, territory: ServedTerritory | None) -> list[str] | None:
    """The managers a scoped key may see, or None for a key that sees every team."""
    if principal.all_teams:
        return None
    if territory is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the data is not loaded, so this team-scoped key cannot be checked",
        )
    return sorted(m for m, t in territory.team_of_manager.items() if principal.may_see_team(t))

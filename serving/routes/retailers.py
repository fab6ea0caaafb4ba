"""A retailer's churn risk with reasons and recent orders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from serving.deps import LanguageDep, Planner, TerritoryDep, check_team
from serving.schemas import ID_PATTERN, RetailerRisk

router = APIRouter(tags=["retailers"])


@router.get(
    "/retailers/{retailer_id}/risk",
    response_model=RetailerRisk,
    openapi_extra={"x-roles": ["planner"]},
    responses={404: {"description": "Unknown retailer"}, 403: {"description": "Team not granted"}},
)
def get_retailer_risk(
    retailer_id: Annotated[str, Path(pattern=ID_PATTERN, examples=["R000123"])],
    principal: Planner,
    territory: TerritoryDep,
    language: LanguageDep,
) -> dict:
    """Churn probability, value at risk, reasons and the last 13 weeks of orders."""
    manager = territory.retailer_manager(retailer_id)
    check_team(principal, territory.team_of_manager.get(manager) if manager else None)
    return territory.risk(retailer_id, language)

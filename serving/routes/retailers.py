"""A retailer's churn risk with reasons and recent orders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from serving.access import authorise_retailer
from serving.deps import LanguageDep, Planner, TerritoryDep
from serving.responses import protected
from serving.schemas import ID_PATTERN, RetailerRisk

router = APIRouter(tags=["retailers"])


@router.get(
    "/retailers/{retailer_id}/risk",
    response_model=RetailerRisk,
    openapi_extra={"x-roles": ["planner"]},
    responses=protected(404, 503),
)
def get_retailer_risk(
    retailer_id: Annotated[str, Path(pattern=ID_PATTERN, examples=["R000123"])],
    principal: Planner,
    territory: TerritoryDep,
    language: LanguageDep,
) -> dict:
    """Churn probability, value at risk, reasons and the last 13 weeks of orders."""
    authorise_retailer(principal, territory, retailer_id)
    return territory.risk(retailer_id, language)

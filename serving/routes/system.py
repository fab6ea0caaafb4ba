"""Health, readiness, model versions and reload."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status
from mlflow import MlflowClient

from fieldcoach.champions import registry_missing
from fieldcoach.registry import list_models as registry_versions
from serving.batch import store_week_plans
from serving.deps import (
    DataScientist,
    FormatQuery,
    LanguageDep,
    StoreDep,
    csv_response,
    get_optional_principal,
)
from serving.responses import errors, protected
from serving.schemas import Health, ModelVersion, ReloadResult
from serving.security import Principal

router = APIRouter(tags=["system"])
log = logging.getLogger(__name__)
INSIDERS = ("data_scientist", "admin")  # roles that may see run ids, paths and notes
OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


@router.get("/health", response_model=Health, responses=errors(413))
async def health(request: Request, store: StoreDep, principal: OptionalPrincipal) -> Health:
    """Which champions are loaded and from where (registry or the last known good copy).

    Without a key: the status and each model's name, version and source. Run ids, the data
    folder and the notes (which may name paths and errors) need a data_scientist or admin
    key. Answered from memory on the event loop, so it stays fast under load."""
    loaded = [m.describe() for m in store.loaded().values()]
    notes = list(store.notes)
    territory = request.app.state.territory
    if territory is None:
        notes.append(f"data not loaded: {request.app.state.data_error}")
    degraded = bool(notes) or any(m["source"] != "registry" for m in loaded)
    insider = principal is not None and principal.role in INSIDERS
    if not insider:
        loaded = [{**m, "run_id": None} for m in loaded]
    return Health(
        status="degraded" if degraded else "ok",
        models=loaded,
        notes=notes if insider else [],
        data=str(request.app.state.data_dir) if territory is not None and insider else None,
    )


@router.get(
    "/ready",
    responses={
        503: {
            "description": "Not ready: the data, or every model, is not loaded",
            "content": {
                "application/json": {
                    "schema": {"type": "object", "additionalProperties": {"type": "boolean"}}
                }
            },
        },
        **errors(413),
    },
)
async def ready(request: Request, store: StoreDep, response: Response) -> dict[str, bool]:
    """Ready to answer: the data is loaded and at least one champion is. Each model's
    presence is listed; one missing model does not fail readiness (plans fall back to rules
    without the churn or visit-effect model and say so; only the skills endpoints need
    manager-skills), but with none loaded the service has nothing to serve."""
    models = {name: store.get(name) is not None for name in store.names}
    checks = {"data": request.app.state.territory is not None, **models}
    if not (checks["data"] and any(models.values())):
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return checks


@router.get(
    "/models",
    response_model=list[ModelVersion],
    openapi_extra={"x-roles": ["data_scientist"]},
    responses=protected(csv=True),
)
def list_models(
    store: StoreDep, _: DataScientist, language: LanguageDep, format: FormatQuery = "json"
):
    """Every registered version with its aliases and metrics, and which one serves."""
    serving = {name: m.version for name, m in store.loaded().items()}
    rows: list[dict] = []
    try:
        missing = registry_missing(store.tracking_uri)
        if missing:
            raise FileNotFoundError(missing)  # never create an empty store by asking it
        client = MlflowClient(tracking_uri=store.tracking_uri, registry_uri=store.tracking_uri)
        rows = [
            {**row, "serving": serving.get(row["model"]) == str(row["version"])}
            for row in registry_versions(client)
        ]
    except Exception:  # registry unreachable: report what is loaded
        for name, m in store.loaded().items():
            rows.append(
                {
                    "model": name,
                    "version": int(m.version or 0),
                    "aliases": ["champion (exported copy)"],
                    "run_id": m.run_id,
                    "serving": True,
                    "metrics": m.metrics,
                }
            )
    rows.sort(key=lambda r: (r["model"], -r["version"]))
    if format == "csv":
        # One column per metric: a spreadsheet sorts and filters them, not a dict's repr.
        flat = [
            {
                **{k: v for k, v in r.items() if k != "metrics"},
                **{name: round(float(v), 4) for name, v in sorted(r["metrics"].items())},
            }
            for r in rows
        ]
        return csv_response(flat, "models", language)
    return rows


@router.post(
    "/models/reload",
    response_model=list[ReloadResult],
    openapi_extra={"x-roles": ["data_scientist"]},
    responses=protected(),
)
def reload_models(
    request: Request, store: StoreDep, _: DataScientist, background: BackgroundTasks
) -> list[dict]:
    """Load the registry's current champions; one failing its smoke prediction is refused.

    When a model changed, the week's default plans are re-made in the background with the
    new champions (until then they are planned on request).
    """
    results = store.reload()
    territory = request.app.state.territory
    if territory is not None and any(r["status"] == "loaded" for r in results):
        background.add_task(
            store_week_plans, territory, request.app.state.sessions, log=log.warning
        )
    return results

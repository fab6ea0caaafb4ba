"""The data scientist's page: models and their promotion, the data folder, MLflow's UI.

The listing is the API's ``GET /v1/models``; promote and roll back move the registry's
aliases with the functions the CLI uses (``fieldcoach.registry``), then reload the
champions through the API's own reload handler.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, HTTPException, Path, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from mlflow import MlflowClient

from fieldcoach.champions import MODEL_NAMES
from fieldcoach.registry import promote, rollback
from serving.deps import StoreDep
from serving.routes.system import list_models, reload_models
from serving.web.auth import ScientistUser, writing_form
from serving.web.calls import call
from serving.web.render import PREFIX, language_of, page

router = APIRouter(prefix=f"{PREFIX}/models", include_in_schema=False)
ModelPath = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{0,63}$")]
SHOWN_METRICS = ("roc_auc", "ece", "pr_auc", "brier", "rmse", "qini", "auuc", "spearman")


def _headline(metrics: dict[str, float]) -> list[tuple[str, float]]:
    """The metrics a promotion is decided on, before the long tail."""
    first = [(k, v) for k, v in metrics.items() if any(k.endswith(m) for m in SHOWN_METRICS)]
    return (first or list(metrics.items()))[:8]


def data_status(request: Request) -> dict:
    territory = request.app.state.territory
    status_ = {"folder": str(request.app.state.data_dir), "error": request.app.state.data_error}
    report = getattr(territory, "report", None) or getattr(request.app.state, "data_report", None)
    if report is not None:
        status_["tables"] = [t.to_dict() for t in report.tables]
        status_["problems"] = [p.render() for p in report.problems]
        status_["notes"] = list(report.notes)
        dates = [t.last_date for t in report.tables if t.last_date]
        status_["last_date"] = max(dates) if dates else None
    return status_


@router.get("")
async def models(request: Request, user: ScientistUser, store: StoreDep):
    rows = await run_in_threadpool(
        call,
        list_models,
        request=request,
        store=store,
        principal=user.principal,
        language=language_of(request),
        format="json",
    )
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        row["headline"] = _headline(row.get("metrics", {}))
        grouped.setdefault(row["model"], []).append(row)
    return page(
        request,
        "models.html",
        user,
        grouped=grouped,
        data=data_status(request),
        mlflow_ui=request.app.state.settings.mlflow_ui_url,
        message=request.query_params.get("done"),
    )


async def _change(request: Request, user, store, background, name: str, move) -> RedirectResponse:
    form = await writing_form(request, user)
    if name not in MODEL_NAMES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no model {name!r} is served")
    if form.get("confirm") != "yes":
        raise HTTPException(422, "tick “I confirm” first")

    def run() -> str:
        client = MlflowClient(tracking_uri=store.tracking_uri, registry_uri=store.tracking_uri)
        said = move(client, form)
        call(
            reload_models,
            request=request,
            store=store,
            principal=user.principal,
            background=background,
        )
        return said

    said = await run_in_threadpool(run)
    return RedirectResponse(f"{PREFIX}/models?done={quote(said)}", 303)


@router.post("/{name}/promote")
async def promote_version(
    request: Request,
    name: ModelPath,
    user: ScientistUser,
    store: StoreDep,
    background: BackgroundTasks,
):
    def move(client, form):
        try:
            version = int(form.get("version", ""))
        except ValueError:
            raise HTTPException(422, "version must be a number") from None
        return promote(client, name, version)

    return await _change(request, user, store, background, name, move)


@router.post("/{name}/rollback")
async def rollback_champion(
    request: Request,
    name: ModelPath,
    user: ScientistUser,
    store: StoreDep,
    background: BackgroundTasks,
):
    return await _change(request, user, store, background, name, lambda c, _: rollback(c, name))

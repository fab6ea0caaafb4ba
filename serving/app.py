"""The FastAPI application: champions and data loaded once at start, routes under ``/v1``.

``create_app(settings)`` builds the app; ``fieldcoach serve`` runs it under uvicorn.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from features.errors import UserInputError
from fieldcoach.champions import MODEL_NAMES, ModelStore
from fieldcoach.settings import Settings
from planning.explore import Exploration
from serving.batch import fill_week_plans
from serving.db import make_engine, session_factory
from serving.flights import SharedResults
from serving.limits import BodyLimitMiddleware, error_item, install_error_handlers, json_error
from serving.routes import feedback, keys, retailers, skills, system, visits
from serving.security import KeyLookup
from serving.served_territory import NotFound, ServedTerritory
from serving.web import install_web

log = logging.getLogger(__name__)

DESCRIPTION = """Visit plans, retailer risk, skill gaps and training for the people who use them.

Send your key in the `X-API-Key` header (`fieldcoach keys create --role R [--team T]`).
Roles: **planner** (visit plans, retailer risk and visit feedback, for granted teams),
**coordinator** (skills, training, cohorts, training completions, for granted teams or the
whole company), **data_scientist** (models, reload), **admin** (keys). A team-scoped key
gets 403 for any id outside its teams, whether it exists or not. `Accept-Language: zh`
gives reasons and talking points in Chinese; `?format=csv` on list endpoints gives a CSV
that opens in Excel. Bodies over 64 KiB are refused (413); a 422 lists at most five errors
and never echoes the input.
"""


def _metrics(registry: CollectorRegistry) -> dict:
    return {
        "requests": Counter(
            "fieldcoach_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=registry,
        ),
        "latency": Histogram(
            "fieldcoach_request_seconds",
            "Request latency by route",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        ),
        "model": Gauge(
            "fieldcoach_model_version",
            "Version of each champion being served",
            ["model", "source"],
            registry=registry,
        ),
    }


def _fill_plans(territory: ServedTerritory, sessions, stop: threading.Event) -> None:
    """The week's default plans, when ``plan batch`` has not stored them (a thread)."""
    try:
        result = fill_week_plans(territory, sessions, log=log.info, stop=stop)
        log.info("default plans stored at start: %s", result)
    except Exception:  # the service still plans on request
        log.exception("could not fill the week's default plans")


def create_app(settings: Settings, load_data: bool = True) -> FastAPI:
    """The API for these settings (database, registry, data folder, models folder)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.resolved_database_url.startswith("sqlite:///"):
            settings.ensure_home()
        engine = make_engine(settings.resolved_database_url)
        app.state.sessions = session_factory(engine)
        app.state.key_lookup = KeyLookup(engine)
        store = ModelStore(settings.resolved_tracking_uri, settings.models_dir, MODEL_NAMES)
        store.start()
        app.state.store = store
        app.state.data_dir = settings.resolved_data_dir
        app.state.territory, app.state.data_error = None, None
        if load_data:
            try:
                app.state.territory = ServedTerritory.load(settings.resolved_data_dir, store)
                app.state.territory.exploration = Exploration(
                    settings.explore_share, settings.holdout_share
                )
            except Exception as exc:  # the service still answers health and skills
                app.state.data_error = f"{exc.__class__.__name__}: {str(exc)[:300]}"
                app.state.data_report = getattr(exc, "report", None)  # validation problems
                log.warning("data not loaded: %s", app.state.data_error)
        stop, filler = threading.Event(), None
        if app.state.territory is not None and settings.fill_plans_at_start:
            filler = threading.Thread(
                target=_fill_plans,
                args=(app.state.territory, app.state.sessions, stop),
                name="fill-week-plans",
                daemon=True,
            )
            filler.start()
        yield
        stop.set()
        if filler is not None:
            filler.join(timeout=10)
        app.state.key_lookup.close()
        engine.dispose()

    app = FastAPI(
        title="fieldcoach",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.plan_memo = {}
    app.state.plan_flights = SharedResults()
    app.state.territory = None
    app.state.data_error = "starting"
    registry = CollectorRegistry()
    metrics = _metrics(registry)

    install_error_handlers(app)

    @app.exception_handler(UserInputError)
    async def user_input(_: Request, exc: UserInputError) -> JSONResponse:
        return json_error({"detail": [error_item(str(exc).replace("--", ""))]}, 422)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return json_error({"detail": str(exc)}, 404)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics(request: Request) -> Response:
        store = getattr(request.app.state, "store", None)
        if store is not None:
            metrics["model"].clear()
            for name, m in store.loaded().items():
                metrics["model"].labels(name, m.source).set(float(m.version or 0))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    for module in (system, visits, retailers, skills, feedback, keys):
        app.include_router(module.router, prefix="/v1")
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.api_max_body_bytes)
    install_web(app, settings)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


class MetricsMiddleware:
    """Counts and times every request by route template (plain ASGI: no per-request task)."""

    def __init__(self, app, metrics: dict) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status_code = 500

        async def send_status(message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            if scope["path"].startswith("/v1/"):
                path = "/v1" + path  # routers are mounted under /v1; their routes omit it
            method = scope["method"]
            self.metrics["latency"].labels(method, path).observe(time.perf_counter() - start)
            self.metrics["requests"].labels(method, path, str(status_code)).inc()

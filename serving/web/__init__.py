"""The web workspace under ``/app``: pages for planners, coordinators and data scientists.

Server-rendered (Jinja2) pages on the API's own handlers, in Chinese first with an English
switch. Every asset ships in this package (``static/``), so the pages work offline; plain
HTML forms do every write, so the pages need no script to work.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from fieldcoach.settings import Settings
from serving.web import coach, pages, planner, science
from serving.web.render import HERE, PREFIX, install_handlers


def install_web(app: FastAPI, settings: Settings) -> None:
    """Mount the workspace's pages and assets on the API's app; ``/`` redirects there."""
    app.state.settings = settings
    for module in (pages, planner, coach, science):
        app.include_router(module.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="web-static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(PREFIX, 307)

    install_handlers(app)

"""Pages from Jinja2 templates, the person's language, and refusal pages for /app errors.

Templates are autoescaped; every page gets the language, the translator, the signed-in
person and their CSRF token. Errors raised under ``/app`` (the API's own 403 and 404, bad
input) become a page in the person's language; the API keeps its JSON answers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from features.errors import UserInputError
from serving.territory import NotFound
from serving.web.auth import SignInRequired, WebUser
from serving.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, purpose_label, skill_label, translate

HERE = Path(__file__).parent
LANGUAGE_COOKIE = "fc_lang"
PREFIX = "/app"

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def language_of(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def safe_next(target: str | None) -> str:
    """Only a path inside the workspace (no open redirect to another site)."""
    if not target or not target.startswith(PREFIX) or target.startswith("//"):
        return PREFIX
    if "\\" in target or "\r" in target or "\n" in target:
        return PREFIX
    return target


def page(
    request: Request,
    template: str,
    user: WebUser | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` for this request's person and language."""
    started = time.perf_counter()
    language = language_of(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")

    def t(key: str, **values: object) -> str:
        return translate(language, key, **values)

    html = _environment.get_template(template).render(
        request=request,
        lang=language,
        t=t,
        purpose=lambda code: purpose_label(language, code),
        skill=lambda code: skill_label(language, code),
        user=user,
        role=user.principal.role if user else None,
        csrf=user.csrf_token if user else "",
        here=here,
        here_quoted=quote(here, safe=""),
        other_language="en" if language == "zh" else "zh",
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Server-Timing"] = f"render;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


def _is_page(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")


def _problem_page(request: Request, status_code: int, detail: str) -> HTMLResponse:
    title = {403: "refused", 404: "not_found", 503: "unavailable"}.get(status_code, "bad_input")
    return page(
        request,
        "problem.html",
        getattr(request.state, "web_user", None),
        status_code=status_code,
        title_key=title,
        detail=detail,
    )


def install_handlers(app: FastAPI) -> None:
    """Errors under /app answer with a page; elsewhere with the API's existing handler."""
    api_not_found = app.exception_handlers.get(NotFound)
    api_user_input = app.exception_handlers.get(UserInputError)

    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if not _is_page(request):
            return await http_exception_handler(request, exc)
        if exc.status_code == 401:
            return _to_signin(request)
        return _problem_page(request, exc.status_code, str(exc.detail))

    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        if not _is_page(request):
            return await request_validation_exception_handler(request, exc)
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return _problem_page(request, 422, fields)

    async def on_not_found(request: Request, exc: NotFound) -> Response:
        if not _is_page(request) and api_not_found is not None:
            return await api_not_found(request, exc)
        return _problem_page(request, 404, str(exc))

    async def on_user_input(request: Request, exc: UserInputError) -> Response:
        if not _is_page(request) and api_user_input is not None:
            return await api_user_input(request, exc)
        return _problem_page(request, 422, str(exc).replace("--", ""))

    async def on_signin(request: Request, _: SignInRequired) -> Response:
        return _to_signin(request)

    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(NotFound, on_not_found)
    app.add_exception_handler(UserInputError, on_user_input)
    app.add_exception_handler(SignInRequired, on_signin)


def _to_signin(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/signin?next={quote(safe_next(here), safe='')}", 303)

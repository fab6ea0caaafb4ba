"""Pages from Jinja2 templates, the person's language, and refusal pages for /app errors.

Templates are autoescaped; every page gets the language, the translator, the signed-in
person and their CSRF token. Errors raised under ``/app`` (the API's own 403 and 404, bad
input) become a page in the person's language; the API keeps its JSON answers.
"""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from features.errors import UserInputError
from serving.served_territory import NotFound
from serving.web.auth import SignInRequired, WebUser
from serving.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, purpose_label, skill_label, translate

HERE = Path(__file__).parent
LANGUAGE_COOKIE = "fc_lang"
PREFIX = "/app"
# Pages hold a person's data and buttons that write: never framed by another site (a
# click-jacked "accept"), never cached, and nothing loaded from elsewhere. Inline style
# attributes carry the heatmap's and the legend's colours.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

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
        percent=percent,
        user=user,
        role=user.principal.role if user else None,
        csrf=user.csrf_token if user else "",
        here=here,
        here_quoted=quote(here, safe=""),
        other_language="en" if language == "zh" else "zh",
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    response.headers["Server-Timing"] = f"render;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


def percent(probability: float | None) -> str:
    """A probability for people: whole percents, and "<1%" rather than a misleading 0%."""
    if probability is None:
        return "—"
    if 0 < probability < 0.005:
        return "<1%"
    return f"{probability * 100:.0f}%"


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
    api_http = app.exception_handlers.get(StarletteHTTPException, http_exception_handler)
    api_validation = app.exception_handlers.get(
        RequestValidationError, request_validation_exception_handler
    )

    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if not _is_page(request):
            return await _answer(api_http, request, exc)
        if exc.status_code == 401:
            return _to_signin(request)
        return _problem_page(request, exc.status_code, str(exc.detail))

    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        if not _is_page(request):
            return await _answer(api_validation, request, exc)
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return _problem_page(request, 422, fields)

    async def on_not_found(request: Request, exc: NotFound) -> Response:
        if not _is_page(request) and api_not_found is not None:
            return await _answer(api_not_found, request, exc)
        return _problem_page(request, 404, str(exc))

    async def on_user_input(request: Request, exc: UserInputError) -> Response:
        if not _is_page(request) and api_user_input is not None:
            return await _answer(api_user_input, request, exc)
        return _problem_page(request, 422, str(exc).replace("--", ""))

    async def on_signin(request: Request, _: SignInRequired) -> Response:
        return _to_signin(request)

    # FastAPI's decorator, called directly: it registers the same way and is typed for
    # handlers of one exception class (Starlette's add_exception_handler wants Exception).
    app.exception_handler(StarletteHTTPException)(on_http)  # HTTPException's base
    app.exception_handler(RequestValidationError)(on_validation)
    app.exception_handler(NotFound)(on_not_found)
    app.exception_handler(UserInputError)(on_user_input)
    app.exception_handler(SignInRequired)(on_signin)


async def _answer(handler: Any, request: Request, exc: Exception) -> Response:
    """The API's handler's response; Starlette allows plain and async handlers alike."""
    answer = handler(request, exc)
    return await answer if inspect.isawaitable(answer) else answer


def _to_signin(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/signin?next={quote(safe_next(here), safe='')}", 303)

"""Guards in front of every route: a bounded request body, and error answers that are small,
always encodable and in the documented shape.

A client can send a body of any size and any content; the service must neither read more
than it will ever accept nor echo what it was sent. ``BodyLimitMiddleware`` refuses a body
over the limit with 413 before a route parses it (declared ``Content-Length`` or counted
bytes of a streamed body); the error handlers report a few errors, never the input, and
escape whatever cannot be encoded (a lone surrogate in a JSON key, for instance).
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

MAX_BODY_BYTES = 64 * 1024
MAX_ERRORS = 5
MAX_LOC_CHARS = 64
MAX_MESSAGE_CHARS = 300


def safe_text(value: Any, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``value`` as text that UTF-8 can encode (surrogates escaped), cut to ``limit``."""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_item(message: str, loc: list[str | int] | None = None, kind: str = "value_error"):
    """One entry of a 422 ``detail`` list (the shape FastAPI documents as ValidationError)."""
    return {"type": kind, "loc": list(loc or []), "msg": safe_text(message)}


def _location(loc: tuple | list) -> list[str | int]:
    return [part if isinstance(part, int) else safe_text(part, MAX_LOC_CHARS) for part in loc][:8]


def validation_detail(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most ``MAX_ERRORS`` errors with type, location and message; never the input."""
    detail = [
        error_item(str(e.get("msg", "")), _location(e.get("loc", ())), str(e.get("type", "")))
        for e in errors[:MAX_ERRORS]
    ]
    if len(errors) > MAX_ERRORS:
        detail.append(
            error_item(f"{len(errors) - MAX_ERRORS} more errors not shown", [], "too_many_errors")
        )
    return detail


def json_error(body: dict[str, Any], status_code: int, headers: dict[str, str] | None = None):
    response = JSONResponse(content=None, status_code=status_code, headers=headers)
    response.body = json.dumps(body, ensure_ascii=True).encode("ascii")
    response.headers["content-length"] = str(len(response.body))
    return response


def _allowed_methods(app: FastAPI, scope: MutableMapping[str, Any]) -> list[str]:
    """Every method some route serves at this path (Starlette lists only the first route's)."""
    methods: set[str] = set()
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        probe = {**scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in app.router.routes):
            methods.add(method)
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    """422s as a short list of errors, other errors as ``{"detail": text}``, both safe."""

    @app.exception_handler(RequestValidationError)
    async def request_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return json_error({"detail": validation_detail(list(exc.errors()))}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request.app, request.scope))
        detail: Any = exc.detail
        if exc.status_code == 422:
            if isinstance(detail, str):
                detail = [error_item(detail)]
        elif not isinstance(detail, str):
            detail = json.dumps(detail, default=str)
        if isinstance(detail, str):
            detail = safe_text(detail)
        return json_error({"detail": detail}, exc.status_code, headers)


class BodyLimitMiddleware:
    """Refuses a request body over ``max_bytes`` with 413 before any route reads it.

    The body is read here, counting bytes as they arrive, and replayed to the app: a client
    streaming 50 MB is cut off after the limit instead of being read in full, and a
    declared ``Content-Length`` over the limit is refused without reading at all.
    """

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        has_body = False
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    await self._refuse(send)
                    return
                has_body = declared > 0
            elif name == b"transfer-encoding":
                has_body = True
        if not has_body:  # HTTP/1.1 without either header has no body: nothing to count
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for a disconnect, as before

        await self.app(scope, replay, send)

    async def _refuse(self, send) -> None:
        body = json.dumps(
            {"detail": f"request body over the limit of {self.max_bytes} bytes"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

"""What each operation may answer besides its success, for the OpenAPI document.

Every status an operation can return is listed with its body's shape, so a client (or
schemathesis) can rely on the document: 422 is a list of errors (FastAPI's
``HTTPValidationError``), every other error ``{"detail": text}``.
"""

from __future__ import annotations

from typing import Any

from serving.schemas import Error

DESCRIPTIONS = {
    400: "The body is not valid JSON",
    401: "Missing, unknown or revoked API key",
    403: "The key's role may not call this, or the key may not see this id (the same answer "
    "whether or not the id exists)",
    404: "Unknown id (for a key that sees every team)",
    409: "This client_key was already used by this key for a different body",
    413: "Request body over the size limit",
    503: "Not ready: the data or the model this needs is not loaded",
}

CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "JSON, or with ?format=csv a UTF-8 CSV with BOM",
    }
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The listed error statuses, each with the ``Error`` body."""
    return {code: {"model": Error, "description": DESCRIPTIONS[code]} for code in codes}


def protected(*codes: int, csv: bool = False) -> dict[int | str, dict[str, Any]]:
    """A keyed operation: 401, 403 and 413 always, plus ``codes`` (and CSV if it has it)."""
    out = errors(401, 403, 413, *codes)
    if csv:
        out.update(CSV)
    return out

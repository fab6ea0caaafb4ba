"""Property-based requests from the OpenAPI schema (schemathesis): valid and malformed
inputs for every operation, sent with a key of the right role, never get a 500."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from fieldcoach.settings import Settings
from serving.app import create_app

from .conftest import make_keys, settings_for

SCHEMA = schemathesis.openapi.from_dict(create_app(Settings(), load_data=False).openapi())
# Reload is exercised in test_champions; fuzzing it only reloads the same models again.
OPERATIONS = [
    op
    for op in (result.ok() for result in SCHEMA.get_all_operations())
    if op.label != "POST /v1/models/reload"
]
EXAMPLES = 30


@pytest.fixture(scope="module")
def fuzz_client(home):
    config = settings_for(home)
    keys = make_keys(config)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        client.app.state.territory.replan_time_limit_s = 0.05  # keep the fuzz run short
        yield client, keys


def _send(client: TestClient, kwargs: dict) -> httpx.Response:
    body = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        body["content"] = data if isinstance(data, (bytes, str)) else str(data)
    return client.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers=kwargs.get("headers"),
        **body,
    )


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_gets_a_500(fuzz_client, operation, mode) -> None:
    client, keys = fuzz_client
    roles = operation.definition.raw.get("x-roles") or ["planner"]
    key = keys[roles[0]]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        kwargs["headers"] = {**(kwargs.get("headers") or {}), "X-API-Key": key}
        try:
            response = _send(client, kwargs)
        except (httpx.InvalidURL, UnicodeEncodeError, ValueError):
            return  # the client cannot even send it (e.g. a non-ASCII header)
        assert response.status_code < 500, (
            f"{case.as_curl_command()} -> {response.status_code} {response.text[:300]}"
        )
        if response.status_code == 422:
            assert response.json()["detail"], "a 422 says what was wrong"

    try:
        check()
    except Unsatisfiable:
        pytest.skip(f"{operation.label} has no input to malform")

"""Property-based requests from the OpenAPI schema (schemathesis) with every check it has:
no 500, every status and content type documented, every body matching its schema, 405s with
a true ``Allow``, missing keys refused, invalid data rejected and valid data accepted. Each
operation is called with a key of every role (scoped and company-wide), and a stateful run
follows the document's links (team plan -> manager plan -> retailer risk, key -> revoke).

``positive_data_acceptance`` also accepts 422: a schema-valid body can still break a rule
that depends on the data (a visit before the manager's hire, a week outside the plannable
range), which no static schema can state.
"""

from __future__ import annotations

import contextlib

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from fieldcoach.settings import Settings
from serving.app import create_app
from serving.db import make_engine, session_factory
from serving.security import create_key

from .conftest import settings_for

pytestmark = pytest.mark.slow

load_all_checks()
ALL_CHECKS = [CHECKS.get_one(name) for name in CHECKS.get_all_names()]
CONFIG = {
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
        }
    }
}
DOCUMENT = create_app(Settings(), load_data=False).openapi()
# Reload is exercised in test_champions; fuzzing it only reloads the same models again.
LABELS = sorted(
    f"{method.upper()} {path}"
    for path, item in DOCUMENT["paths"].items()
    for method in item
    if path != "/v1/models/reload"
)
ROLES = ("planner", "planner_t00", "coordinator", "coordinator_t00", "data_scientist", "admin")
EXAMPLES = 25  # per mode, for a role the operation is meant for
EXAMPLES_WRONG_ROLE = 3


@pytest.fixture(scope="module")
def fuzz(home):
    """The app on a copy of the trained home, its schema and a key per role."""
    config = settings_for(home)
    engine = make_engine(config.resolved_database_url)
    keys, ids = {}, set()
    with session_factory(engine)() as session:
        for name, role, teams in (
            ("planner", "planner", ["*"]),
            ("planner_t00", "planner", ["T00"]),
            ("coordinator", "coordinator", None),
            ("coordinator_t00", "coordinator", ["T00"]),
            ("data_scientist", "data_scientist", None),
            ("admin", "admin", None),
        ):
            keys[name], row = create_key(session, role, teams)
            ids.add(row.id)
    engine.dispose()
    app = create_app(config)
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", app, config=SchemathesisConfig.from_dict(CONFIG)
    )
    app.state.territory.replan_time_limit_s = 0.05  # keep the run short
    return schema, keys, ids


def _guard(case, ids: set[int]) -> None:
    """Fuzzed revocations must not revoke the keys the run itself uses."""
    if case.operation.method.upper() == "DELETE":
        assume(case.path_parameters.get("key_id") not in ids)


def _roles_of(operation) -> list[str]:
    return operation.definition.raw.get("x-roles") or []


def _run(operation, key: str, mode: GenerationMode, examples: int, ids: set[int]) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case) -> None:
        _guard(case, ids)
        case.call_and_validate(headers={"X-API-Key": key}, checks=ALL_CHECKS)

    with contextlib.suppress(Unsatisfiable):  # nothing to malform in this operation
        check()


@pytest.mark.parametrize("label", LABELS)
def test_every_check_passes_for_every_role(fuzz, label) -> None:
    schema, keys, ids = fuzz
    operation = next(op.ok() for op in schema.get_all_operations() if op.ok().label == label)
    allowed = _roles_of(operation)
    for role in ROLES:
        meant = not allowed or role.removesuffix("_t00") in allowed
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            examples = EXAMPLES if meant else EXAMPLES_WRONG_ROLE
            _run(operation, keys[role], mode, examples, ids)


def test_stateful_links(fuzz) -> None:
    """Follow the links of the document with the right key for each step."""
    schema, keys, ids = fuzz
    machine = schema.as_state_machine()

    def key_for(operation) -> str:
        roles = _roles_of(operation)
        return keys[roles[0]] if roles else keys["data_scientist"]

    class Links(machine):  # type: ignore[misc, valid-type]
        def before_call(self, case) -> None:
            if case.operation.method.upper() == "DELETE" and (
                case.path_parameters.get("key_id") in ids
            ):
                case.path_parameters["key_id"] = 2**31 - 1  # unknown: 404

        def get_call_kwargs(self, case) -> dict:
            return {"headers": {"X-API-Key": key_for(case.operation)}}

        def validate_response(self, response, case, additional_checks=(), **kwargs) -> None:
            case.validate_response(
                response, checks=ALL_CHECKS, headers={"X-API-Key": key_for(case.operation)}
            )

    Links.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=6,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    Links.TestCase().runTest()

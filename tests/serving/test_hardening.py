"""Issue 10's security and integrity findings, one test each, through the real app on the
session's trained territory (T00 = M0000-M0002, T01 = M0003-M0005)."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features.errors import UserInputError
from features.io import find_table_files, read_raw_table
from serving.app import create_app
from serving.db import make_engine, record_feedback, session_factory
from serving.feedback_export import export_feedback
from serving.security import create_key


@pytest.fixture(scope="module")
def facts(home):
    """Who serves whom, and when each manager was hired, read from the data."""
    files = find_table_files(home / "data")
    retailers = read_raw_table(files["retailers"])
    managers = read_raw_table(files["managers"])
    first = retailers.groupby("manager_id")["retailer_id"].first().to_dict()
    hired = {
        m: str(pd.Timestamp(d).date())
        for m, d in zip(managers.manager_id, managers.hired_on, strict=True)
    }
    team = dict(zip(managers.manager_id, managers.team_id, strict=True))
    return {"retailer_of": first, "hired": hired, "team": team}


@pytest.fixture(scope="module")
def scoped(settings):
    """Keys limited to T00, plus one for all teams, per role."""
    engine = make_engine(settings.resolved_database_url)
    keys = {}
    with session_factory(engine)() as session:
        keys["planner_t00"], _ = create_key(session, "planner", ["T00"])
        keys["planner_t01"], _ = create_key(session, "planner", ["T01"])
        keys["planner"], _ = create_key(session, "planner", ["*"])
        keys["coordinator_t00"], _ = create_key(session, "coordinator", ["T00"])
        keys["coordinator"], _ = create_key(session, "coordinator")
        keys["data_scientist"], _ = create_key(session, "data_scientist")
        keys["admin"], _ = create_key(session, "admin")
    engine.dispose()
    return keys


@pytest.fixture(scope="module")
def api(settings, scoped):
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _h(scoped, role):
    return {"X-API-Key": scoped[role]}


def _outcome(key, manager, retailer, day="2025-05-05", **extra):
    return {
        "client_key": key,
        "manager_id": manager,
        "retailer_id": retailer,
        "visit_date": day,
        "done": True,
        **extra,
    }


def test_a_scoped_key_cannot_write_about_another_teams_retailer(api, scoped, facts) -> None:
    """#2: a T00 key naming its own manager with a T01 retailer is refused."""
    t01_retailer = facts["retailer_of"]["M0003"]
    for path, body in (
        ("/v1/feedback/outcomes", _outcome("bola-0001", "M0000", t01_retailer)),
        (
            "/v1/feedback/visits",
            {
                "client_key": "bola-0002",
                "manager_id": "M0000",
                "retailer_id": t01_retailer,
                "week": "2025-W19",
                "decision": "accept",
            },
        ),
    ):
        refused = api.post(path, json=body, headers=_h(scoped, "planner_t00"))
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"] == f"this key may not see retailer {t01_retailer}"
    # An all-teams key may name any manager, but the retailer must be that manager's.
    mismatch = api.post(
        "/v1/feedback/outcomes",
        json=_outcome("bola-0003", "M0000", t01_retailer),
        headers=_h(scoped, "planner"),
    )
    assert mismatch.status_code == 422 and "served by manager M0003" in mismatch.text
    own = api.post(
        "/v1/feedback/outcomes",
        json=_outcome("bola-0004", "M0000", facts["retailer_of"]["M0000"]),
        headers=_h(scoped, "planner_t00"),
    )
    assert own.status_code == 201, own.text


def test_coordinator_keys_are_scoped_by_team(api, scoped) -> None:
    """#3: a coordinator key for T00 reads and writes only T00's managers."""
    t00 = _h(scoped, "coordinator_t00")
    for path in ("/v1/managers/M0003/skills", "/v1/managers/M0003/training"):
        assert api.get(path, headers=t00).status_code == 403
        assert api.get(path.replace("M0003", "M0000"), headers=t00).status_code == 200
        assert api.get(path, headers=_h(scoped, "coordinator")).status_code == 200
    cohorts = api.get("/v1/cohorts?min_size=1&max_size=3", headers=t00).json()
    members = {m for c in cohorts for m in c["members"]}
    assert members and members <= {"M0000", "M0001", "M0002"}
    everyone = api.get("/v1/cohorts?min_size=1&max_size=3", headers=_h(scoped, "coordinator"))
    assert {m for c in everyone.json() for m in c["members"]} - members
    training = {
        "client_key": "coord-0001",
        "manager_id": "M0003",
        "course_id": "C01",
        "completed_on": "2025-05-06",
    }
    assert api.post("/v1/feedback/trainings", json=training, headers=t00).status_code == 403
    own = api.post("/v1/feedback/trainings", json={**training, "manager_id": "M0000"}, headers=t00)
    assert own.status_code == 201, own.text


def test_a_revoked_key_is_refused_at_once_in_every_worker(api, scoped, settings) -> None:
    """#4: revoked through one app, the key is refused on its next request by another."""
    created = api.post(
        "/v1/keys", json={"role": "planner", "teams": ["T00"]}, headers=_h(scoped, "admin")
    ).json()
    key = {"X-API-Key": created["key"]}
    with TestClient(create_app(settings)) as other_worker:
        assert other_worker.get("/v1/teams/T00/visit-plan", headers=key).status_code == 200
        revoked = api.delete(f"/v1/keys/{created['id']}", headers=_h(scoped, "admin"))
        assert revoked.status_code == 200
        assert dt.datetime.fromisoformat(revoked.json()["revoked_at"]).utcoffset() == dt.timedelta(
            0
        )
        assert other_worker.get("/v1/teams/T00/visit-plan", headers=key).status_code == 401
    assert api.get("/v1/teams/T00/visit-plan", headers=key).status_code == 401
    listed = {k["id"]: k for k in api.get("/v1/keys", headers=_h(scoped, "admin")).json()}
    assert listed[created["id"]]["revoked_at"] is not None
    assert api.delete("/v1/keys/999999", headers=_h(scoped, "admin")).status_code == 404
    assert (
        api.delete(f"/v1/keys/{created['id']}", headers=_h(scoped, "planner")).status_code == 403
    )


def test_large_bodies_are_refused_and_errors_are_short(api, scoped) -> None:
    """#5: over 64 KiB is 413 (declared or streamed); many unknown fields give a short 422."""
    headers = {**_h(scoped, "planner"), "Content-Type": "application/json"}
    huge = json.dumps({f"k{i}": i for i in range(500_000)}).encode()
    declared = api.post("/v1/feedback/outcomes", content=huge, headers=headers)
    assert declared.status_code == 413 and len(declared.content) < 200

    def stream():
        for i in range(0, len(huge), 16_384):
            yield huge[i : i + 16_384]

    streamed = api.post("/v1/feedback/outcomes", content=stream(), headers=headers)
    assert streamed.status_code == 413
    many = {**_outcome("many-0001", "M0000", "R0000000"), **{f"x{i}": i for i in range(3000)}}
    refused = api.post("/v1/feedback/outcomes", json=many, headers=_h(scoped, "planner"))
    assert refused.status_code == 422 and len(refused.content) < 2000
    detail = refused.json()["detail"]
    assert len(detail) <= 6 and detail[-1]["type"] == "too_many_errors"
    assert all("input" not in e for e in detail) and "x2999" not in refused.text


@pytest.mark.parametrize(
    "body",
    [
        b'{"client_key": "\\ud800\\ud800\\ud800x", "manager_id": "M0000"}',
        b'{"\\ud800": 1}',
        b'{"client_key": "surrogate-0001", "manager_id": "M0000", "retailer_id": "R0000000",'
        b' "visit_date": "2025-05-05", "done": true, "outcome": "ok \\udfff"}',
        b'{"client_key": "control-0001", "manager_id": "M0000", "retailer_id": "R0000000",'
        b' "visit_date": "2025-05-05", "done": true, "outcome": "bell \\u0007"}',
        b'{"client_key": "\\ud800\\ud800\\ud800x", "manager_id": "\\ud800"}',
        b'{"client_key": "\xed\xa0\x80 raw surrogate bytes", "manager_id": "M0000"}',
    ],
)
def test_lone_surrogates_and_control_characters_are_422(api, scoped, body) -> None:
    """#6: no 500 on a lone surrogate, in a value or a key; the 422 is the documented list."""
    headers = {**_h(scoped, "planner"), "Content-Type": "application/json"}
    response = api.post("/v1/feedback/outcomes", content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], list)


def test_not_yours_and_not_there_answer_the_same(api, scoped, facts) -> None:
    """#7: a scoped key learns nothing about ids outside its teams."""
    t00 = _h(scoped, "planner_t00")
    pairs = [
        ("/v1/managers/{}/visit-plan", "M0003", "M9999", "manager"),
        ("/v1/retailers/{}/risk", facts["retailer_of"]["M0003"], "R9999999", "retailer"),
        ("/v1/teams/{}/visit-plan", "T01", "T99", "team"),
    ]
    for template, theirs, missing, kind in pairs:
        a = api.get(template.format(theirs), headers=t00)
        b = api.get(template.format(missing), headers=t00)
        assert a.status_code == b.status_code == 403
        assert a.json()["detail"] == f"this key may not see {kind} {theirs}"
        assert b.json()["detail"] == f"this key may not see {kind} {missing}"
        assert "T01" not in a.json()["detail"] or kind == "team"
        assert api.get(template.format(missing), headers=_h(scoped, "planner")).status_code == 404


def test_health_keeps_internals_behind_a_role(api, scoped, settings) -> None:
    """#7: without a data_scientist or admin key, no run ids, data path or notes."""
    public = api.get("/v1/health")
    assert public.status_code == 200
    body = public.json()
    assert body["models"] and all(m["run_id"] is None for m in body["models"])
    assert body["data"] is None and body["notes"] == []
    assert str(settings.home) not in public.text
    for role in ("planner", "coordinator"):
        assert api.get("/v1/health", headers=_h(scoped, role)).json()["data"] is None
    for role in ("data_scientist", "admin"):
        inside = api.get("/v1/health", headers=_h(scoped, role)).json()
        assert all(m["run_id"] for m in inside["models"]) and inside["data"]


def test_feedback_that_breaks_the_contract_is_refused_at_the_door(api, scoped, facts) -> None:
    """#8: dates before the hire or after today, unknown courses and retailers, weeks that
    cannot be planned: 422 naming the rule."""
    planner, coordinator = _h(scoped, "planner"), _h(scoped, "coordinator")
    retailer = facts["retailer_of"]["M0000"]
    cases = [
        (
            "/v1/feedback/outcomes",
            _outcome("rule-0001", "M0000", retailer, "1990-01-01"),
            "hired_on",
        ),
        (
            "/v1/feedback/outcomes",
            _outcome("rule-0002", "M0000", retailer, "2030-12-31"),
            "after today",
        ),
        ("/v1/feedback/outcomes", _outcome("rule-0003", "M0000", "R9999999"), "not a retailer_id"),
        (
            "/v1/feedback/visits",
            {
                "client_key": "rule-0004",
                "manager_id": "M0000",
                "retailer_id": "R9999999",
                "week": "2025-W19",
                "decision": "accept",
            },
            "not a retailer_id",
        ),
        (
            "/v1/feedback/visits",
            {
                "client_key": "rule-0005",
                "manager_id": "M0000",
                "retailer_id": retailer,
                "week": "2030-W02",
                "decision": "accept",
            },
            "outside the weeks that can be planned",
        ),
    ]
    for path, body, rule in cases:
        response = api.post(path, json=body, headers=planner)
        assert response.status_code == 422, (body, response.text)
        assert rule in response.json()["detail"][0]["msg"]
    training = {"client_key": "rule-0006", "manager_id": "M0000", "completed_on": "2025-05-06"}
    unknown = api.post(
        "/v1/feedback/trainings", json={**training, "course_id": "C99"}, headers=coordinator
    )
    assert unknown.status_code == 422 and "not a course_id in courses" in unknown.text
    before = api.post(
        "/v1/feedback/trainings",
        json={**training, "course_id": "C01", "completed_on": "1990-01-01"},
        headers=coordinator,
    )
    assert before.status_code == 422 and facts["hired"]["M0000"] in before.text


def test_export_refuses_feedback_that_would_break_the_data(settings, tmp_path) -> None:
    """#8: a record that slipped in (stored before the door checked) stops the export, and
    nothing is written."""
    data = settings.resolved_data_dir
    before = {name: path.read_bytes() for name, path in find_table_files(data).items()}
    engine = make_engine(f"sqlite:///{tmp_path / 'fb.db'}")
    with session_factory(engine)() as session:
        record_feedback(
            session,
            "outcome",
            "legacy-0001",
            "M0000",
            {"retailer_id": "R9999999", "visit_date": "2025-05-05", "done": True},
        )
        with pytest.raises(UserInputError, match="nothing written"):
            export_feedback(session, data)
    engine.dispose()
    after = {name: path.read_bytes() for name, path in find_table_files(data).items()}
    assert after == before


def test_client_keys_of_two_teams_do_not_collide(api, scoped, facts) -> None:
    """#9: T01 reusing T00's client key stores its own record; changing the body is 409."""
    t00 = _outcome("shared-0001", "M0000", facts["retailer_of"]["M0000"])
    t01 = _outcome("shared-0001", "M0003", facts["retailer_of"]["M0003"])
    first = api.post("/v1/feedback/outcomes", json=t00, headers=_h(scoped, "planner_t00"))
    second = api.post("/v1/feedback/outcomes", json=t01, headers=_h(scoped, "planner_t01"))
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    received = dt.datetime.fromisoformat(first.json()["received_at"])
    assert received.utcoffset() == dt.timedelta(0)
    retry = api.post("/v1/feedback/outcomes", json=t00, headers=_h(scoped, "planner_t00"))
    assert retry.status_code == 200 and retry.json()["id"] == first.json()["id"]
    changed = api.post(
        "/v1/feedback/outcomes", json={**t00, "done": False}, headers=_h(scoped, "planner_t00")
    )
    assert changed.status_code == 409 and "already used" in changed.json()["detail"]


def test_422_is_always_a_list_and_405_lists_every_method(api, scoped) -> None:
    """#12: the OpenAPI document's shapes hold for hand-raised errors too."""
    planner = _h(scoped, "planner")
    week = api.get("/v1/managers/M0000/visit-plan?week=2001-W10", headers=planner)
    cohorts = api.get("/v1/cohorts?min_size=5&max_size=2", headers=_h(scoped, "coordinator"))
    key = api.post("/v1/keys", json={"role": "planner"}, headers=_h(scoped, "admin"))
    for response in (week, cohorts, key):
        assert response.status_code == 422
        detail = response.json()["detail"]
        assert isinstance(detail, list) and {"loc", "msg", "type"} <= set(detail[0])
    wrong = api.request("DELETE", "/v1/keys", headers=_h(scoped, "admin"))
    assert wrong.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in wrong.headers["allow"].split(",")}
    schema = api.get("/openapi.json").json()
    plan = schema["paths"]["/v1/managers/{manager_id}/visit-plan"]["get"]["responses"]
    assert "text/csv" in plan["200"]["content"]
    assert {"401", "403", "404", "413", "422", "503"} <= set(plan)
    receipt = schema["components"]["schemas"]["FeedbackReceipt"]["properties"]["received_at"]
    assert receipt["format"] == "date-time"

"""The API through TestClient on a real SQLite database and registered models: access for
every route and role, team scoping, languages, CSV, plans, risk, skills and feedback."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from features.io import find_table_files, read_raw_table
from features.validate import load_dataset
from fieldcoach.settings import Settings
from serving.app import create_app
from serving.db import make_engine, session_factory
from serving.feedback_export import export_feedback

from .conftest import precompute_plans_from

ROLES = ("planner", "coordinator", "data_scientist", "admin")


def _operations():
    """Every operation in the OpenAPI schema with the roles it declares (x-roles)."""
    schema = create_app(Settings(), load_data=False).openapi()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation.get("x-roles")


PROTECTED = sorted((m, p, r) for m, p, r in _operations() if r)


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "M0000", path)


def test_every_v1_route_except_health_declares_its_roles() -> None:
    operations = list(_operations())
    assert len(PROTECTED) >= 12
    for _, path, roles in operations:
        assert roles or path in {"/v1/health", "/v1/ready"}, path


@pytest.mark.parametrize(("method", "path", "roles"), PROTECTED)
def test_missing_key_is_401_and_wrong_role_403(client, keys, method, path, roles) -> None:
    assert client.request(method, _url(path)).status_code == 401
    bad = client.request(method, _url(path), headers={"X-API-Key": "fc_not-a-key"})
    assert bad.status_code == 401
    for role in ROLES:
        if role not in roles:
            response = client.request(method, _url(path), headers={"X-API-Key": keys[role]})
            assert response.status_code == 403, (role, response.text)
            assert "needs role" in response.json()["detail"]


def _h(keys, role, **extra):
    return {"X-API-Key": keys[role], **extra}


def test_health_and_ready(client) -> None:
    body = client.get("/v1/health").json()
    assert body["status"] == "ok"
    assert {m["name"]: m["source"] for m in body["models"]} == {
        "retailer-churn": "registry",
        "visit-effect": "registry",
        "manager-skills": "registry",
    }
    assert client.get("/v1/ready").status_code == 200
    assert 'route="/v1/health"' in client.get("/metrics").text


def test_champions_are_exported(settings) -> None:
    for name in ("retailer-churn", "visit-effect", "manager-skills"):
        folder = settings.models_dir / name
        assert (folder / "model" / "MLmodel").exists()
        assert json.loads((folder / "champion.json").read_text())["version"] == "1"


def test_visit_plan_has_the_fields_and_respects_team_scope(client, keys) -> None:
    response = client.get("/v1/managers/M0000/visit-plan", headers=_h(keys, "planner"))
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["visits"] and plan["schedule"]
    assert [v["rank"] for v in plan["visits"]] == list(range(1, len(plan["visits"]) + 1))
    teams = client.get("/v1/teams/T00/visit-plan", headers=_h(keys, "planner_t00")).json()
    mine = {p["manager_id"] for p in teams["managers"]}
    others = sorted({f"M{i:04d}" for i in range(6)} - mine)
    assert others, "the territory needs a second team for this test"
    denied = client.get(f"/v1/managers/{others[0]}/visit-plan", headers=_h(keys, "planner_t00"))
    assert denied.status_code == 403
    assert (
        client.get("/v1/teams/T01/visit-plan", headers=_h(keys, "planner_t00")).status_code == 403
    )
    assert (
        client.get("/v1/managers/M9999/visit-plan", headers=_h(keys, "planner")).status_code == 404
    )


def test_replan_with_capacity_and_chinese(client, keys) -> None:
    response = client.get(
        "/v1/managers/M0001/visit-plan?capacity=6&days=3",
        headers=_h(keys, "planner", **{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}),
    )
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["source"] == "computed" and len(plan["visits"]) <= 6
    # 3 days asked; the week's public holidays (this one starts on Labour Day) are skipped.
    assert [d["date"] for d in plan["schedule"]] == plan["working_dates"]
    assert 1 <= len(plan["schedule"]) <= 3
    assert all(re.search("[\u4e00-\u9fff]", v["talking_point"]) for v in plan["visits"])


def test_bad_week_is_422_with_a_message(client, keys) -> None:
    for week in ("2026-W99", "soon", "2001-W10"):
        response = client.get(
            f"/v1/managers/M0000/visit-plan?week={week}", headers=_h(keys, "planner")
        )
        assert response.status_code == 422, week
        assert "week" in json.dumps(response.json()["detail"])


@pytest.mark.slow
def test_precomputed_plans_are_served_and_translated(client, keys, settings) -> None:
    result = precompute_plans_from(settings, time_limit_s=0.2, log=lambda *_: None)
    assert result["managers"] == 6
    en = client.get("/v1/managers/M0002/visit-plan", headers=_h(keys, "planner")).json()
    zh = client.get(
        "/v1/managers/M0002/visit-plan", headers=_h(keys, "planner", **{"Accept-Language": "zh"})
    ).json()
    assert en["source"] == zh["source"] == "precomputed"
    assert [v["retailer_id"] for v in en["visits"]] == [v["retailer_id"] for v in zh["visits"]]
    assert re.search("[\u4e00-\u9fff]", zh["visits"][0]["talking_point"])
    assert not re.search("[\u4e00-\u9fff]", en["visits"][0]["talking_point"])


def test_csv_opens_in_excel_with_chinese(client, keys) -> None:
    response = client.get(
        "/v1/managers/M0000/visit-plan?format=csv",
        headers=_h(keys, "planner", **{"Accept-Language": "zh"}),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8-sig")
    assert text.startswith("客户经理,") and re.search("[\u4e00-\u9fff]", text)
    english = client.get("/v1/managers/M0000/visit-plan?format=csv", headers=_h(keys, "planner"))
    assert english.content.decode("utf-8-sig").startswith("manager,week,date,")
    for path, role in (
        ("/v1/managers/M0000/skills", "coordinator"),
        ("/v1/managers/M0000/training", "coordinator"),
        ("/v1/cohorts?min_size=1", "coordinator"),
        ("/v1/models", "data_scientist"),
        ("/v1/teams/T00/visit-plan", "planner"),
    ):
        sep = "&" if "?" in path else "?"
        got = client.get(f"{path}{sep}format=csv", headers=_h(keys, role))
        assert got.status_code == 200 and got.content.startswith(b"\xef\xbb\xbf"), path


def test_retailer_risk_with_reasons_and_history(client, keys) -> None:
    plan = client.get("/v1/managers/M0000/visit-plan", headers=_h(keys, "planner")).json()
    # The riskiest planned retailer: the recency champion gives reasons only above the usual risk.
    retailer = max(plan["visits"], key=lambda v: v["churn_probability"])["retailer_id"]
    zh = client.get(
        f"/v1/retailers/{retailer}/risk", headers=_h(keys, "planner", **{"Accept-Language": "zh"})
    )
    assert zh.status_code == 200, zh.text
    body = zh.json()
    assert 0 <= body["churn_probability"] <= 1 and body["value_at_risk"] > 0
    assert len(body["order_history"]) == 13
    assert all(re.search("[\u4e00-\u9fff]", r) for r in body["reasons"])
    en = client.get(f"/v1/retailers/{retailer}/risk", headers=_h(keys, "planner")).json()
    assert en["reasons"] and not any(re.search("[\u4e00-\u9fff]", r) for r in en["reasons"])
    assert client.get("/v1/retailers/NOPE/risk", headers=_h(keys, "planner")).status_code == 404


def test_skills_training_and_cohorts(client, keys) -> None:
    skills = client.get("/v1/managers/M0000/skills", headers=_h(keys, "coordinator")).json()
    assert len(skills["skills"]) == 9 and all(s["evidence"] for s in skills["skills"])
    training = client.get(
        "/v1/managers/M0000/training", headers=_h(keys, "coordinator", **{"Accept-Language": "zh"})
    ).json()
    assert all(re.search("[\u4e00-\u9fff]", m["rationale"]) for m in training["modules"])
    cohorts = client.get("/v1/cohorts?min_size=1&max_size=3", headers=_h(keys, "coordinator"))
    assert cohorts.status_code == 200 and cohorts.json()
    bad = client.get("/v1/cohorts?min_size=5&max_size=2", headers=_h(keys, "coordinator"))
    assert bad.status_code == 422


def test_models_and_reload(client, keys) -> None:
    rows = client.get("/v1/models", headers=_h(keys, "data_scientist")).json()
    assert {r["model"] for r in rows if r["serving"]} == {
        "retailer-churn",
        "visit-effect",
        "manager-skills",
    }
    reloaded = client.post("/v1/models/reload", headers=_h(keys, "data_scientist")).json()
    assert {r["status"] for r in reloaded} == {"unchanged"}


def test_feedback_is_idempotent_and_flows_back_to_the_data(client, keys, settings) -> None:
    outcome = {
        "client_key": "tablet-1-0001",
        "manager_id": "M0000",
        "retailer_id": "R0000001",
        "visit_date": "2025-05-05",
        "done": True,
        "purpose": "brand_cultivation",
        "outcome": "新品上架",
    }
    first = client.post("/v1/feedback/outcomes", json=outcome, headers=_h(keys, "planner"))
    assert first.status_code == 201, first.text
    again = client.post("/v1/feedback/outcomes", json=outcome, headers=_h(keys, "planner"))
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert not again.json()["created"]
    changed = client.post(
        "/v1/feedback/outcomes", json={**outcome, "done": False}, headers=_h(keys, "planner")
    )
    assert changed.status_code == 409, changed.text
    decision = {
        "client_key": "tablet-1-0002",
        "manager_id": "M0000",
        "retailer_id": "R0000001",
        "week": "2025-W19",
        "decision": "reject",
        "reason": "店主不在",
    }
    assert (
        client.post("/v1/feedback/visits", json=decision, headers=_h(keys, "planner")).status_code
        == 201
    )
    training = {
        "client_key": "lms-export-0001",
        "manager_id": "M0000",
        "course_id": "C01",
        "completed_on": "2025-05-06",
    }
    assert (
        client.post(
            "/v1/feedback/trainings", json=training, headers=_h(keys, "coordinator")
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/v1/feedback/trainings", json=training, headers=_h(keys, "planner")
        ).status_code
        == 403
    )
    bad = client.post(
        "/v1/feedback/visits", json={**decision, "decision": "maybe"}, headers=_h(keys, "planner")
    )
    assert bad.status_code == 422

    data = settings.resolved_data_dir
    delivered = {name: path.read_bytes() for name, path in find_table_files(data).items()}
    engine = make_engine(settings.resolved_database_url)
    with session_factory(engine)() as session:
        counts = export_feedback(session, data)
        assert counts == {"visits": 1, "trainings": 1, "records": 2}
        assert export_feedback(session, data)["records"] == 0
    engine.dispose()
    # The company's files stay as delivered; the loader merges what the service learnt.
    assert {name: path.read_bytes() for name, path in find_table_files(data).items()} == (
        delivered
    )
    assert (data / "_feedback" / "visits.parquet").exists()
    tables = load_dataset(data).tables
    visits, trainings = tables["visits"], tables["trainings"]
    assert (visits["visit_date"] == "2025-05-05").sum() == 1
    assert (trainings["completed_on"] == "2025-05-06").sum() == 1
    learnt = read_raw_table(data / "_feedback" / "visits.parquet")
    assert len(visits) == len(read_raw_table(find_table_files(data)["visits"])) + len(learnt)


def test_admin_creates_keys(client, keys) -> None:
    created = client.post(
        "/v1/keys", json={"role": "planner", "teams": ["T01"]}, headers=_h(keys, "admin")
    )
    assert created.status_code == 201
    key = created.json()["key"]
    listed = client.get("/v1/keys", headers=_h(keys, "admin")).json()
    assert all("key" not in row and key not in json.dumps(row) for row in listed)
    no_team = client.post("/v1/keys", json={"role": "planner"}, headers=_h(keys, "admin"))
    assert no_team.status_code == 422
    assert client.get("/v1/teams/T01/visit-plan", headers={"X-API-Key": key}).status_code == 200


def test_team_scope_covers_risk_and_feedback(client, keys) -> None:
    teams = client.get("/v1/teams/T01/visit-plan", headers=_h(keys, "planner")).json()
    plan = teams["managers"][0]
    retailer, manager = plan["visits"][0]["retailer_id"], plan["manager_id"]
    scoped = _h(keys, "planner_t00")
    assert client.get(f"/v1/retailers/{retailer}/risk", headers=scoped).status_code == 403
    outcome = {
        "client_key": "scope-test-0001",
        "manager_id": manager,
        "retailer_id": retailer,
        "visit_date": "2025-05-05",
        "done": False,
    }
    assert client.post("/v1/feedback/outcomes", json=outcome, headers=scoped).status_code == 403
    allowed = client.post("/v1/feedback/outcomes", json=outcome, headers=_h(keys, "planner"))
    assert allowed.status_code == 201


def test_lapsed_retailer_is_scored_and_a_closed_one_is_not(client, keys, settings) -> None:
    tables = {n: read_raw_table(p) for n, p in find_table_files(settings.data_dir).items()}
    orders, retailers = tables["orders"], tables["retailers"].set_index("retailer_id")
    dates = pd.to_datetime(orders["order_date"])
    last_order = dates.groupby(orders["retailer_id"]).max()
    end = dates.max()
    expires = pd.to_datetime(retailers["licence_expires_on"]).reindex(last_order.index)
    licensed = expires.isna() | (expires > end + pd.Timedelta(days=7))
    lapsed = last_order[(last_order < end - pd.Timedelta(weeks=9)) & licensed.to_numpy()]
    assert len(lapsed) > 0
    body = client.get(f"/v1/retailers/{lapsed.index[0]}/risk", headers=_h(keys, "planner"))
    assert body.status_code == 200, body.text
    body = body.json()
    assert body["status"] == "lapsed" and body["lapsed"] is True
    assert 0 <= body["churn_probability"] <= 1 and body["weeks_since_last_order"] > 8
    assert body["purpose"] in ("win_back", None)
    if body["purpose"]:
        assert body["talking_point"]
    closed = last_order[(expires < end - pd.Timedelta(weeks=1)).to_numpy()]
    if len(closed):
        gone = client.get(f"/v1/retailers/{closed.index[0]}/risk", headers=_h(keys, "planner"))
        assert gone.json()["status"] == "churned" and gone.json()["churn_probability"] is None

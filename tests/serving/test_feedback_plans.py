"""A planner's rejection "暂停营业" and a done visit reach the next plans, in the API (fresh,
precomputed and remembered plans alike) and in the CLI, which read the same database."""

from __future__ import annotations

import datetime as dt

import pytest

from serving.batch import store_week_plans
from serving.db import make_engine, session_factory

CLOSED = "店铺装修，暂停营业"


def _h(keys, language: str = "en") -> dict[str, str]:
    return {"X-API-Key": keys["planner"], "Accept-Language": language}


def _next_week(week: str) -> str:
    year, number = week.split("-W")
    monday = dt.date.fromisocalendar(int(year), int(number), 1) + dt.timedelta(days=7)
    iso = monday.isocalendar()
    return f"{iso[0]}-W{iso[1]:02d}"


@pytest.mark.slow
def test_a_closed_shop_leaves_the_api_plans_and_the_cli_plan(client, keys, settings, monkeypatch):
    territory = client.app.state.territory
    store_week_plans(territory, client.app.state.sessions, time_limit_s=0.2, log=lambda _: None)
    first = client.get("/v1/managers/M0000/visit-plan", headers=_h(keys)).json()
    assert first["source"] == "precomputed"
    week, retailer = first["week"], first["visits"][0]["retailer_id"]
    decision = {
        "client_key": "tablet-closed-0001",
        "manager_id": "M0000",
        "retailer_id": retailer,
        "week": week,
        "decision": "reject",
        "reason": CLOSED,
    }
    assert client.post("/v1/feedback/visits", json=decision, headers=_h(keys)).status_code == 201
    for language in ("en", "zh"):
        again = client.get("/v1/managers/M0000/visit-plan", headers=_h(keys, language)).json()
        assert again["source"] == "computed", "a plan made before the feedback is not served"
        assert retailer not in {v["retailer_id"] for v in again["visits"]}
        assert any(retailer in n and CLOSED in n for n in again["notes"]), again["notes"]
    following = client.get(
        f"/v1/managers/M0000/visit-plan?week={_next_week(week)}", headers=_h(keys)
    ).json()
    assert retailer not in {v["retailer_id"] for v in following["visits"]}
    team = client.get("/v1/teams/T00/visit-plan", headers=_h(keys)).json()
    mine = next(p for p in team["managers"] if p["manager_id"] == "M0000")
    assert retailer not in {v["retailer_id"] for v in mine["visits"]}
    # The batch run after the feedback hears it too.
    store_week_plans(territory, client.app.state.sessions, time_limit_s=0.2, log=lambda _: None)
    stored = client.get("/v1/managers/M0000/visit-plan", headers=_h(keys)).json()
    assert stored["source"] == "precomputed"
    assert retailer not in {v["retailer_id"] for v in stored["visits"]}

    from typer.testing import CliRunner

    from fieldcoach.cli import app
    from fieldcoach.settings import get_settings

    monkeypatch.setenv("FIELDCOACH_HOME", str(settings.home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.resolved_tracking_uri)
    monkeypatch.delenv("FIELDCOACH_DATABASE_URL", raising=False)
    monkeypatch.delenv("FIELDCOACH_DATA_DIR", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app, ["plan", "visits", "--manager", "M0000", "--week", _next_week(week)]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    planned = [line for line in result.output.splitlines() if line.strip()[:3].strip().isdigit()]
    assert planned and not any(retailer in line for line in planned)
    assert any(retailer in line and "left out" in line for line in result.output.splitlines())


def test_a_done_visit_moves_the_retailer_past_the_minimum_gap(client, keys, settings):
    plan = client.get("/v1/managers/M0001/visit-plan", headers=_h(keys)).json()
    visit = plan["visits"][0]
    monday = dt.date.fromisoformat(plan["week_start"])
    outcome = {
        "client_key": "tablet-done-0001",
        "manager_id": "M0001",
        "retailer_id": visit["retailer_id"],
        "visit_date": str(monday - dt.timedelta(days=1)),
        "done": True,
    }
    assert client.post("/v1/feedback/outcomes", json=outcome, headers=_h(keys)).status_code == 201
    again = client.get("/v1/managers/M0001/visit-plan", headers=_h(keys)).json()
    dates = [v["date"] for v in again["visits"] if v["retailer_id"] == visit["retailer_id"]]
    assert all(dt.date.fromisoformat(d) >= monday + dt.timedelta(days=6) for d in dates)
    engine = make_engine(settings.resolved_database_url)
    with session_factory(engine)() as session:
        from serving.db import plan_feedback

        assert visit["retailer_id"] in set(plan_feedback(session, ["M0001"]).done["retailer_id"])
    engine.dispose()


@pytest.mark.slow
def test_the_batch_reports_progress_manager_by_manager(client):
    totals, steps = [], []
    store_week_plans(
        client.app.state.territory,
        client.app.state.sessions,
        time_limit_s=0.1,
        log=lambda _: None,
        progress=(totals.append, lambda: steps.append(1)),
    )
    assert totals == [6] and len(steps) == 6

"""Same inputs, same plan (issue 13): `fieldcoach plan visits` and
`GET /v1/managers/{id}/visit-plan` for one manager, week, capacity and days, each run twice
(the API's solver run afresh the second time), give the same retailers on the same days in
the same order, with the same benefit and distance, in JSON and in the route CSV."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from fieldcoach.cli import app
from fieldcoach.settings import get_settings

MANAGER, CAPACITY, DAYS = "M0002", 25, 4


def _essence(plan: dict) -> dict:
    """What a manager acts on: who, which day, in which order, for how much, how far."""
    return {
        "week": plan["week"],
        "capacity": plan["capacity"],
        "expected_benefit": plan["expected_benefit"],
        "total_km": plan["total_km"],
        "visits": [
            (v["rank"], v["retailer_id"], v["date"], v["purpose"], v["expected_benefit"])
            for v in plan["visits"]
        ],
        "schedule": [(d["date"], d["route"], d["km"]) for d in plan["schedule"]],
    }


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


@pytest.fixture()
def cli(settings, monkeypatch):
    monkeypatch.setenv("FIELDCOACH_HOME", str(settings.home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.resolved_tracking_uri)
    monkeypatch.delenv("FIELDCOACH_DATABASE_URL", raising=False)
    monkeypatch.delenv("FIELDCOACH_DATA_DIR", raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.mark.slow
def test_the_cli_and_the_api_give_the_same_plan_twice_in_a_row(client, keys, cli, tmp_path):
    language = "zh"
    territory = client.app.state.territory
    week = territory.default_week()
    options = ["--manager", MANAGER, "--week", week, "--capacity", str(CAPACITY)]
    options += ["--days", str(DAYS), "--language", language]
    from_cli, cli_csv = [], []
    for run, suffix in enumerate(("json", "csv", "json")):  # JSON twice in a row, and CSV
        out = tmp_path / f"plan-{run}.{suffix}"
        result = cli.invoke(app, ["plan", "visits", *options, "--out", str(out)])
        assert result.exit_code == 0, result.output
        text = out.read_text(encoding="utf-8")
        (from_cli if suffix == "json" else cli_csv).append(text)

    headers = {"X-API-Key": keys["planner"], "Accept-Language": language}
    query = f"week={week}&capacity={CAPACITY}&days={DAYS}"
    from_api, api_csv = [], []
    for _ in range(2):
        # The second request must solve again, not replay the first one's kept result.
        client.app.state.plan_flights.forget(lambda _key: False)
        answer = client.get(f"/v1/managers/{MANAGER}/visit-plan?{query}", headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["source"] == "computed"
        from_api.append(answer.json())
        client.app.state.plan_flights.forget(lambda _key: False)
        answer = client.get(
            f"/v1/managers/{MANAGER}/visit-plan?{query}&format=csv", headers=headers
        )
        assert answer.status_code == 200, answer.text
        api_csv.append(answer.content.decode("utf-8"))

    plans = [json.loads(text) for text in from_cli] + from_api
    first = _essence(plans[0])
    assert first["capacity"] == CAPACITY and len(first["visits"]) > CAPACITY // 2
    assert len(first["schedule"]) <= DAYS
    for plan in plans[1:]:
        assert _essence(plan) == first
    # Reasons and notes are in the same words on both sides (the same catalogue, once).
    assert [v["reasons"] for v in plans[0]["visits"]] == [
        v["reasons"] for v in from_api[0]["visits"]
    ]
    assert plans[0]["notes"] == from_api[0]["notes"]
    rows = [_csv_rows(text) for text in cli_csv + api_csv]
    days_out = len({visit[2] for visit in first["visits"]})
    assert len(rows[0]) == len(first["visits"]) + 2 * days_out  # each day: base out and back
    for other in rows[1:]:
        assert other == rows[0]

"""Ids are the company's own codes: Chinese team ids work, path tricks still do not."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from features.io import find_table_files, read_raw_table, write_table
from serving.app import create_app
from serving.db import make_engine, session_factory
from serving.schemas import ID_PATTERN
from serving.security import create_key

from .conftest import settings_for


@pytest.mark.parametrize("good", ["M0003", "城区市场部", "T-01.a:b_2", "Ｔ００", "店۱۲"])
def test_unicode_letters_and_digits_are_ids(good):
    assert re.fullmatch(ID_PATTERN, good)


@pytest.mark.parametrize(
    "bad", ["", "a/b", "a\\b", "..\u2215x", "城区 市场部", "a\tb", "a\nb", "a\x00b", "x" * 65]
)
def test_separators_whitespace_and_control_characters_are_not(bad):
    assert not re.fullmatch(ID_PATTERN, bad)


@pytest.mark.slow
def test_a_chinese_team_id_reaches_its_plan(home):
    """A company whose teams are named 城区市场部 can call the team endpoint."""
    files = find_table_files(home / "data")
    managers = read_raw_table(files["managers"])
    managers["team_id"] = managers["team_id"].replace({"T00": "城区市场部"})
    write_table(managers, files["managers"])
    settings = settings_for(home)
    engine = make_engine(settings.resolved_database_url)
    with session_factory(engine)() as session:
        key, _ = create_key(session, "planner", ["城区市场部"])
    engine.dispose()
    with TestClient(create_app(settings)) as client:
        headers = {"X-API-Key": key}
        response = client.get("/v1/teams/城区市场部/visit-plan", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["team_id"] == "城区市场部"
        assert response.json()["managers"]
        assert client.get("/v1/teams/T01/visit-plan", headers=headers).status_code == 403
        body = {
            "client_key": "tablet-城区-0001",
            "manager_id": response.json()["managers"][0]["manager_id"],
            "retailer_id": "零售户/../x",
            "week": "2026-W01",
            "decision": "reject",
        }
        assert client.post("/v1/feedback/visits", json=body, headers=headers).status_code == 422

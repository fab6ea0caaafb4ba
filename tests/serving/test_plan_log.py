"""Exploration through the service: the API option, stored plans and the exported plan log."""

from __future__ import annotations

from features.validate import load_dataset
from serving.db import make_engine, session_factory
from serving.feedback_export import export_plan_log

from .conftest import precompute_plans_from


def _h(keys, role):
    return {"X-API-Key": keys[role]}


def test_the_api_explores_by_its_setting_and_by_request(client, keys, settings):
    url = "/v1/managers/M0000/visit-plan?capacity=20"
    assert settings.explore_share == 0.05  # the default: on
    default = client.get(url, headers=_h(keys, "planner")).json()
    assert default["exploration"]["explore_share"] == 0.05
    asked = client.get(f"{url}&explore_share=0.2", headers=_h(keys, "planner")).json()
    record = asked["exploration"]
    assert record["explored"] == 4 and len(record["candidates"]) > 20
    explored = {c["retailer_id"] for c in record["candidates"] if c["explored"]}
    assert explored <= {v["retailer_id"] for v in asked["visits"]}
    assert all(v["explored"] == (v["retailer_id"] in explored) for v in asked["visits"])
    assert client.get(f"{url}&explore_share=0.2", headers=_h(keys, "planner")).json() == asked
    off = client.get(f"{url}&explore_share=0", headers=_h(keys, "planner")).json()
    assert off["exploration"] is None
    bad = client.get(f"{url}&explore_share=1", headers=_h(keys, "planner"))
    assert bad.status_code == 422


def test_stored_plans_export_their_log_as_the_recommendations_table(settings):
    result = precompute_plans_from(settings, log=lambda *_: None)
    assert result["managers"] > 0
    engine = make_engine(settings.resolved_database_url)
    try:
        with session_factory(engine)() as session:
            added = export_plan_log(session, settings.resolved_data_dir)
            assert added > 0
            assert export_plan_log(session, settings.resolved_data_dir) == 0, "once each"
    finally:
        engine.dispose()
    log = load_dataset(settings.resolved_data_dir).tables["recommendations"]
    assert len(log) == added and set(log["manager_id"]) == set(
        load_dataset(settings.resolved_data_dir).tables["managers"]["manager_id"]
    )
    near = log[log["near_best"] == 1]
    assert near["explored"].sum() > 0 and (near["propensity"] < 0.2).all()
    assert near.groupby("manager_id")["explored"].sum().ge(1).all()

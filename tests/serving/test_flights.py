"""Plans made on request are shared: one solver run for identical concurrent requests, kept
while the same models serve; and the service fills the week's default plans at start."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.batch import missing_week_plans
from serving.flights import SharedResults

from .conftest import settings_for


def test_identical_concurrent_calls_share_one_computation() -> None:
    shared, calls, gate = SharedResults(), [], threading.Event()

    def compute():
        calls.append(1)
        gate.wait(5)
        return {"visits": [1, 2, 3]}

    with ThreadPoolExecutor(20) as pool:
        futures = [pool.submit(shared.get, "k", compute) for _ in range(20)]
        time.sleep(0.2)
        gate.set()
        results = [f.result() for f in futures]
    assert len(calls) == 1 and shared.computed == 1
    assert all(r == {"visits": [1, 2, 3]} for r in results)
    results[0]["visits"].append(4)  # each caller owns its copy
    assert shared.get("k", compute) == {"visits": [1, 2, 3]} and len(calls) == 1
    assert shared.get("other", lambda: 7) == 7 and shared.computed == 2


def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    shared, gate = SharedResults(), threading.Event()

    def boom():
        gate.wait(5)
        raise ValueError("solver failed")

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(shared.get, "k", boom) for _ in range(4)]
        time.sleep(0.1)
        gate.set()
        for future in futures:
            with pytest.raises(ValueError, match="solver failed"):
                future.result()
    assert shared.get("k", lambda: "ok") == "ok"


def test_oldest_results_leave_first() -> None:
    shared = SharedResults(max_kept=2)
    for key in "abc":
        shared.get(key, lambda key=key: key)
    assert shared.get("a", lambda: "again") == "again"  # "a" was dropped
    assert shared.get("c", lambda: "not again") == "c"


def test_concurrent_replans_run_the_solver_once(client, keys) -> None:
    flights = client.app.state.plan_flights
    before = flights.computed
    url = "/v1/managers/M0001/visit-plan?capacity=9&days=4"

    def get(_):
        return client.get(url, headers={"X-API-Key": keys["planner"]})

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(get, range(8)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1
    assert flights.computed == before + 1
    client.get(url, headers={"X-API-Key": keys["planner"]})
    assert flights.computed == before + 1  # kept while the same models serve


@pytest.mark.slow
def test_the_service_fills_the_weeks_plans_at_start(home, keys) -> None:
    settings = settings_for(home, fill_plans_at_start=True)
    with TestClient(create_app(settings)) as client:
        state = client.app.state
        assert missing_week_plans(state.territory, state.sessions)  # not batched yet
        deadline = time.monotonic() + 120
        while missing_week_plans(state.territory, state.sessions):
            assert time.monotonic() < deadline, "default plans not filled in 120 s"
            time.sleep(0.5)
        plan = client.get("/v1/managers/M0002/visit-plan", headers={"X-API-Key": keys["planner"]})
        assert plan.json()["source"] == "precomputed"

"""Soak: a real uvicorn server under 20 concurrent clients for 60 s of mixed traffic.

Plan reads, feedback writes (and their retries) and hostile requests (a body over the
limit, lone surrogates, unknown fields, another team's ids) at once, while a monitor asks
``/v1/health`` five times a second. The bars (issue 10): health answers within 1 s
throughout, nothing answers 500, and every acknowledged write is stored exactly once.
Only loopback traffic; every loop is bounded in count and time. ``FIELDCOACH_SOAK_SECONDS``
shortens or lengthens the run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from fieldcoach.champions import MODEL_NAMES, ModelStore
from serving.batch import store_week_plans
from serving.db import Feedback, make_engine, session_factory
from serving.security import create_key
from serving.served_territory import ServedTerritory

from .conftest import settings_for
from .test_kill import _free_port, _start

pytestmark = pytest.mark.slow

# The health monitor runs in a process of its own: in the test process it would wait for
# the GIL behind twenty client threads and measure them instead of the server.
MONITOR = """
import http.client, json, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
end, times = time.monotonic() + seconds, []
while time.monotonic() < end and len(times) < seconds * 10 + 50:
    start = time.perf_counter()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/v1/health")
        ok = connection.getresponse().status == 200
        connection.close()
    except OSError:
        ok = False
    times.append((time.perf_counter() - start) * 1000 if ok else 1e9)
    time.sleep(0.2)
print(json.dumps(times))
"""
CLIENTS = 20
SECONDS = float(os.environ.get("FIELDCOACH_SOAK_SECONDS", "60"))
MAX_ITERATIONS = 20_000  # per client: a bound even if the clock misbehaves


def _hostile(rng: random.Random, own: dict, theirs: dict) -> tuple[str, bytes | dict, set[int]]:
    """A request an attacker would send and the answers that are right for it."""
    kind = rng.randrange(4)
    if kind == 0:  # 200 KB: over the 64 KiB limit
        return "bytes", b'{"client_key": "' + b"x" * 200_000 + b'"}', {413}
    if kind == 1:
        return "bytes", b'{"client_key": "\\ud800\\ud800\\ud800x", "manager_id": "M0000"}', {422}
    if kind == 2:
        return "json", {**own, "client_key": f"odd-{rng.random()}", "isAdmin": True}, {422}
    return "json", {**theirs, "client_key": f"bola-{rng.random()}"}, {403}


def test_twenty_clients_for_a_minute(home) -> None:
    settings = settings_for(home)
    engine = make_engine(settings.resolved_database_url)
    sessions = session_factory(engine)
    with sessions() as session:
        key, row = create_key(session, "planner", ["T00"])
        key_id = row.id
    store = ModelStore(settings.resolved_tracking_uri, settings.models_dir, MODEL_NAMES)
    store.start()
    territory = ServedTerritory.load(settings.resolved_data_dir, store)
    store_week_plans(territory, sessions, time_limit_s=0.1, log=lambda *_: None)
    own_retailers = [
        r for r, m in territory.manager_of_retailer.items() if m in ("M0000", "M0001", "M0002")
    ]
    other = next(r for r, m in territory.manager_of_retailer.items() if m == "M0003")
    week = territory.default_week()

    port = _free_port()
    server = _start(home, port)
    base = f"http://127.0.0.1:{port}"
    headers = {"X-API-Key": key}
    deadline = time.monotonic() + SECONDS
    statuses: Counter[int] = Counter()
    wrong: list[str] = []
    acknowledged: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(base_url=base, timeout=30, headers=headers) as client:
            for i in range(MAX_ITERATIONS):
                if time.monotonic() > deadline:
                    return
                retailer = rng.choice(own_retailers)
                manager = territory.manager_of_retailer[retailer]
                own = {
                    "client_key": f"soak-{n}-{i:06d}",
                    "manager_id": manager,
                    "retailer_id": retailer,
                    "visit_date": "2025-05-05",
                    "done": True,
                }
                theirs = {**own, "manager_id": "M0003", "retailer_id": other}
                roll = rng.random()
                try:
                    if roll < 0.45:
                        r = client.get(f"/v1/managers/{manager}/visit-plan")
                        expected = {200}
                    elif roll < 0.50:
                        r = client.get("/v1/managers/M0003/visit-plan")
                        expected = {403}
                    elif roll < 0.75:
                        path = "/v1/feedback/outcomes"
                        if rng.random() < 0.3:
                            path, own = (
                                "/v1/feedback/visits",
                                {
                                    "client_key": own["client_key"],
                                    "manager_id": manager,
                                    "retailer_id": retailer,
                                    "week": week,
                                    "decision": "accept",
                                },
                            )
                        r = client.post(path, json=own)
                        expected = {201}
                        if r.status_code == 201:
                            with lock:
                                acknowledged.append(own["client_key"])
                            again = client.post(path, json=own)  # a retry: the same record
                            if again.status_code != 200 or again.json()["id"] != r.json()["id"]:
                                with lock:
                                    wrong.append(f"retry {own['client_key']}: {again.status_code}")
                    else:
                        how, body, expected = _hostile(rng, own, theirs)
                        if how == "bytes":
                            r = client.post(
                                "/v1/feedback/outcomes",
                                content=body,
                                headers={"Content-Type": "application/json"},
                            )
                        else:
                            r = client.post("/v1/feedback/outcomes", json=body)
                except httpx.HTTPError as exc:
                    with lock:
                        wrong.append(f"transport error {exc!r}")
                    continue
                with lock:
                    statuses[r.status_code] += 1
                    if r.status_code not in expected:
                        wrong.append(f"{r.request.method} {r.request.url.path} -> {r.status_code}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(CLIENTS)]
    watcher = subprocess.Popen(
        [sys.executable, "-c", MONITOR, str(port), str(SECONDS)], stdout=subprocess.PIPE, text=True
    )
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=SECONDS + 120)
        health_ms = json.loads(watcher.communicate(timeout=60)[0])
    finally:
        if watcher.poll() is None:
            watcher.kill()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    with sessions() as session:
        stored = dict(
            session.execute(
                select(Feedback.client_key, func.count())
                .where(Feedback.api_key_id == key_id)
                .group_by(Feedback.client_key)
            ).all()
        )
    engine.dispose()
    worst = max(health_ms)
    print(
        f"soak: {sum(statuses.values())} requests in {SECONDS:.0f} s by {CLIENTS} clients, "
        f"statuses {dict(sorted(statuses.items()))}, {len(acknowledged)} writes acknowledged, "
        f"health n={len(health_ms)} p50 {sorted(health_ms)[len(health_ms) // 2]:.0f} ms "
        f"max {worst:.0f} ms"
    )
    assert not [s for s in statuses if s >= 500], statuses
    assert not wrong, wrong[:10]
    assert len(acknowledged) > 100 and sum(statuses.values()) > 1000
    assert all(stored.get(k) == 1 for k in acknowledged), "an acknowledged write is missing"
    assert all(n == 1 for n in stored.values()), "a write stored twice"
    assert worst < 1000, f"health took {worst:.0f} ms"

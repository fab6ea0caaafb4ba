"""Killing the service in the middle of feedback writes loses no acknowledged record."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from sqlalchemy import select

from serving.db import Feedback, make_engine, session_factory

from .conftest import make_keys, settings_for

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(home, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "FIELDCOACH_HOME": str(home),
        "FIELDCOACH_DATABASE_URL": f"sqlite:///{(home / 'fieldcoach.db').resolve()}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{(home / 'mlflow.db').resolve()}",
    }
    env.pop("FIELDCOACH_DATA_DIR", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from fieldcoach.cli import app; app()",
            "serve",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/ready", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError("the service exited while starting")
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("the service did not become ready")


def test_sigkill_mid_stream_loses_no_acknowledged_feedback(home) -> None:
    settings = settings_for(home)
    key = make_keys(settings)["planner"]
    port = _free_port()
    process = _start(home, port)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def post(worker: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for i in range(100_000):
                if stop.is_set():
                    return
                client_key = f"kill-{worker}-{i:06d}"
                body = {
                    "client_key": client_key,
                    "manager_id": "M0000",
                    "retailer_id": "R0000001",
                    "visit_date": "2025-05-05",
                    "done": True,
                }
                try:
                    r = client.post("/v1/feedback/outcomes", json=body, headers={"X-API-Key": key})
                except httpx.HTTPError:
                    return  # the service is gone: this one was never acknowledged
                if r.status_code in (200, 201):
                    with lock:
                        acknowledged.append(client_key)

    workers = [threading.Thread(target=post, args=(w,)) for w in range(4)]
    try:
        for w in workers:
            w.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 60 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)  # mid-stream: the workers are still posting
        process.wait(timeout=10)
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=10)
        if process.poll() is None:
            process.kill()
    assert len(acknowledged) >= 60, "not enough writes before the kill"

    restarted = _start(home, port)  # the database opens again after the kill
    try:
        engine = make_engine(settings.resolved_database_url)
        with session_factory(engine)() as session:
            stored = set(session.scalars(select(Feedback.client_key)))
        engine.dispose()
        missing = sorted(set(acknowledged) - stored)
        assert not missing, f"{len(missing)} acknowledged records lost, e.g. {missing[:3]}"
        again = httpx.post(
            f"http://127.0.0.1:{port}/v1/feedback/outcomes",
            json={
                "client_key": acknowledged[-1],
                "manager_id": "M0000",
                "retailer_id": "R0000001",
                "visit_date": "2025-05-05",
                "done": True,
            },
            headers={"X-API-Key": key},
            timeout=5,
        )
        assert again.status_code == 200 and not again.json()["created"]
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=20)

"""The service's database on PostgreSQL: keys, idempotent feedback and the API end to end.

Runs against a throwaway cluster (initdb + pg_ctl on a Unix socket) when PostgreSQL and
psycopg are installed; skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from serving.app import create_app
from serving.db import ClientKeyConflict, make_engine, record_feedback, session_factory
from serving.security import create_key, find_key

from .conftest import settings_for

pytest.importorskip("psycopg")
INITDB, PG_CTL = shutil.which("initdb"), shutil.which("pg_ctl")
pytestmark = pytest.mark.skipif(not (INITDB and PG_CTL), reason="PostgreSQL is not installed")


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; a root test run starts it as the postgres user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="module")
def database_url():
    folder = Path(tempfile.mkdtemp(prefix="fc-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", 54329  # Unix socket in a fresh folder: no clash
    run = dict(check=True, capture_output=True, timeout=60)
    subprocess.run(_as_postgres([INITDB, "-D", str(data), "-A", "trust", "-U", "fc"]), **run)
    options = f"-p {port} -k {folder} -c listen_addresses='' -c fsync=on"
    start = [PG_CTL, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"]
    subprocess.run(_as_postgres(start), **run)
    try:
        yield f"postgresql+psycopg://fc@/postgres?host={folder}&port={port}"
    finally:
        subprocess.run(_as_postgres([PG_CTL, "-D", str(data), "-m", "fast", "stop"]), **run)
        shutil.rmtree(folder, ignore_errors=True)


def test_keys_and_idempotent_feedback_on_postgres(database_url) -> None:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    with sessions() as session:
        key, _ = create_key(session, "planner", ["T00"])
        assert find_key(session, key).teams == frozenset({"T00"})
        first, created = record_feedback(session, "outcome", "pg-00000001", "M0", {"done": True})
        again, created_again = record_feedback(
            session, "outcome", "pg-00000001", "M0", {"done": True}
        )
        assert created and not created_again and again.id == first.id
        with pytest.raises(ClientKeyConflict):
            record_feedback(session, "outcome", "pg-00000001", "M0", {"done": False})
    engine.dispose()


def test_an_old_postgres_database_is_migrated_to_scoped_client_keys(database_url) -> None:
    """Issue 10 #9: client_key unique on its own (the old schema) becomes scoped on open."""
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX uq_feedback_holder_kind_key")
        connection.exec_driver_sql("DROP INDEX ix_feedback_client_key")
        connection.exec_driver_sql(
            "CREATE UNIQUE INDEX ix_feedback_client_key ON feedback (client_key)"
        )
    engine.dispose()
    engine = make_engine(database_url)  # migrates
    indexes = {ix["name"]: ix for ix in inspect(engine).get_indexes("feedback")}
    assert not indexes["ix_feedback_client_key"]["unique"]
    assert indexes["uq_feedback_holder_kind_key"]["unique"]
    with session_factory(engine)() as session:
        a, _ = record_feedback(session, "outcome", "pg-shared-01", "M0", {"a": 1}, 1)
        b, created = record_feedback(session, "outcome", "pg-shared-01", "M3", {"b": 2}, 2)
        assert created and a.id != b.id
    engine.dispose()


def test_the_api_stores_feedback_in_postgres(home, database_url) -> None:
    settings = settings_for(home, database_url=database_url)
    engine = make_engine(database_url)
    with session_factory(engine)() as session:
        key, _ = create_key(session, "planner", ["*"])
    engine.dispose()
    body = {
        "client_key": "pg-api-0001",
        "manager_id": "M0000",
        "retailer_id": "R0000001",
        "week": "2025-W19",
        "decision": "accept",
    }
    with TestClient(create_app(settings)) as client:
        headers = {"X-API-Key": key}
        first = client.post("/v1/feedback/visits", json=body, headers=headers)
        assert first.status_code == 201, first.text
        again = client.post("/v1/feedback/visits", json=body, headers=headers)
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]

"""Keys are stored hashed, roles are checked, feedback is stored once per client key."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from serving.db import ApiKey, Feedback, make_engine, record_feedback, session_factory
from serving.security import create_key, find_key, hash_key


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fc.db'}")
    yield session_factory(engine)
    engine.dispose()


def test_only_the_hash_is_stored_and_the_key_finds_its_role(sessions) -> None:
    with sessions() as session:
        key, row = create_key(session, "planner", ["T01", "T00", "T01"])
        assert row.teams == ["T00", "T01"]
        stored = session.scalars(select(ApiKey)).one()
        assert stored.key_hash == hash_key(key) and key not in (stored.key_hash, stored.prefix)
        principal = find_key(session, key)
        assert principal.role == "planner" and principal.may_see_team("T00")
        assert not principal.may_see_team("T02") and find_key(session, key + "x") is None


@pytest.mark.parametrize(("role", "teams"), [("boss", []), ("planner", [])])
def test_bad_roles_and_teamless_planners_are_refused(sessions, role, teams) -> None:
    with sessions() as session, pytest.raises(ValueError):
        create_key(session, role, teams)


def test_feedback_is_idempotent_on_the_client_key(sessions) -> None:
    with sessions() as session:
        first, created = record_feedback(session, "outcome", "k-00000001", "M1", {"done": True})
        again, created_again = record_feedback(
            session, "outcome", "k-00000001", "M1", {"done": False}
        )
        assert created and not created_again and again.id == first.id
        assert again.payload == {"done": True}
        assert len(session.scalars(select(Feedback)).all()) == 1


def test_sqlite_is_wal_with_full_sync(sessions) -> None:
    with sessions() as session:
        connection = session.connection()
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL

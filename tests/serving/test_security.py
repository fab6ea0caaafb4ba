"""Keys are stored hashed, roles are checked, feedback is stored once per client key."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from serving.db import (
    ApiKey,
    ClientKeyConflict,
    Feedback,
    make_engine,
    migrate_feedback_keys,
    record_feedback,
    session_factory,
)
from serving.security import create_key, find_key, hash_key, revoke_key


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
            session, "outcome", "k-00000001", "M1", {"done": True}
        )
        assert created and not created_again and again.id == first.id
        with pytest.raises(ClientKeyConflict):
            record_feedback(session, "outcome", "k-00000001", "M1", {"done": False})
        assert session.get(Feedback, first.id).payload == {"done": True}
        assert len(session.scalars(select(Feedback)).all()) == 1


def test_client_keys_are_scoped_per_holder_and_kind(sessions) -> None:
    """Issue 10 #9: T01 reusing T00's client key stores its own record, as does a second
    kind; the same holder and kind with another body is a conflict."""
    with sessions() as session:
        t00, _ = record_feedback(session, "outcome", "tablet-0001", "M0", {"a": 1}, 1)
        t01, created = record_feedback(session, "outcome", "tablet-0001", "M3", {"b": 2}, 2)
        other_kind, created_kind = record_feedback(
            session, "decision", "tablet-0001", "M0", {"c": 3}, 1
        )
        assert created and created_kind and len({t00.id, t01.id, other_kind.id}) == 3
        assert session.get(Feedback, t01.id).payload == {"b": 2}
        with pytest.raises(ClientKeyConflict):
            record_feedback(session, "outcome", "tablet-0001", "M0", {"a": 9}, 1)


def test_an_old_database_is_migrated_to_scoped_client_keys(tmp_path) -> None:
    """A database made when client_key was unique on its own is migrated on open."""
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE feedback (
                id INTEGER PRIMARY KEY, client_key VARCHAR(200) NOT NULL,
                kind VARCHAR(16) NOT NULL, manager_id VARCHAR(64) NOT NULL,
                payload JSON NOT NULL, api_key_id INTEGER, created_at DATETIME NOT NULL,
                exported_at DATETIME);
            CREATE UNIQUE INDEX ix_feedback_client_key ON feedback (client_key);
            CREATE INDEX ix_feedback_kind ON feedback (kind);
            CREATE INDEX ix_feedback_manager_id ON feedback (manager_id);
            INSERT INTO feedback VALUES
                (1, 'tablet-0001', 'outcome', 'M0', '{"a": 1}', 1, '2025-01-01', NULL);
            """
        )
    engine = make_engine(f"sqlite:///{path}")
    indexes = {ix["name"]: ix for ix in inspect(engine).get_indexes("feedback")}
    assert not indexes["ix_feedback_client_key"]["unique"]
    assert indexes["uq_feedback_holder_kind_key"]["unique"]
    assert not migrate_feedback_keys(engine)  # a second start has nothing to do
    with session_factory(engine)() as session:
        again, created = record_feedback(session, "outcome", "tablet-0001", "M0", {"a": 1}, 1)
        assert not created and again.id == 1
        _, created = record_feedback(session, "outcome", "tablet-0001", "M3", {"b": 2}, 2)
        assert created
    engine.dispose()


@pytest.mark.parametrize(
    ("role", "teams", "message"),
    [
        ("data_scientist", ["T00"], "does not apply"),
        ("admin", ["*"], "does not apply"),
        ("coordinator", [""], "team name"),
        ("planner", ["  "], "team name"),
    ],
)
def test_teams_are_refused_where_they_mean_nothing(sessions, role, teams, message) -> None:
    """Issue 10 #3: --team for a role without team scope, or an empty team, is refused."""
    with sessions() as session, pytest.raises(ValueError, match=message):
        create_key(session, role, teams)


def test_coordinator_keys_carry_their_scope(sessions) -> None:
    with sessions() as session:
        scoped, _ = create_key(session, "coordinator", ["T00"])
        company, row = create_key(session, "coordinator")
        assert row.teams == ["*"]
        assert find_key(session, scoped).teams == frozenset({"T00"})
        assert find_key(session, company).all_teams
        legacy, old = create_key(session, "coordinator")
        old.teams = []  # a key stored before coordinators had a scope
        session.commit()
        assert find_key(session, legacy).all_teams


def test_a_revoked_key_is_refused(sessions) -> None:
    with sessions() as session:
        key, row = create_key(session, "planner", ["T00"])
        assert find_key(session, key) is not None
        revoked = revoke_key(session, row.id)
        assert revoked.revoked_at is not None and find_key(session, key) is None
        assert revoke_key(session, 10_000) is None


def test_sqlite_is_wal_with_full_sync(sessions) -> None:
    with sessions() as session:
        connection = session.connection()
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL

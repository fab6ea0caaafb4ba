"""The service's own database: API keys, feedback from the field and precomputed plans.

SQLAlchemy 2 on whatever ``Settings.resolved_database_url`` names: a SQLite file by default
(WAL journal and ``synchronous=FULL``, so a record is on disk before its request is
acknowledged), or a PostgreSQL URL. Feedback is idempotent on the client's key within one
key-holder and kind: a repeated post returns the first record instead of writing a second,
and the same key with a different body is a conflict. Timestamps are stored in UTC.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from planning.feedback import PlanFeedback, build_feedback


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def as_utc(value: dt.datetime) -> dt.datetime:
    """A stored timestamp (naive, UTC by construction) with its UTC offset attached."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class ClientKeyConflict(ValueError):
    """The same holder and kind already stored this client key with a different body."""


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    """A client's key, stored only as its SHA-256 (keys are 256-bit random, see security)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(32))
    teams: Mapped[list[str]] = mapped_column(JSON, default=list)
    label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Feedback(Base):
    """One piece of feedback: a visit decision, a visit outcome or a training completion."""

    __tablename__ = "feedback"
    __table_args__ = (
        # One namespace per key-holder and kind: two teams may pick the same client key.
        Index("uq_feedback_holder_kind_key", "api_key_id", "kind", "client_key", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_key: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    manager_id: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    api_key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    exported_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class PrecomputedPlan(Base):
    """A manager's default plan for a week in one language, written by ``plan batch``."""

    __tablename__ = "precomputed_plans"
    __table_args__ = (UniqueConstraint("manager_id", "week", "language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    manager_id: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    week: Mapped[str] = mapped_column(String(10))
    language: Mapped[str] = mapped_column(String(2))
    body: Mapped[str] = mapped_column(Text)  # the plan's JSON, served as is
    models: Mapped[str] = mapped_column(String(200))  # model versions it was made with
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


def make_engine(url: str) -> Engine:
    """An engine with the tables created; SQLite gets WAL and a full fsync per commit."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit returns only after the WAL is fsynced, so an acknowledged
            # record survives a killed process (and a power cut).
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    Base.metadata.create_all(engine)
    migrate_feedback_keys(engine)
    return engine


def migrate_feedback_keys(engine: Engine) -> bool:
    """Databases made before client keys were scoped have ``client_key`` unique on its own:
    make that index plain and add the (holder, kind, client key) one. Returns whether it
    changed anything; safe to run on every start and by several workers at once."""
    indexes = {ix["name"]: ix for ix in inspect(engine).get_indexes("feedback")}
    old = indexes.get("ix_feedback_client_key")
    needs_plain = old is not None and bool(old.get("unique"))
    needs_scoped = "uq_feedback_holder_kind_key" not in indexes
    if not (needs_plain or needs_scoped):
        return False
    table = cast(Table, Feedback.__table__)  # a mapped class's __table__ is its Table
    try:
        with engine.begin() as connection:
            if needs_scoped:
                next(i for i in table.indexes if i.name == "uq_feedback_holder_kind_key").create(
                    connection
                )
            if needs_plain:
                plain = next(i for i in table.indexes if i.name == "ix_feedback_client_key")
                plain.drop(connection)
                plain.create(connection)
    except (OperationalError, ProgrammingError):  # another worker migrated first
        indexes = {ix["name"]: ix for ix in inspect(engine).get_indexes("feedback")}
        if "uq_feedback_holder_kind_key" not in indexes:
            raise
    return True


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def record_feedback(
    session: Session,
    kind: str,
    client_key: str,
    manager_id: str,
    payload: dict[str, Any],
    api_key_id: int | None = None,
) -> tuple[Feedback, bool]:
    """Store feedback once per (key-holder, kind, client key); returns (the record, whether
    it is new).

    A repeated key with the same body returns the first record: the client retried, and
    the first acknowledged write is the one that counts.

    Raises:
        ClientKeyConflict: the key was already used by this holder for a different body.
    """
    payload = json.loads(json.dumps(payload, default=str))

    def first() -> Feedback | None:
        holder = (
            Feedback.api_key_id.is_(None)
            if api_key_id is None
            else Feedback.api_key_id == api_key_id
        )
        return session.scalar(
            select(Feedback).where(
                holder, Feedback.kind == kind, Feedback.client_key == client_key
            )
        )

    def same(row: Feedback) -> tuple[Feedback, bool]:
        if row.payload != payload:
            raise ClientKeyConflict(
                f"client_key {client_key!r} was already used for a different {kind}: "
                "choose a new key for a new record"
            )
        return row, False

    existing = first()
    if existing is not None:
        return same(existing)
    row = Feedback(
        client_key=client_key,
        kind=kind,
        manager_id=manager_id,
        payload=payload,
        api_key_id=api_key_id,
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # a concurrent retry won the race: return its record
        session.rollback()
        winner = first()
        if winner is None:
            raise
        return same(winner)
    return row, True


def save_plan(
    session: Session,
    manager_id: str,
    team_id: str | None,
    week: str,
    language: str,
    body: str,
    models: str,
) -> None:
    """Insert or replace one precomputed plan (committed by the caller)."""
    row = session.scalar(
        select(PrecomputedPlan).where(
            PrecomputedPlan.manager_id == manager_id,
            PrecomputedPlan.week == week,
            PrecomputedPlan.language == language,
        )
    )
    if row is None:
        row = PrecomputedPlan(manager_id=manager_id, week=week, language=language)
        session.add(row)
    row.team_id, row.body, row.models, row.created_at = team_id, body, models, utcnow()


def load_plan(
    session: Session, manager_id: str, week: str, language: str
) -> PrecomputedPlan | None:
    return session.scalar(
        select(PrecomputedPlan).where(
            PrecomputedPlan.manager_id == manager_id,
            PrecomputedPlan.week == week,
            PrecomputedPlan.language == language,
        )
    )


def plan_feedback(session: Session, manager_ids: list[str] | None = None) -> PlanFeedback:
    """Decisions and outcomes stored for these managers (all if None), as planning reads them."""
    query = select(Feedback).where(Feedback.kind.in_(("decision", "outcome")))
    if manager_ids is not None:
        query = query.where(Feedback.manager_id.in_(manager_ids))
    rows = list(session.scalars(query.order_by(Feedback.id)))
    return build_feedback(
        [r.payload for r in rows if r.kind == "decision"],
        [r.payload for r in rows if r.kind == "outcome"],
    )


def latest_feedback_at(session: Session, manager_id: str) -> dt.datetime | None:
    """When the last decision or outcome about this manager's retailers arrived."""
    return session.scalar(
        select(func.max(Feedback.created_at)).where(
            Feedback.manager_id == manager_id, Feedback.kind.in_(("decision", "outcome"))
        )
    )

"""API keys and roles: who may call what, and for which teams.

Keys are 256 bits from ``secrets``; the database keeps only their SHA-256. A slow hash
(scrypt) protects guessable passwords, but a random 256-bit key cannot be guessed, and a
fast hash keeps the check within the latency budget of every request.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session

from serving.db import ApiKey, utcnow

ROLES = ("planner", "coordinator", "data_scientist", "admin")
ALL_TEAMS = "*"
SCOPED_ROLES = ("planner", "coordinator")  # roles whose keys are limited to teams


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(
    session: Session, role: str, teams: list[str] | None = None, label: str | None = None
) -> tuple[str, ApiKey]:
    """Create and store a key; returns the plain key (shown once) and its record.

    A coordinator key without a team is company-wide and stored as ``['*']``.

    Raises:
        ValueError: unknown role, a planner key without a team, a team for a role that has
            no team scope (data_scientist, admin), or an empty team name.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    teams = list(teams or [])
    if any(not t or t != t.strip() or not t.isprintable() for t in teams):
        raise ValueError(f"a team name must be printable text without outer spaces: {teams!r}")
    teams = sorted(set(teams))
    if teams and role not in SCOPED_ROLES:
        raise ValueError(f"--team does not apply to {role} keys: the role has no team scope")
    if role == "planner" and not teams:
        raise ValueError(f"a planner key needs --team (a team id, or {ALL_TEAMS} for all)")
    if role == "coordinator" and not teams:
        teams = [ALL_TEAMS]
    token = secrets.token_urlsafe(32)
    key = f"fc_{token}"
    row = ApiKey(key_hash=hash_key(key), prefix=key[:7], role=role, teams=teams, label=label)
    session.add(row)
    session.commit()
    return key, row


@dataclass(frozen=True)
class Principal:
    """The caller behind a key."""

    key_id: int
    role: str
    teams: frozenset[str] = field(default_factory=frozenset)

    @property
    def all_teams(self) -> bool:
        return ALL_TEAMS in self.teams

    def may_see_team(self, team_id: str | None) -> bool:
        return self.all_teams or (team_id is not None and team_id in self.teams)


def principal_of(row: ApiKey) -> Principal:
    teams = frozenset(row.teams or [])
    if row.role == "coordinator" and not teams:
        teams = frozenset({ALL_TEAMS})  # keys made before coordinators had a scope
    return Principal(row.id, row.role, teams)


def find_key(session: Session, key: str) -> Principal | None:
    """The caller behind a key that exists and is not revoked (one indexed lookup)."""
    return find_key_hash(session, hash_key(key))


def find_key_hash(session: Session, key_hash: str) -> Principal | None:
    """The caller behind a key's hash (what a web session keeps instead of the key)."""
    row = session.scalar(
        select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )
    return None if row is None else principal_of(row)


class KeyLookup:
    """Finds a key's holder with one indexed query per request.

    Every request reads the database, so a revocation applies at once in every worker. On
    SQLite (a local file; in WAL mode readers never wait for writers) the query runs on
    the calling thread over one kept connection in autocommit, so each query sees the
    latest commit: for the API that is the event loop, which avoids a worker-thread hop
    and a pool checkout per request, the main costs under load. ``on_loop`` says whether
    calling it there is safe; a network database is asked from a worker thread instead.
    """

    SQL = "SELECT id, role, teams FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.on_loop = engine.dialect.name == "sqlite"
        self._connection: Any = None
        self._lock = threading.Lock()
        self._query = select(ApiKey.id, ApiKey.role, ApiKey.teams).where(
            ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None)
        )

    def __call__(self, key: str) -> Principal | None:
        if not self.on_loop:
            with self.engine.connect() as connection:
                row = connection.execute(self._query, {"key_hash": hash_key(key)}).first()
            return None if row is None else principal_of(row)  # type: ignore[arg-type]
        with self._lock:  # the kept connection serves one query at a time
            if self._connection is None:
                self._connection = self.engine.raw_connection()
            found = self._connection.execute(self.SQL, (hash_key(key),)).fetchone()
        if found is None:
            return None
        teams = json.loads(found[2]) if isinstance(found[2], str) else found[2]
        return principal_of(ApiKey(id=found[0], role=found[1], teams=teams))

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def stored_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_key(session: Session, key_id: int) -> ApiKey | None:
    """Revoke a key (kept for the record); None if no key has this id.

    Revoking an already revoked key keeps its first revocation time.
    """
    row = session.get(ApiKey, key_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.commit()
    return row

"""API keys and roles: who may call what, and for which teams.

Keys are 256 bits from ``secrets``; the database keeps only their SHA-256. A slow hash
(scrypt) protects guessable passwords, but a random 256-bit key cannot be guessed, and a
fast hash keeps the check within the latency budget of every request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from sqlalchemy import select
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

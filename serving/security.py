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

from serving.db import ApiKey

ROLES = ("planner", "coordinator", "data_scientist", "admin")
ALL_TEAMS = "*"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(
    session: Session, role: str, teams: list[str] | None = None, label: str | None = None
) -> tuple[str, ApiKey]:
    """Create and store a key; returns the plain key (shown once) and its record.

    Raises:
        ValueError: unknown role, or a planner key without a team.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    teams = sorted(set(teams or []))
    if role == "planner" and not teams:
        raise ValueError(f"a planner key needs --team (a team id, or {ALL_TEAMS} for all)")
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

    def may_see_team(self, team_id: str | None) -> bool:
        return ALL_TEAMS in self.teams or (team_id is not None and team_id in self.teams)


def find_key(session: Session, key: str) -> Principal | None:
    return find_key_hash(session, hash_key(key))


def find_key_hash(session: Session, key_hash: str) -> Principal | None:
    """The caller behind a key's hash (what a web session keeps instead of the key)."""
    row = session.scalar(
        select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )
    if row is None:
        return None
    return Principal(row.id, row.role, frozenset(row.teams or []))

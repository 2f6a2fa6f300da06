"""Server-side sessions (ASVS 3.2, 3.3): a random id in the cookie, its SHA-256 in the store.

A session ends at logout, after ``idle_s`` without a request (30 min), ``absolute_s``
after sign-in (12 h), when its user's password changes or the user is disabled, and when
an admin revokes it. The role is read from the user's row on every request, so a role
change applies at once. ``last_seen`` is written at most once a ``touch_s`` (a minute),
so browsing does not put a write per request on the store the ingest writes to.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from collector.security.events import SecurityEvent, record_statement
from collector.store.sql import Database, Statement

IDLE_S = 30 * 60
ABSOLUTE_S = 12 * 3600
TOUCH_S = 60


def digest(secret: str) -> str:
    """What the store keeps of a session id or token secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    """A live session, as the middleware sees it."""

    id_hash: str
    username: str
    role: str
    created_at: float
    last_seen: float


@dataclass(frozen=True)
class SessionPolicy:
    idle_s: float = IDLE_S
    absolute_s: float = ABSOLUTE_S
    touch_s: float = TOUCH_S


async def create(db: Database, username: str, source: str, detail: str = "") -> str:
    """A new session for ``username`` (signed in just now); returns the id for the cookie."""
    secret = secrets.token_urlsafe(32)
    now = time.time()
    await db.transaction(
        [
            Statement(
                "INSERT INTO sessions (id_hash, username, created_at, last_seen, source) VALUES (?, ?, ?, ?, ?)",
                (digest(secret), username, now, now, source[:100]),
            ),
            record_statement(SecurityEvent(now, "login.success", username, source, detail)),
        ]
    )
    return secret


async def lookup(
    db: Database, secret: str, policy: SessionPolicy, source: str = "", now: float | None = None
) -> Session | None:
    """The live session for a cookie's id, or ``None`` (unknown, revoked, idle or too old).

    A session found expired is revoked here and logged once.
    """
    now = time.time() if now is None else now
    row = await db.fetch_one(
        "SELECT s.id_hash, s.username, u.role, s.created_at, s.last_seen, s.revoked_at, u.disabled "
        "FROM sessions s JOIN users u ON u.username = s.username WHERE s.id_hash = ?",
        (digest(secret),),
    )
    if row is None or row["revoked_at"] is not None or row["disabled"]:
        return None
    session = Session(row["id_hash"], row["username"], row["role"], row["created_at"], row["last_seen"])
    idle = now - session.last_seen > policy.idle_s
    if idle or now - session.created_at > policy.absolute_s:
        await _end(
            db, session.id_hash, "session.expired", session.username, source, "idle" if idle else "absolute"
        )
        return None
    if now - session.last_seen >= policy.touch_s:
        await db.execute(
            Statement("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", (now, session.id_hash))
        )
    return session


async def _end(db: Database, id_hash: str, event: str, username: str, source: str, detail: str = "") -> bool:
    now = time.time()
    outcomes = await db.transaction(
        [
            Statement(
                "UPDATE sessions SET revoked_at = ? WHERE id_hash = ? AND revoked_at IS NULL", (now, id_hash)
            ),
            record_statement(SecurityEvent(now, event, username, source, detail)),
        ]
    )
    return outcomes[0].rowcount == 1


async def logout(db: Database, secret: str, username: str, source: str) -> None:
    """End the session whose id the cookie held."""
    await _end(db, digest(secret), "logout", username, source)


async def revoke(db: Database, id_hash: str, actor: str) -> bool:
    """An admin ends one session, named by its id hash or the first 12+ characters the lists show."""
    if len(id_hash) < 12:
        return False
    rows = await db.fetch(
        "SELECT id_hash, username FROM sessions WHERE substr(id_hash, 1, ?) = ? AND revoked_at IS NULL",
        (len(id_hash), id_hash),
    )
    if len(rows) != 1:
        return False
    return await _end(db, rows[0]["id_hash"], "session.revoked", rows[0]["username"], actor, f"by={actor}")


async def revoke_user(db: Database, username: str, actor: str) -> int:
    """An admin ends every live session of ``username``; how many there were."""
    now = time.time()
    outcomes = await db.transaction(
        [
            Statement(
                "UPDATE sessions SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL",
                (now, username),
            ),
            record_statement(SecurityEvent(now, "session.revoked", username, actor, f"all, by={actor}")),
        ]
    )
    return outcomes[0].rowcount


async def live(db: Database, policy: SessionPolicy, now: float | None = None) -> list[dict[str, Any]]:
    """Sessions neither revoked nor expired (for the admin), newest first."""
    now = time.time() if now is None else now
    return await db.fetch(
        "SELECT id_hash, username, created_at, last_seen, source FROM sessions "
        "WHERE revoked_at IS NULL AND last_seen >= ? AND created_at >= ? ORDER BY created_at DESC",
        (now - policy.idle_s, now - policy.absolute_s),
    )


def purge_statement(now: float, keep_s: float) -> Statement:
    """Delete sessions ended (or expired) more than ``keep_s`` ago (retention)."""
    return Statement(
        "DELETE FROM sessions WHERE coalesce(revoked_at, last_seen) < ?",
        (now - keep_s,),
    )

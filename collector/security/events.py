"""The security event log (ASVS 7.1, 7.2): sign-ins, failures, lockouts, token use, admin acts.

Rows name the user and the source address and say what happened; they never hold a
password, a session id or a token secret (a token is named by its public id). The
auditor role reads them on ``/security/events`` and ``/api/v1/security/events``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from collector.store.sql import Database, Statement

log = logging.getLogger(__name__)

#: The kinds of event written, for the docs and the auditor's filter.
KINDS = (
    "login.success",
    "login.failure",
    "login.throttled",
    "login.locked",
    "logout",
    "session.expired",
    "session.revoked",
    "token.used",
    "token.refused",
    "token.created",
    "token.revoked",
    "user.created",
    "user.password_set",
    "user.role_set",
    "user.unlocked",
    "user.disabled",
    "csrf.refused",
    "erase",
)


@dataclass(frozen=True)
class SecurityEvent:
    """One row of ``security_events``."""

    at: float
    event: str
    username: str = ""
    source: str = ""
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def record_statement(event: SecurityEvent) -> Statement:
    """The INSERT of one event (to join an admin act's transaction)."""
    if event.event not in KINDS:
        raise ValueError(f"unknown security event {event.event!r}")
    return Statement(
        "INSERT INTO security_events (at, event, username, source, detail) VALUES (?, ?, ?, ?, ?)",
        (event.at, event.event, event.username[:200], event.source[:100], event.detail[:500]),
    )


async def record(db: Database, event: str, username: str = "", source: str = "", detail: str = "") -> None:
    """Write one event now (its own transaction)."""
    await db.execute(record_statement(SecurityEvent(time.time(), event, username, source, detail)))
    log.info("security: %s user=%s source=%s %s", event, username or "-", source or "-", detail)


async def recent(
    db: Database, limit: int = 100, event: str | None = None, before_id: int | None = None
) -> list[dict[str, Any]]:
    """The latest events, newest first, optionally of one kind and older than ``before_id``."""
    where, params = [], []  # type: list[str], list[Any]
    if event:
        where.append("event = ?")
        params.append(event)
    if before_id:
        where.append("id < ?")
        params.append(before_id)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return await db.fetch(
        f"SELECT id, at, event, username, source, detail FROM security_events {clause} ORDER BY id DESC LIMIT ?",
        (*params, limit),
    )

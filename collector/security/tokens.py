"""API tokens (ASVS 3.5): created by an admin, shown once, stored hashed, a role, an expiry.

A token reads ``hs_<id>_<secret>``: the id is public (lists, logs, events, revocation),
the secret only ever in the client's hands; the store keeps SHA-256 of the whole token.
A bearer token opens ``/api/`` routes only, never the HTML pages.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from collector.security.accounts import check_role
from collector.security.errors import PolicyError, SecurityError
from collector.security.events import SecurityEvent, record_statement
from collector.security.sessions import digest
from collector.store.sql import Conflict, Database, Statement

SHAPE = re.compile(r"hs_([a-z0-9]{10})_([A-Za-z0-9_-]{32,})")
MAX_DAYS = 366
#: Tokens given in settings are chosen by people: at least this long (ours are 46 characters).
MIN_SETTINGS_LENGTH = 24


@dataclass(frozen=True)
class Token:
    """A valid token's identity: its public id, name and role."""

    token_id: str
    name: str
    role: str
    expires_at: float


async def create(
    db: Database, name: str, role: str, days: float, *, actor: str, secret: str | None = None
) -> tuple[str, Token]:
    """A new token; returns the full token (show it once) and its record.

    ``secret`` is for deployments that seed a token they generated elsewhere (it must be
    at least 32 URL-safe characters).
    """
    check_role(role)
    if not 0 < days <= MAX_DAYS:
        raise PolicyError(f"token expiry: from 1 minute to {MAX_DAYS} days (got {days})")
    if not name or len(name) > 100:
        raise PolicyError("token name: 1-100 characters")
    token_id = secrets.token_hex(5)
    secret = secret or secrets.token_urlsafe(32)
    full = f"hs_{token_id}_{secret}"
    if not SHAPE.fullmatch(full):
        raise PolicyError("token secret: at least 32 characters of A-Z, a-z, 0-9, '-' and '_'")
    now = time.time()
    expires = now + days * 86400
    await db.transaction(
        [
            Statement(
                "INSERT INTO api_tokens (token_id, secret_hash, name, role, created_by, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (token_id, digest(full), name, role, actor, now, expires),
            ),
            record_statement(
                SecurityEvent(now, "token.created", actor, "", f"token={token_id} role={role} days={days:g}")
            ),
        ]
    )
    return full, Token(token_id, name, role, expires)


async def check(db: Database, presented: str, now: float | None = None) -> Token | None:
    """The token if ``presented`` is live (known, not revoked, not expired), else ``None``.

    Looked up by the SHA-256 of the whole token: a high-entropy secret needs no salt, and
    the lookup is an index probe whose timing says nothing about the secret.
    """
    if not presented or len(presented) > 200:
        return None
    now = time.time() if now is None else now
    row = await db.fetch_one(
        "SELECT token_id, name, role, expires_at, revoked_at FROM api_tokens WHERE secret_hash = ?",
        (digest(presented),),
    )
    if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
        return None
    return Token(row["token_id"], row["name"], row["role"], row["expires_at"])


async def used(db: Database, token: Token, source: str, detail: str) -> None:
    """Log a token's use and note when it was last used."""
    now = time.time()
    await db.transaction(
        [
            Statement("UPDATE api_tokens SET last_used = ? WHERE token_id = ?", (now, token.token_id)),
            record_statement(SecurityEvent(now, "token.used", f"token:{token.token_id}", source, detail)),
        ]
    )


async def register(
    db: Database, presented: str, name: str, role: str, days: float, *, min_length: int = MIN_SETTINGS_LENGTH
) -> None:
    """Register a token given in settings, live for ``days`` from now (test fixtures pass ``min_length=1``)."""
    check_role(role)
    if len(presented) < min_length:
        raise PolicyError(f"API tokens in settings must be at least {min_length} characters")
    now = time.time()
    token_id = "s" + digest(presented)[:9]
    await db.execute(
        Statement(
            "INSERT INTO api_tokens (token_id, secret_hash, name, role, created_by, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, 'settings', ?, ?) ON CONFLICT (token_id) DO UPDATE SET "
            "expires_at = excluded.expires_at, role = excluded.role",
            (token_id, digest(presented), name, role, now, now + days * 86400),
        )
    )


def token_id_of(presented: str) -> str:
    """The public id of a presented token, for the refusal event ('' if malformed)."""
    found = SHAPE.fullmatch(presented)
    return found.group(1) if found else ""


async def revoke(db: Database, token_id: str, *, actor: str) -> None:
    now = time.time()
    try:
        await db.transaction(
            [
                Statement(
                    "UPDATE api_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                    (now, token_id),
                    expect=1,
                ),
                record_statement(SecurityEvent(now, "token.revoked", actor, "", f"token={token_id}")),
            ]
        )
    except Conflict as exc:
        raise SecurityError(f"no live token {token_id!r}") from exc


async def listing(db: Database) -> list[dict[str, Any]]:
    """Every token without its hash, newest first."""
    return await db.fetch(
        "SELECT token_id, name, role, created_by, created_at, expires_at, revoked_at, last_used "
        "FROM api_tokens ORDER BY created_at DESC"
    )

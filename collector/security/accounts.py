"""Operator accounts in the store: user name, role, scrypt password hash.

Every change is one transaction that also writes its security event. Passwords are
checked against the policy here (the boundary), hashed off the event loop, and never
logged or stored in clear.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

from collector.security.errors import PolicyError, SecurityError
from collector.security.events import SecurityEvent, record_statement
from collector.security.passwords import check_policy, dummy_hash, hash_password, verify_password
from collector.store.sql import Conflict, Database, Statement
from collector.web.access import ROLES

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@dataclass(frozen=True)
class Account:
    """A user as the admin sees it (never the hash)."""

    username: str
    role: str
    created_at: float
    password_set_at: float
    disabled: bool

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Account:
        return cls(
            row["username"], row["role"], row["created_at"], row["password_set_at"], bool(row["disabled"])
        )


def check_username(username: str) -> None:
    if not USERNAME.fullmatch(username):
        raise PolicyError(
            "user name: 1-64 of letters, digits, '.', '_', '@', '-', starting with a letter or digit"
        )


def check_role(role: str) -> None:
    if role not in ROLES:
        raise PolicyError(f"role: one of {', '.join(sorted(ROLES))} (got {role!r})")


async def add_user(
    db: Database, username: str, role: str, password: str, *, actor: str = "cli", policy: bool = True
) -> Account:
    """Create a user; refuses an existing name, an unknown role or a password the policy refuses.

    ``policy=False`` only for test fixtures that seed accounts directly.
    """
    check_username(username)
    check_role(role)
    if policy:
        check_policy(password, username)
    hashed = await asyncio.to_thread(hash_password, password)
    now = time.time()
    try:
        await db.transaction(
            [
                Statement(
                    "INSERT INTO users (username, role, password_hash, created_at, password_set_at, disabled) "
                    "VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (username) DO NOTHING",
                    (username, role, hashed, now, now),
                    expect=1,
                ),
                record_statement(SecurityEvent(now, "user.created", username, actor, f"role={role}")),
            ]
        )
    except Conflict as exc:
        raise SecurityError(f"user {username!r} exists already") from exc
    return Account(username, role, now, now, False)


async def set_password(db: Database, username: str, password: str, *, actor: str = "cli") -> None:
    """A new password for ``username``; every session of the user ends (ASVS 3.3.3)."""
    check_policy(password, username)
    hashed = await asyncio.to_thread(hash_password, password)
    now = time.time()
    try:
        await db.transaction(
            [
                Statement(
                    "UPDATE users SET password_hash = ?, password_set_at = ? WHERE username = ?",
                    (hashed, now, username),
                    expect=1,
                ),
                Statement(
                    "UPDATE sessions SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL",
                    (now, username),
                ),
                record_statement(SecurityEvent(now, "user.password_set", username, actor)),
            ]
        )
    except Conflict as exc:
        raise SecurityError(f"no user {username!r}") from exc


async def set_role(db: Database, username: str, role: str, *, actor: str = "cli") -> None:
    """Change a user's role; it applies to the user's next request (roles are read per request)."""
    check_role(role)
    now = time.time()
    try:
        await db.transaction(
            [
                Statement("UPDATE users SET role = ? WHERE username = ?", (role, username), expect=1),
                record_statement(SecurityEvent(now, "user.role_set", username, actor, f"role={role}")),
            ]
        )
    except Conflict as exc:
        raise SecurityError(f"no user {username!r}") from exc


async def set_disabled(db: Database, username: str, disabled: bool, *, actor: str = "cli") -> None:
    """Disable (and sign out) or re-enable a user."""
    now = time.time()
    statements = [
        Statement("UPDATE users SET disabled = ? WHERE username = ?", (int(disabled), username), expect=1)
    ]
    if disabled:
        statements.append(
            Statement(
                "UPDATE sessions SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL",
                (now, username),
            )
        )
    statements.append(
        record_statement(SecurityEvent(now, "user.disabled", username, actor, f"disabled={disabled}"))
    )
    try:
        await db.transaction(statements)
    except Conflict as exc:
        raise SecurityError(f"no user {username!r}") from exc


async def users(db: Database) -> list[Account]:
    rows = await db.fetch(
        "SELECT username, role, created_at, password_set_at, disabled FROM users ORDER BY username"
    )
    return [Account.from_row(r) for r in rows]


async def user(db: Database, username: str) -> Account | None:
    row = await db.fetch_one(
        "SELECT username, role, created_at, password_set_at, disabled FROM users WHERE username = ?",
        (username,),
    )
    return Account.from_row(row) if row else None


async def has_admin(db: Database) -> bool:
    return await db.fetch_one("SELECT 1 AS one FROM users WHERE role = 'admin' AND disabled = 0") is not None


async def authenticate(db: Database, username: str, password: str) -> Account | None:
    """The account if ``password`` is right and the account enabled; an unknown name costs the same time."""
    row = await db.fetch_one(
        "SELECT username, role, created_at, password_set_at, disabled, password_hash FROM users WHERE username = ?",
        (username,),
    )
    stored = row["password_hash"] if row else dummy_hash()
    ok = await asyncio.to_thread(verify_password, password, stored)
    if not ok or row is None or row["disabled"]:
        return None
    return Account.from_row(row)

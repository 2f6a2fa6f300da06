"""Sign-in throttling (ASVS 2.2.1): growing delays per account and per source address, and a lockout.

Each failed sign-in counts against ``user:<name>`` and ``addr:<address>``. A key's first
``free`` failures cost nothing; each later one blocks the key for a doubling delay
(1 s, 2 s, 4 s ... up to ``max_delay_s``); at ``lock_after`` failures an account is locked
for ``lock_s`` (an admin lifts it with ``homescope-collector user unlock``). A key's count
starts again after ``forget_s`` without failures; a successful sign-in clears the
account's count but not the address's (one valid account must not reset a guessing
source). Attempts while blocked are refused before the password is checked, so they
guess nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from collector.security.events import SecurityEvent, record_statement
from collector.store.sql import Database, Statement


@dataclass(frozen=True)
class Rule:
    """How one kind of key is throttled."""

    free: int
    max_delay_s: float
    lock_after: int | None = None
    lock_s: float = 3600.0
    forget_s: float = 3600.0

    def delay(self, failures: int) -> float:
        """Seconds a key is blocked after its ``failures``-th failure."""
        if self.lock_after is not None and failures >= self.lock_after:
            return self.lock_s
        if failures <= self.free:
            return 0.0
        return float(min(2 ** (failures - self.free - 1), self.max_delay_s))


ACCOUNT = Rule(free=3, max_delay_s=300.0, lock_after=10)
ADDRESS = Rule(free=10, max_delay_s=60.0)


@dataclass(frozen=True)
class Verdict:
    """Whether a sign-in may be tried now; if not, for how long and why."""

    allowed: bool
    retry_after_s: float = 0.0
    locked: bool = False


def account_key(username: str) -> str:
    return f"user:{username[:64]}"


def address_key(address: str) -> str:
    return f"addr:{address[:64]}"


async def verdict(db: Database, username: str, address: str, now: float | None = None) -> Verdict:
    """May ``username`` from ``address`` try a password now?"""
    now = time.time() if now is None else now
    rows = await db.fetch(
        "SELECT key, blocked_until, locked FROM login_throttle WHERE key IN (?, ?)",
        (account_key(username), address_key(address)),
    )
    wait = max((r["blocked_until"] - now for r in rows), default=0.0)
    locked = any(r["locked"] and r["blocked_until"] > now for r in rows)
    return Verdict(wait <= 0, max(wait, 0.0), locked)


def _count(key: str, rule: Rule, now: float) -> Statement:
    return Statement(
        "INSERT INTO login_throttle (key, failures, last_failure, blocked_until, locked) VALUES (?, 1, ?, ?, 0) "
        "ON CONFLICT (key) DO UPDATE SET "
        "failures = CASE WHEN login_throttle.last_failure < ? THEN 1 ELSE login_throttle.failures + 1 END, "
        "last_failure = excluded.last_failure RETURNING failures",
        (key, now, now + rule.delay(1), now - rule.forget_s),
    )


async def failed(db: Database, username: str, address: str, now: float | None = None) -> Verdict:
    """Count a failed sign-in against both keys; the delay (or lockout) it earned."""
    now = time.time() if now is None else now
    keys = ((account_key(username), ACCOUNT), (address_key(address), ADDRESS))
    outcomes = await db.transaction([_count(key, rule, now) for key, rule in keys])
    statements, wait, locked = [], 0.0, False
    for (key, rule), outcome in zip(keys, outcomes, strict=True):
        failures = int(outcome.rows[0]["failures"])
        delay = rule.delay(failures)
        lock = rule.lock_after is not None and failures >= rule.lock_after
        statements.append(
            Statement(
                "UPDATE login_throttle SET blocked_until = ?, locked = ? WHERE key = ?",
                (now + delay, int(lock), key),
            )
        )
        if lock and failures == rule.lock_after:
            statements.append(
                record_statement(
                    SecurityEvent(
                        now, "login.locked", username, address, f"{failures} failures; {rule.lock_s:g} s"
                    )
                )
            )
        wait, locked = max(wait, delay), locked or lock
    await db.transaction(statements)
    return Verdict(wait <= 0, wait, locked)


async def succeeded(db: Database, username: str) -> None:
    """A right password: the account's count starts again (the address's does not)."""
    await db.execute(Statement("DELETE FROM login_throttle WHERE key = ?", (account_key(username),)))


async def unlock(db: Database, username: str = "", address: str = "", *, actor: str) -> int:
    """An admin lifts the delay or lockout of an account and/or an address; how many keys were cleared."""
    keys = [k for k in (username and account_key(username), address and address_key(address)) if k]
    if not keys:
        return 0
    now = time.time()
    outcomes = await db.transaction(
        [
            *(Statement("DELETE FROM login_throttle WHERE key = ?", (k,)) for k in keys),
            record_statement(SecurityEvent(now, "user.unlocked", username, address, f"by={actor}")),
        ]
    )
    return sum(o.rowcount for o in outcomes[: len(keys)])


async def locked_keys(db: Database, now: float | None = None) -> list[dict[str, object]]:
    """Keys blocked now (for the admin)."""
    now = time.time() if now is None else now
    return await db.fetch(
        "SELECT key, failures, last_failure, blocked_until, locked FROM login_throttle WHERE blocked_until > ? "
        "ORDER BY blocked_until DESC",
        (now,),
    )

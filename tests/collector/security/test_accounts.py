"""Accounts, sessions, tokens, throttling and the event log on both stores."""

from __future__ import annotations

import time

import pytest

from collector.security import accounts, events, sessions, throttle, tokens
from collector.security.errors import PolicyError, SecurityError
from collector.security.passwords import check_policy, hash_password, verify_password
from collector.store import Store

GOOD = "plum-ferry-42-lantern"


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short-one", "at least 12"),
        ("password1234", "common"),
        ("iloveyou2024!", "common"),
        ("aaaaaaaaaaaaaaa", "different characters"),
        ("alice-is-my-name", "user name"),
    ],
)
def test_the_policy_refuses_weak_passwords_and_says_why(password: str, why: str) -> None:
    with pytest.raises(PolicyError, match=why):
        check_policy(password, "alice")
    check_policy(GOOD, "alice")
    check_policy("a passphrase with spaces ünd Unicode", "alice")


def test_hashes_are_salted_and_verify_only_the_right_password() -> None:
    first, second = hash_password(GOOD, n=2**10), hash_password(GOOD, n=2**10)
    assert first != second and GOOD not in first
    assert verify_password(GOOD, first) and not verify_password(GOOD + "x", first)
    assert not verify_password(GOOD, "md5$whatever") and not verify_password(GOOD, "garbage")


async def test_a_user_signs_in_only_with_the_right_password(store: Store) -> None:
    db = store.db
    await accounts.add_user(db, "alice", "analyst", GOOD)
    with pytest.raises(SecurityError, match="exists"):
        await accounts.add_user(db, "alice", "admin", GOOD)
    with pytest.raises(PolicyError):
        await accounts.add_user(db, "bob", "analyst", "x")
    with pytest.raises(PolicyError, match="role"):
        await accounts.add_user(db, "carol", "superuser", GOOD)
    assert (await accounts.authenticate(db, "alice", GOOD)) is not None
    assert await accounts.authenticate(db, "alice", "wrong-password-123") is None
    assert await accounts.authenticate(db, "nobody", GOOD) is None
    row = await db.fetch_one("SELECT password_hash FROM users WHERE username = 'alice'")
    assert row is not None and GOOD not in str(row) and row["password_hash"].startswith("scrypt$")


async def test_sessions_end_at_logout_on_idle_after_12_hours_and_on_a_new_password(store: Store) -> None:
    db = store.db
    await accounts.add_user(db, "alice", "analyst", GOOD)
    policy = sessions.SessionPolicy()
    first = await sessions.create(db, "alice", "127.0.0.1")
    found = await sessions.lookup(db, first, policy)
    assert found is not None and found.role == "analyst"
    assert (
        await db.fetch_one("SELECT 1 AS x FROM sessions WHERE id_hash = ?", (first,)) is None
    )  # only its hash
    await sessions.logout(db, first, "alice", "127.0.0.1")
    assert await sessions.lookup(db, first, policy) is None

    idle = await sessions.create(db, "alice", "127.0.0.1")
    assert await sessions.lookup(db, idle, policy, now=time.time() + 29 * 60) is not None
    assert await sessions.lookup(db, idle, policy, now=time.time() + 29 * 60 + 31 * 60) is None

    busy = await sessions.create(db, "alice", "127.0.0.1")
    start = time.time()
    for minutes in range(20, 12 * 60, 20):  # active all day: still ends at 12 h
        assert await sessions.lookup(db, busy, policy, now=start + minutes * 60) is not None
    assert await sessions.lookup(db, busy, policy, now=start + 12 * 3600 + 60) is None

    again = await sessions.create(db, "alice", "127.0.0.1")
    await accounts.set_password(db, "alice", "another-" + GOOD)
    assert await sessions.lookup(db, again, policy) is None
    kinds = [e["event"] for e in await events.recent(db, 50)]
    assert kinds.count("session.expired") == 2 and "logout" in kinds and "user.password_set" in kinds


async def test_a_role_change_applies_to_live_sessions_and_admins_revoke_them(store: Store) -> None:
    db = store.db
    await accounts.add_user(db, "alice", "analyst", GOOD)
    policy = sessions.SessionPolicy()
    secret = await sessions.create(db, "alice", "10.0.0.1")
    await accounts.set_role(db, "alice", "auditor")
    found = await sessions.lookup(db, secret, policy)
    assert found is not None and found.role == "auditor"
    listed = await sessions.live(db, policy)
    assert [s["username"] for s in listed] == ["alice"]
    assert await sessions.revoke(db, listed[0]["id_hash"][:16], "root")
    assert await sessions.lookup(db, secret, policy) is None


async def test_tokens_are_hashed_scoped_and_expire(store: Store) -> None:
    db = store.db
    full, token = await tokens.create(db, "reports script", "analyst", 1, actor="root")
    assert full.startswith(f"hs_{token.token_id}_")
    stored = await db.fetch("SELECT * FROM api_tokens")
    assert full not in str(stored)
    found = await tokens.check(db, full)
    assert found is not None and found.role == "analyst"
    assert await tokens.check(db, full[:-1] + ("A" if full[-1] != "A" else "B")) is None
    assert await tokens.check(db, full, now=time.time() + 86400 + 1) is None
    await tokens.revoke(db, token.token_id, actor="root")
    assert await tokens.check(db, full) is None
    with pytest.raises(PolicyError):
        await tokens.create(db, "forever", "admin", 10_000, actor="root")


async def test_failures_earn_growing_delays_then_a_lockout_an_admin_lifts(store: Store) -> None:
    db = store.db
    now = 1_000_000.0
    delays = []
    for i in range(10):
        assert (await throttle.verdict(db, "alice", "10.0.0.9", now=now)).allowed, i
        after = await throttle.failed(db, "alice", "10.0.0.9", now=now)
        delays.append(after.retry_after_s)
        now += after.retry_after_s
    assert delays[:3] == [0, 0, 0] and delays[3:9] == [1, 2, 4, 8, 16, 32]
    assert delays[9] == throttle.ACCOUNT.lock_s
    locked = await throttle.verdict(db, "alice", "10.0.0.10", now=now - 10)
    assert not locked.allowed and locked.locked
    assert await throttle.unlock(db, "alice", actor="root") == 1
    assert (await throttle.verdict(db, "alice", "10.0.0.10", now=now - 10)).allowed
    kinds = [e["event"] for e in await events.recent(db, 10)]
    assert "login.locked" in kinds and "user.unlocked" in kinds


async def test_an_address_guessing_many_accounts_is_slowed_too(store: Store) -> None:
    db = store.db
    now = 2_000_000.0
    assert throttle.ADDRESS.free == 10  # docs/security.md states it
    for i in range(throttle.ADDRESS.free):
        assert (await throttle.failed(db, f"user{i}", "10.9.9.9", now=now)).allowed
    assert not (await throttle.failed(db, "user-next", "10.9.9.9", now=now)).allowed
    assert not (await throttle.verdict(db, "someone-else", "10.9.9.9", now=now)).allowed
    assert (await throttle.verdict(db, "someone-else", "10.9.9.8", now=now)).allowed

"""Retention of the tables Store.retain does not cover, on both stores."""

from __future__ import annotations

import time

from collector.privacy import retention
from collector.security import accounts, events, sessions
from collector.settings import Settings
from collector.store import Store
from collector.store.sql import Statement


async def test_old_security_events_and_ended_sessions_go_and_recent_ones_stay(store: Store) -> None:
    db = store.db
    await accounts.add_user(db, "alice", "analyst", "plum-ferry-42-lantern")
    await sessions.create(db, "alice", "10.0.0.1")
    old = time.time() - 500 * 86400
    await db.execute(Statement("UPDATE sessions SET created_at = ?, last_seen = ?", (old, old)))
    await db.execute(Statement("UPDATE security_events SET at = ?", (old,)))
    await events.record(db, "logout", "alice", "10.0.0.1")
    deleted = await retention.retain(db, Settings(db=store.url), time.time())
    assert deleted["sessions"] == 1 and deleted["security_events"] == 2  # user.created and login.success
    assert [e["event"] for e in await events.recent(db)] == ["logout"]
    # every statement runs on this backend; the drop folder (none configured here) is aged beside them
    assert set(deleted) == {r.table for r in retention.RULES} | {"drop_folder_files"}

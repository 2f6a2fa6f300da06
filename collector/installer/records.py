"""The installer's tables: commands with their answers, installs with their baselines.

A concern in the shape of ``collector/store/sql.py``: what to write is built here as
statements, once for both backends, and run through ``store.db``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from collector.store.sql import Conflict, Database, Statement

#: CRM columns a search looks in (an address or phone column joins this list when the CRM
#: import carries one).
SEARCH_COLUMNS = ("s.subscriber_id", "s.gateway_id", "s.area", "s.community")
SEARCH_LIMIT = 20


@dataclass(frozen=True)
class CommandRecord:
    command_id: str
    gateway_id: str
    command: str
    requested_by: str
    requested_at: float
    expires_at: float
    state: str  # sent, done, failed, expired
    answered_at: float | None
    result: dict[str, Any] | None
    error: str | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> CommandRecord:
        raw = row.get("result")
        return cls(**{**row, "result": json.loads(raw) if raw else None})

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class InstallRecord:
    install_id: str
    gateway_id: str
    recorded_by: str
    recorded_at: float
    mesh_added: bool
    placement: str
    notes: str
    command_id: str | None
    wifi_score: float | None
    baseline: dict[str, Any]

    @classmethod
    def of(cls, row: dict[str, Any]) -> InstallRecord:
        return cls(**{**row, "mesh_added": bool(row["mesh_added"]), "baseline": json.loads(row["baseline"])})

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def new_id() -> str:
    return secrets.token_urlsafe(12)


_COMMAND_COLUMNS = "command_id, gateway_id, command, requested_by, requested_at, expires_at, state, answered_at, result, error"


class InstallerRecords:
    """Commands and installs on one store's :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def issue(
        self, gateway_id: str, command: str, user: str, now: float, ttl_s: float
    ) -> CommandRecord:
        record = CommandRecord(
            new_id(), gateway_id, command, user, now, now + ttl_s, "sent", None, None, None
        )
        await self.db.execute(
            Statement(
                f"INSERT INTO commands ({_COMMAND_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
                (record.command_id, gateway_id, command, user, now, record.expires_at, "sent"),
            )
        )
        return record

    async def answer(
        self, gateway_id: str, command_id: str, now: float, result: dict[str, Any] | None, error: str
    ) -> bool:
        """Record a gateway's reply; False if no such command of that gateway awaits one."""
        try:
            await self.db.execute(
                Statement(
                    "UPDATE commands SET state = ?, answered_at = ?, result = ?, error = ?"
                    " WHERE command_id = ? AND gateway_id = ? AND state = 'sent'",
                    ("failed" if error else "done", now, json.dumps(result) if result is not None else None,
                     error or None, command_id, gateway_id),
                    expect=1,
                )
            )  # fmt: skip
        except Conflict:
            return False
        return True

    async def fail(self, command_id: str, now: float, error: str) -> None:
        await self.db.execute(
            Statement(
                "UPDATE commands SET state = 'failed', answered_at = ?, error = ? WHERE command_id = ? AND state = 'sent'",
                (now, error, command_id),
            )
        )

    async def command(self, command_id: str, now: float) -> CommandRecord | None:
        """One command; one past its expiry without an answer reads (and is stored) as expired."""
        await self.db.execute(
            Statement(
                "UPDATE commands SET state = 'expired' WHERE command_id = ? AND state = 'sent' AND expires_at < ?",
                (command_id, now),
            )
        )
        row = await self.db.fetch_one(
            f"SELECT {_COMMAND_COLUMNS} FROM commands WHERE command_id = ?", (command_id,)
        )
        return CommandRecord.of(row) if row else None

    async def latest_measurement(self, gateway_id: str) -> CommandRecord | None:
        row = await self.db.fetch_one(
            f"SELECT {_COMMAND_COLUMNS} FROM commands WHERE gateway_id = ? AND state = 'done'"
            " ORDER BY answered_at DESC LIMIT 1",
            (gateway_id,),
        )
        return CommandRecord.of(row) if row else None

    async def record_install(self, record: InstallRecord) -> None:
        await self.db.execute(
            Statement(
                "INSERT INTO installs (install_id, gateway_id, recorded_by, recorded_at, mesh_added, placement,"
                " notes, command_id, wifi_score, baseline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.install_id, record.gateway_id, record.recorded_by, record.recorded_at,
                 int(record.mesh_added), record.placement, record.notes, record.command_id,
                 record.wifi_score, json.dumps(record.baseline)),
            )
        )  # fmt: skip

    async def installs(self, gateway_id: str, limit: int = 20) -> list[InstallRecord]:
        rows = await self.db.fetch(
            "SELECT install_id, gateway_id, recorded_by, recorded_at, mesh_added, placement, notes, command_id,"
            " wifi_score, baseline FROM installs WHERE gateway_id = ? ORDER BY recorded_at DESC LIMIT ?",
            (gateway_id, limit),
        )
        return [InstallRecord.of(r) for r in rows]

    async def search(self, text: str) -> list[dict[str, Any]]:
        """Homes whose subscriber id, gateway id, area or community contains ``text``."""
        needle = text.strip().lower()
        if not needle:
            return []
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where = " OR ".join(f"lower({c}) LIKE ? ESCAPE '\\'" for c in SEARCH_COLUMNS)
        rows = await self.db.fetch(
            "SELECT s.gateway_id, s.subscriber_id, s.area, s.community, g.status, g.last_seen"
            f" FROM subscribers s LEFT JOIN gateways g ON g.gateway_id = s.gateway_id WHERE {where}"
            " ORDER BY s.subscriber_id LIMIT ?",
            (*([pattern] * len(SEARCH_COLUMNS)), SEARCH_LIMIT),
        )
        if not rows:  # a gateway that is not in the CRM import yet
            rows = await self.db.fetch(
                "SELECT gateway_id, NULL AS subscriber_id, NULL AS area, NULL AS community, status, last_seen"
                " FROM gateways WHERE lower(gateway_id) LIKE ? ESCAPE '\\' ORDER BY gateway_id LIMIT ?",
                (pattern, SEARCH_LIMIT),
            )
        return rows

    async def gateway_status(self, gateway_id: str) -> dict[str, Any] | None:
        return await self.db.fetch_one(
            "SELECT gateway_id, status, status_at, last_seen, agent_version FROM gateways WHERE gateway_id = ?",
            (gateway_id,),
        )

"""Erase one home everywhere: ``homescope-collector erase --subscriber ID`` or ``--gateway ID``.

The tables are read from the database's own catalogue at run time, so tables added later
(campaigns, audiences, exports, ...) are covered without a list to keep up to date. A row
goes when any of its text columns names the home: equals a gateway id of the home or its
subscriber id, holds one as a JSON string (``"gw-1"`` inside a list or object), or as a
topic segment (``homescope/v1/gw-1/report``). What that reaches today (docs/security.md):
raw reports and events, the gateway's latest state, facts, hourly and daily rollups, the
fold queue, home-day rollups, results and their history, home profiles, the CRM row,
quarantined payloads, and any marketing table keyed by gateway or subscriber id; and, asked
by the home's pseudonym (they hold no id), its memberships of the unclassified domains.

The audit record (``erasures``) and the security event name the home only by
HMAC-SHA256(privacy key, id), so the erasure itself leaves no row naming it, yet an auditor
holding the id and the key can show it was done. Log lines and security events that
named the home (an API path, say) are erased with it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from collector.dpi.unclassified import erase_statement as unclassified_erase
from collector.privacy.files import FileErasure, PdfPrinter, erase_drop_files, erase_report_files
from collector.security.events import SecurityEvent, record_statement
from collector.store.sql import Database, Statement

#: Tables never erased from: the audit trail of erasures itself, and schema bookkeeping.
KEEP = frozenset({"erasures", "schema_migrations", "sqlite_sequence"})
_TEXT_TYPES = ("text", "char", "clob", "character varying", "character")


@dataclass(frozen=True)
class Column:
    table: str
    name: str


@dataclass
class Erasure:
    """What one erase did."""

    kind: str
    gateways: list[str]
    rows: dict[str, int] = field(default_factory=dict)
    files: FileErasure = field(default_factory=FileErasure)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


async def text_columns(db: Database) -> list[Column]:
    """Every text column of every table in the store, from the catalogue."""
    if db.dialect.name == "sqlite":
        tables = await db.fetch(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        found = []
        for t in tables:
            for col in await db.fetch(f"SELECT name, type FROM pragma_table_info('{t['name']}')"):
                kind = str(col["type"] or "").lower()
                if not kind or any(k in kind for k in _TEXT_TYPES):
                    found.append(Column(t["name"], col["name"]))
        return found
    rows = await db.fetch(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
        "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
    )
    return [
        Column(r["table_name"], r["column_name"])
        for r in rows
        if any(k in str(r["data_type"]).lower() for k in _TEXT_TYPES) or str(r["data_type"]) == "json"
    ]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matching(column: Column, identifiers: list[str]) -> tuple[str, list[str]]:
    """The WHERE clause (and its parameters) of rows whose ``column`` names one of ``identifiers``."""
    col = _quote(column.name)
    terms, params = [], []
    for ident in identifiers:
        like = _escape_like(ident)
        terms.append(
            f"{col} = ? OR {col} LIKE ? ESCAPE '\\' OR {col} LIKE ? ESCAPE '\\' OR {col} LIKE ? ESCAPE '\\'"
        )
        params += [ident, f'%"{like}"%', f"%/{like}/%", f"%/{like}"]
    return " OR ".join(f"({t})" for t in terms), params


def home_hash(key: bytes, kind: str, identifier: str) -> str:
    return hmac.new(key, f"{kind}:{identifier}".encode(), hashlib.sha256).hexdigest()


async def gateways_of(db: Database, kind: str, identifier: str) -> list[str]:
    """The gateway ids of the home: the gateway itself, or the subscriber's gateways in the CRM."""
    if kind == "gateway":
        return [identifier]
    try:
        rows = await db.fetch("SELECT gateway_id FROM subscribers WHERE subscriber_id = ?", (identifier,))
    except Exception:
        rows = []
    return sorted({str(r["gateway_id"]) for r in rows})


async def erase(
    db: Database,
    kind: str,
    identifier: str,
    *,
    key: bytes,
    actor: str,
    print_pdf: PdfPrinter | None = None,
    drop_folder: Path | None = None,
) -> Erasure:
    """Delete every row naming the home in one transaction, rewrite the files naming it (the
    report archive, reprinting PDFs with ``print_pdf``; the sender's ``drop_folder``), then
    write its audit record."""
    if kind not in ("gateway", "subscriber") or not identifier.strip():
        raise ValueError("erase needs --gateway ID or --subscriber ID")
    gateways = await gateways_of(db, kind, identifier)
    identifiers = sorted({identifier, *gateways})
    columns = [c for c in await text_columns(db) if c.table not in KEEP]
    by_table: dict[str, list[Column]] = {}
    for c in columns:
        by_table.setdefault(c.table, []).append(c)
    statements, tables = [], []
    for table, cols in sorted(by_table.items()):
        clauses, params = [], []
        for c in cols:
            where, p = matching(c, identifiers)
            clauses.append(where)
            params += p
        statements.append(Statement(f"DELETE FROM {_quote(table)} WHERE {' OR '.join(clauses)}", params))
        tables.append(table)
    # Tables that name a home only by its pseudonym, which no search by id finds: asked by key.
    pseudonymised = unclassified_erase(key, gateways)
    if pseudonymised is not None:
        statements.append(pseudonymised)
        tables.append("dpi_unclassified")
    now = time.time()
    digest = home_hash(key, kind, identifier)
    outcomes = await db.transaction(statements)
    rows: dict[str, int] = {}
    for t, o in zip(tables, outcomes, strict=True):
        if o.rowcount:  # a table may be asked twice (by id and by pseudonym): its counts add up
            rows[t] = rows.get(t, 0) + o.rowcount
    result = Erasure(kind, gateways, rows)
    if "report_files" in by_table:
        await erase_report_files(db, identifiers, print_pdf, result.files)
    erase_drop_files(drop_folder, identifiers, result.files)
    files = result.files
    touched = {
        "files": {"rows": files.total, "removed": len(files.removed), "reprinted": len(files.reprinted)}
    }
    detail = json.dumps({**result.rows, **(touched if files.rows else {})}, sort_keys=True)
    await db.transaction(
        [
            Statement(
                "INSERT INTO erasures (at, actor, kind, home_hash, tables, rows) VALUES (?, ?, ?, ?, ?, ?)",
                (now, actor, kind, digest, detail, result.total),
            ),
            record_statement(
                SecurityEvent(now, "erase", actor, "", f"{kind} {digest[:16]}: {result.total} rows")
            ),
        ]
    )
    return result

"""The rows ingest writes, as named records that also say their table's columns and types.

Each record is a ``NamedTuple`` in its table's column order, so a row is still a plain tuple
to ``executemany`` and ``COPY`` (no conversion on the hot path), yet every module reads it
by name. :class:`Table` derives from the record what used to be kept in step by hand: the
column list, SQLite's ``?`` placeholders and PostgreSQL's array parameters and types
(``%b::float8[]``...). A new column is one field here plus its migrations.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple, Union

#: PostgreSQL type of each Python field type (``X | None`` maps as ``X``).
_PG = {str: "text", int: "bigint", float: "float8", bytes: "bytea"}


@dataclass(frozen=True)
class Table:
    """A table and the record type of its rows."""

    name: str
    record: type[tuple[Any, ...]]

    @cached_property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.record._fields)  # type: ignore[attr-defined]  # every record is a NamedTuple

    @cached_property
    def pg_types(self) -> tuple[str, ...]:
        """Each column's PostgreSQL type, from the record's annotations."""
        hints = typing.get_type_hints(self.record)
        return tuple(_pg_type(hints[c]) for c in self.columns)

    @cached_property
    def names(self) -> str:
        """``a, b, c``."""
        return ", ".join(self.columns)

    @cached_property
    def marks(self) -> str:
        """``?, ?, ?``: one placeholder per column."""
        return ", ".join("?" * len(self.columns))

    @cached_property
    def pg_arrays(self) -> str:
        """``%b::text[], %b::bigint[], ...``: one binary array parameter per column, for ``unnest``."""
        return ", ".join(f"%b::{t}[]" for t in self.pg_types)

    def insert(self) -> str:
        """``INSERT INTO t (a, b) VALUES (?, ?)``."""
        return f"INSERT INTO {self.name} ({self.names}) VALUES ({self.marks})"


def _pg_type(hint: Any) -> str:
    if typing.get_origin(hint) in (Union, types.UnionType):
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
    return _PG[hint]


class ReportRow(NamedTuple):
    """A raw report or event batch as received (``reports``); the idempotency key first."""

    gateway_id: str
    epoch: int
    seq: int
    kind: str
    window_start: int
    window_end: int
    uptime_s: int
    sent_at: int
    received_at: float
    payload: bytes


class FactRow(NamedTuple):
    """One report's per-window figures and its per-item deltas packed as JSON (``gateway_facts``)."""

    gateway_id: str
    window_end: int
    window_s: int
    cpu_pct: float | None
    mem_used_pct: float | None
    wan_rx_bytes: int | None
    wan_tx_bytes: int | None
    wan_rx_bps: float | None
    wan_tx_bps: float | None
    stations: int
    wifi_stations: int
    weak_stations: int
    interfaces: str
    station_deltas: str
    apps: str


class RollupRow(NamedTuple):
    """What a batch adds to one gateway-hour or gateway-day (``gateway_hourly``, ``gateway_daily``)."""

    gateway_id: str
    start: int
    windows: int
    wan_rx_bytes: int
    wan_tx_bytes: int
    cpu_sum: float
    cpu_n: int
    stations_max: int
    weak_station_windows: int
    wifi_station_windows: int


class Latest(NamedTuple):
    """A gateway's newest report, when a batch brought a newer one: its key and what the next deltas need."""

    window_end: int
    uptime_s: int
    epoch: int
    seq: int
    rates: str
    counters: str


class GatewayRow(NamedTuple):
    """What a batch changes in one ``gateways`` row: counts always, the latest state when newer (else NULLs)."""

    gateway_id: str
    first_seen: float
    last_seen: float
    reports: int
    events: int
    window_end: int | None
    uptime_s: int | None
    epoch: int | None
    seq: int | None
    rates: str | None
    counters: str | None


class EventRow(NamedTuple):
    """One event of an event batch (``events``)."""

    gateway_id: str
    epoch: int
    seq: int
    idx: int
    ts: int
    type: str
    mac: str | None
    data: str


class QuarantineRow(NamedTuple):
    """A payload refused for good, with its reason (``quarantine``; the id is the table's own)."""

    received_at: float
    topic: str
    gateway_id: str | None
    reason: str
    detail: str
    size: int
    payload: bytes


REPORTS = Table("reports", ReportRow)
QUARANTINE = Table("quarantine", QuarantineRow)
FACTS = Table("gateway_facts", FactRow)
HOURLY = Table("gateway_hourly", RollupRow)
DAILY = Table("gateway_daily", RollupRow)
GATEWAY_CHANGES = Table("gateways", GatewayRow)
EVENTS = Table("events", EventRow)

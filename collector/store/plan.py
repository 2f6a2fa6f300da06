"""What one batch of new messages changes, computed once for every backend.

A store inserts the raw rows first (``ON CONFLICT DO NOTHING``) and hands only the rows
that were new to :func:`plan_batch`, with each gateway's stored state. The plan holds
every row to write: per-window facts with counter deltas, hourly and daily rollup
increments, events, and each gateway's new latest state. Nothing here does I/O, so the
SQLite and PostgreSQL stores cannot disagree on what a report means.

Rows vs packed columns: at 10 M gateways a report is ~30 interface/station/category
items, so facts keep ONE row per report with the per-item deltas packed in JSON columns
(``interfaces``, ``stations``, ``apps``); rollups keep numbers only.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from operator import attrgetter, sub
from typing import Any, NamedTuple

import msgspec

from collector.facts import counter_delta
from collector.store.base import BatchResult, SpooledMessage
from collector.store.plan_input import PlanBody, plan_body, plan_body_of
from collector.store.rows import EventRow, FactRow, GatewayRow, Latest, RollupRow

HOUR = 3600
DAY = 86400
WEAK_SIGNAL_DBM = -75


try:  # built by setup.py (`make` requires it: tests/collector/store/test_plan_c.py)
    from collector.store import _plan as _compiled
except ImportError:  # pragma: no cover - a collector installed without a compiler
    _compiled = None  # type: ignore[assignment]
else:
    _compiled.configure(msgspec.UNSET, WEAK_SIGNAL_DBM)

#: Whether the plan reads a report's msgpack itself (decoding it in advance would be wasted).
READS_PACKED = _compiled is not None

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
#: Gateways whose counters a store remembers (:class:`KnownStates`): ~3 KB each.
KNOWN_STATES = 10_000


def plan_input(m: SpooledMessage) -> PlanBody:
    """What the plan reads of a report: decoded in advance, else from its msgpack, else from its body."""
    if m.planned is not None:
        return m.planned
    if m.packed:
        with contextlib.suppress(msgspec.DecodeError):
            return plan_body(m.packed)
    return plan_body_of(m.body)  # a frame that does not decode raises here, as it always did


def _dumps(value: object) -> str:
    # msgspec: the same compact JSON as json.dumps, five times faster (a third of the plan)
    return _encode(value).decode()


class Counters:
    """A gateway's cumulative counters: the JSON text stored (what the compiled plan reads) and,
    on first use, decoded (what the Python plan reads). Read-only once made."""

    __slots__ = ("_decoded", "text")

    def __init__(self, text: str | None, decoded: dict[str, dict[str, list[int]]] | None = None) -> None:
        self.text = text if text is not None else _dumps(decoded or {})
        self._decoded = decoded

    @property
    def decoded(self) -> dict[str, dict[str, list[int]]]:
        if self._decoded is None:
            self._decoded = _decode(self.text)
        return self._decoded


class GatewayState:
    """What the store keeps per gateway to compute the next deltas."""

    __slots__ = ("held", "uptime_s", "window_end")

    def __init__(
        self,
        window_end: int = 0,
        uptime_s: int = 0,
        counters: Counters | dict[str, dict[str, list[int]]] | None = None,
    ) -> None:
        self.window_end = window_end
        self.uptime_s = uptime_s
        self.held = counters if isinstance(counters, Counters) else Counters(None, counters or {})

    @property
    def counters(self) -> dict[str, dict[str, list[int]]]:
        return self.held.decoded

    def __repr__(self) -> str:
        return f"GatewayState({self.window_end}, {self.uptime_s}, {self.held.text})"


@dataclass(slots=True)
class GatewayChange:
    first_seen: float
    last_seen: float
    reports: int = 0
    events: int = 0
    #: set when a newer report arrived; the latest report is named by its key (its frame is
    #: in ``reports`` already)
    latest: Latest | None = None

    def row(self, gateway_id: str) -> GatewayRow:
        """The ``gateways`` change: counts, and the latest state or NULLs (which keep the stored one)."""
        head = (gateway_id, self.first_seen, self.last_seen, self.reports, self.events)
        return GatewayRow(*head, *(self.latest or (None, None, None, None, None, None)))


@dataclass(slots=True)
class Rollup:
    windows: int = 0
    wan_rx_bytes: int = 0
    wan_tx_bytes: int = 0
    cpu_sum: float = 0.0
    cpu_n: int = 0
    stations_max: int = 0
    weak_station_windows: int = 0
    wifi_station_windows: int = 0

    def add(self, fact: FactRow) -> None:
        """Count one facts row."""
        self.windows += 1
        self.wan_rx_bytes += fact.wan_rx_bytes or 0
        self.wan_tx_bytes += fact.wan_tx_bytes or 0
        if fact.cpu_pct is not None:
            self.cpu_sum += fact.cpu_pct
            self.cpu_n += 1
        self.stations_max = max(self.stations_max, fact.stations)
        self.wifi_station_windows += fact.wifi_stations
        self.weak_station_windows += fact.weak_stations

    def row(self, gateway_id: str, start: int) -> RollupRow:
        return RollupRow(
            gateway_id,
            start,
            self.windows,
            self.wan_rx_bytes,
            self.wan_tx_bytes,
            self.cpu_sum,
            self.cpu_n,
            self.stations_max,
            self.weak_station_windows,
            self.wifi_station_windows,
        )


@dataclass
class BatchPlan:
    gateways: dict[str, GatewayChange] = field(default_factory=dict)
    facts: list[FactRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    hourly: dict[tuple[str, int], Rollup] = field(default_factory=dict)
    daily: dict[tuple[str, int], Rollup] = field(default_factory=dict)

    def gateway_rows(self) -> list[GatewayRow]:
        """Every gateway's change, in id order (the order PostgreSQL locks them in)."""
        return [c.row(gid) for gid, c in sorted(self.gateways.items())]

    @staticmethod
    def rollup_rows(rollups: dict[tuple[str, int], Rollup]) -> list[RollupRow]:
        """The ``hourly`` or ``daily`` increments as rows, in key order."""
        return [r.row(gid, start) for (gid, start), r in sorted(rollups.items())]


def counters_of(body: PlanBody) -> tuple[dict[str, dict[str, list[int]]], int, int]:
    """The cumulative counters the next report's deltas are computed against, and how many
    stations are on Wi-Fi and how many of those weak (one pass over the stations)."""
    stations: dict[str, list[int]] = {}
    wifi = weak = 0
    for s in body.stations:
        stations[s.mac] = [s.bytes_received or 0, s.bytes_sent or 0, s.retransmissions or 0]
        signal = s.signal_dbm
        if signal is not None:
            wifi += 1
            weak += signal < WEAK_SIGNAL_DBM
    interfaces = {i.name: [i.bytes_received, i.bytes_sent] for i in body.interfaces}
    return {"if": interfaces, "st": stations}, wifi, weak


def _deltas(
    previous: dict[str, list[int]], current: dict[str, list[int]], rebooted: bool
) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    baseline = previous.get
    for key, values in current.items():
        old = baseline(key)
        # a key seen for the first time has no baseline: its counters started before we knew it
        if old is None:
            continue
        if rebooted:
            out[key] = values[: len(old)]  # counted since the reboot
            continue
        delta = list(map(sub, values, old))  # the hot loop of the plan: map over C, not a comprehension
        if delta and min(delta) < 0:  # rare: a wrap or a reset, counter by counter
            delta = [counter_delta(o, v, False) for o, v in zip(old, values, strict=False)]
        out[key] = delta
    return out


class Figures(NamedTuple):
    """What the plan reads of one report, with its counters' deltas; the JSON as stored
    (``collector/store/_plan.c`` gives the same, as a struct sequence with these fields)."""

    counters: str
    wifi: int
    weak: int
    stations: int
    if_delta: dict[str, list[int]]
    if_deltas: str
    st_deltas: str
    apps: str
    #: ``(cpu_usage_pct, memory_total_kib, memory_available_kib or UNSET, memory_free_kib)``
    system: tuple[Any, Any, Any, Any] | None
    wan_named: Any
    wan_by_role: Any


def _figures_of(body: PlanBody, previous: Counters | None, rebooted: bool) -> tuple[Figures, Counters]:
    """The reference of ``_plan.report``: the figures of a decoded body, deltas against
    ``previous`` (a gateway's stored counters; ``None``: no deltas), and its counters."""
    counters, wifi, weak = counters_of(body)
    if_delta: dict[str, list[int]] = {}
    st_delta: dict[str, list[int]] = {}
    if previous is not None:
        before = previous.decoded
        if_delta = _deltas(before.get("if", {}), counters["if"], rebooted)
        st_delta = _deltas(before.get("st", {}), counters["st"], rebooted)
    apps: dict[str, list[int]] = {}
    for usage in body.apps:
        total_app = apps.get(usage.category) or apps.setdefault(usage.category, [0, 0, 0])
        total_app[0] += usage.bytes_down
        total_app[1] += usage.bytes_up
        total_app[2] = max(total_app[2], usage.active_minutes)
    s = body.system
    system = None
    if s is not None:
        system = (s.cpu_usage_pct, s.memory_total_kib, s.memory_available_kib, s.memory_free_kib)
    named = body.wan.interface if body.wan is not None else None
    by_role = next((i.name for i in body.interfaces if i.role == "wan"), None)
    text = _dumps(counters)
    found = Figures(
        text, wifi, weak, len(body.stations), if_delta, _dumps(if_delta), _dumps(st_delta), _dumps(apps),
        system, named, by_role,
    )  # fmt: skip
    return found, Counters(text, counters)


def figures(m: SpooledMessage, previous: Counters | None, rebooted: bool) -> tuple[Figures, Counters]:
    """A report's figures and counters: read from its msgpack in C where it can, else from its
    decoded input."""
    if _compiled is not None and m.planned is None and m.packed:
        with contextlib.suppress(_compiled.Unsupported):  # the reference decides
            found = _compiled.report(m.packed, previous.text if previous is not None else None, rebooted)
            return found, Counters(found.counters)
    return _figures_of(plan_input(m), previous, rebooted)


def fact_row(
    m: SpooledMessage, state: GatewayState | None
) -> tuple[FactRow, dict[str, dict[str, float]], Counters]:
    """The facts row of a report, its interface rates and its counters."""
    previous = None
    rebooted = False
    elapsed = 0
    if state is not None:
        elapsed = m.window_end - state.window_end
        if state.window_end > 0 and 0 < elapsed <= 2 * DAY:
            rebooted = m.uptime_s < state.uptime_s
            previous = state.held
    f, counters = figures(m, previous, rebooted)
    if_delta = f.if_delta
    rates = {
        name: {"rx_bps": round(8 * d[0] / elapsed, 1), "tx_bps": round(8 * d[1] / elapsed, 1)}
        for name, d in if_delta.items()
    }
    cpu = mem_used = None
    if f.system is not None:
        cpu, total, available, free = f.system
        total = total or 0
        if available is msgspec.UNSET:  # absent (a null stays a null)
            available = free
        if total and available is not None:
            mem_used = round(100.0 * (total - available) / total, 1)
    named = f.wan_named
    by_role = f.wan_by_role if not named else None
    wan_rate = rates.get((named if named is not None else by_role) or "", {})
    wan_delta = if_delta.get(named or by_role or "")
    row = FactRow(
        m.gateway_id,
        m.window_end,
        m.window_end - m.window_start,
        cpu,
        mem_used,
        wan_delta[0] if wan_delta else None,
        wan_delta[1] if wan_delta else None,
        wan_rate.get("rx_bps"),
        wan_rate.get("tx_bps"),
        f.stations,
        f.wifi,
        f.weak,
        f.if_deltas,
        f.st_deltas,
        f.apps,
    )
    return row, rates, counters


def stored_now(
    messages: list[SpooledMessage], inserted: set[tuple[str, int, int]], result: BatchResult
) -> list[SpooledMessage]:
    """The messages a batch stored (``inserted``: the keys its insert stored), in batch order; the
    others go to ``result`` as duplicates (a key repeated within the batch was stored once: its first)."""
    new: list[SpooledMessage] = []
    for m in messages:
        key = (m.gateway_id, m.epoch, m.seq)
        if key in inserted:
            inserted.discard(key)
            result.inserted.append(key)
            new.append(m)
        else:
            result.duplicates.append(key)
    return new


#: The order a batch is planned in: each gateway's reports oldest first.
_planning_order = attrgetter("gateway_id", "window_end", "seq")


def plan_batch(messages: list[SpooledMessage], states: dict[str, GatewayState | None]) -> BatchPlan:
    """Plan the writes for newly inserted messages; ``states`` is updated in place."""
    plan = BatchPlan()
    hourly, daily, facts = plan.hourly, plan.daily, plan.facts
    for m in sorted(messages, key=_planning_order):
        gateway_id = m.gateway_id
        change = plan.gateways.get(gateway_id)
        if change is None:
            change = plan.gateways[gateway_id] = GatewayChange(m.received_at, m.received_at)
        elif m.received_at < change.first_seen:
            change.first_seen = m.received_at
        elif m.received_at > change.last_seen:
            change.last_seen = m.received_at
        if m.kind != "report":
            events = m.body.get("events", [])
            change.events += len(events)
            plan.events.extend(
                EventRow(
                    gateway_id,
                    m.epoch,
                    m.seq,
                    i,
                    e.get("ts", 0),
                    e.get("type", ""),
                    e.get("mac"),
                    _dumps(e),
                )
                for i, e in enumerate(events)
            )
            continue
        change.reports += 1
        state = states.get(gateway_id)
        newer = state is None or m.window_end > state.window_end
        row, rates, counters = fact_row(m, state if newer else None)
        facts.append(row)
        end = m.window_end
        hour = (gateway_id, end // HOUR * HOUR)
        rollup = hourly.get(hour) or hourly.setdefault(hour, Rollup())
        rollup.add(row)
        day = (gateway_id, end // DAY * DAY)
        rollup = daily.get(day) or daily.setdefault(day, Rollup())
        rollup.add(row)
        if newer:
            # A late (replayed or reordered) report is kept raw and as facts, but does not move the latest state.
            states[gateway_id] = GatewayState(end, m.uptime_s, counters)
            change.latest = Latest(end, m.uptime_s, m.epoch, m.seq, _dumps(rates), counters.text)
    return plan


class KnownStates:
    """Each gateway's counters as this process last wrote or read them: decoded once, not per batch.

    A store reads every planned gateway's state back in each batch (another collector may have
    changed it). Here the text read back is compared with the text remembered, and the
    remembered :class:`Counters` are used when equal (decoded at most once, by the Python plan;
    the compiled plan reads the text): equal texts are equal counters, so what is stored is
    always what is used, whoever wrote it and whether the batch that remembered it committed or
    not. Bounded: the gateways remembered first are forgotten first.
    """

    def __init__(self, limit: int = KNOWN_STATES) -> None:
        self.limit = limit
        self._known: dict[str, Counters] = {}

    def __contains__(self, gateway_id: str) -> bool:
        """Whether this process read or wrote the gateway's counters (its row existed then)."""
        return gateway_id in self._known

    def load(
        self, gateway_id: str, window_end: int | None, uptime_s: int | None, counters: str | None
    ) -> GatewayState | None:
        """A stored gateway row's state, or ``None`` for a gateway with no report yet."""
        if not window_end:
            return None
        if not counters:
            return GatewayState(int(window_end), int(uptime_s or 0), {})
        known = self._known.get(gateway_id)
        if known is None or known.text != counters:
            known = Counters(counters)
            self._remember(gateway_id, known)
        return GatewayState(int(window_end), int(uptime_s or 0), known)

    def planned(self, plan: BatchPlan, states: dict[str, GatewayState | None]) -> None:
        """Remember the counters a plan writes (``states`` as ``plan_batch`` left them)."""
        for gateway_id, change in plan.gateways.items():
            state = states.get(gateway_id)
            if change.latest is not None and state is not None:
                self._remember(gateway_id, state.held)

    def _remember(self, gateway_id: str, counters: Counters) -> None:
        known = self._known
        known[gateway_id] = counters
        if len(known) > self.limit:  # the gateway remembered first is forgotten first
            del known[next(iter(known))]

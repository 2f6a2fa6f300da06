"""Two identity faults a key-only store cannot see: a reused key, and a shared gateway id.

The store recognises a resend by its key (gateway, epoch, seq) alone. An agent's outbox
resends byte-identical frames, so the same key with *different* bytes can only mean the
key was reused: an outbox rolled back by a power cut, or restored from a backup. Acked
as a duplicate, that report would be lost with no gap. Such a record is quarantined
(``key_reuse``) and acknowledged, so the agent stops resending it and an operator sees it.

Two live agents configured with one gateway id (a cloned image, a copied UCI config)
have two epochs that both report the same clock-aligned windows; their counters would
feed garbage deltas into rates and rollups. One agent never reports one window under two
epochs (a new epoch starts only with a new outbox, after its last window), so a window
seen under two epochs flags the id (``gateway_id_shared``: a quarantine row next to the
stored report, at most once per gateway and epoch pair).

Both checks use a bounded memory of recent keys and windows in this process, not the
store: a key reused after the memory forgot it (a collector restart, or more than
:data:`KEYS_MAX` newer keys since) is still taken for a duplicate.
"""

from __future__ import annotations

import logging

from collector.store import QuarantinedMessage, SpooledMessage
from protocol.topics import Kind, topic_for

log = logging.getLogger(__name__)

KEY_REUSE = "key_reuse"
GATEWAY_ID_SHARED = "gateway_id_shared"
#: Keys whose payload digest is remembered (~100 bytes each): minutes of a million-gateway
#: fleet, hours of a small one. A power-cut reuse comes a minute or two after the original.
KEYS_MAX = 100_000
#: Gateways whose recent windows are remembered, and windows per gateway.
GATEWAYS_MAX = 100_000
WINDOWS_KEPT = 4


def _digest(content: bytes) -> int:
    # Python's own hash of the bytes: SipHash-1-3, 64 bits, keyed per process (PYTHONHASHSEED), so
    # a sender cannot aim a collision at it; kept in this process's memory only. ~2 us for a 5 KB
    # report against ~10 for BLAKE2b, on the process that receives.
    return hash(content)


class KeyWatch:
    """Flags reused keys and shared gateway ids among the records of each batch."""

    def __init__(self, keys_max: int = KEYS_MAX, gateways_max: int = GATEWAYS_MAX) -> None:
        self.keys_max = keys_max
        self.gateways_max = gateways_max
        self._digests: dict[tuple[str, int, int], int] = {}
        self._windows: dict[str, dict[int, int]] = {}  # gateway -> {window_end: epoch}
        self._flagged: set[tuple[str, int, int]] = set()  # (gateway, epoch, epoch) already reported
        self._reused: dict[tuple[str, int, int], int] = {}  # reused keys already quarantined

    def check(
        self, messages: list[SpooledMessage]
    ) -> tuple[list[SpooledMessage], list[QuarantinedMessage], list[tuple[str, int, int]]]:
        """Split a triaged batch: (records to store, quarantine rows to add, keys to ack as quarantined)."""
        keep: list[SpooledMessage] = []
        flags: list[QuarantinedMessage] = []
        acks: list[tuple[str, int, int]] = []
        for m in messages:
            key = (m.gateway_id, m.epoch, m.seq)
            digest = _digest(m.packed or m.payload)  # its content: the frame is made later, by the writer
            known = self._digests.get(key)
            if known is not None and known != digest:
                acks.append(key)
                if self._reused.get(key) != digest:  # the agent's resends of it: acked, one row
                    self._reused[key] = digest
                    if len(self._reused) > 10_000:
                        del self._reused[next(iter(self._reused))]
                    detail = f"epoch {m.epoch} seq {m.seq} was stored with other content"
                    flags.append(self._flag(m, KEY_REUSE, detail))
                continue
            if known is None:
                self._remember(key, digest)
            keep.append(m)
            if m.kind == Kind.REPORT.value:
                other = self._window(m)
                if other is not None:
                    pair = (m.gateway_id, min(m.epoch, other), max(m.epoch, other))
                    if pair not in self._flagged:
                        self._flagged.add(pair)
                        detail = (
                            f"epochs {other} and {m.epoch} both reported the window ending {m.window_end}"
                        )
                        flags.append(self._flag(m, GATEWAY_ID_SHARED, detail))
        return keep, flags, acks

    def _remember(self, key: tuple[str, int, int], digest: int) -> None:
        if len(self._digests) >= self.keys_max:
            del self._digests[next(iter(self._digests))]  # oldest first (insertion order)
        self._digests[key] = digest

    def _window(self, m: SpooledMessage) -> int | None:
        """Record the report's window; return another epoch that reported the same one."""
        seen = self._windows.get(m.gateway_id)
        if seen is None:
            if len(self._windows) >= self.gateways_max:
                del self._windows[next(iter(self._windows))]
            seen = self._windows[m.gateway_id] = {}
        other = seen.get(m.window_end)
        if other is not None and other != m.epoch:
            return other
        seen[m.window_end] = m.epoch
        if len(seen) > WINDOWS_KEPT:
            del seen[min(seen)]
        return None

    def _flag(self, m: SpooledMessage, reason: str, detail: str) -> QuarantinedMessage:
        log.warning("gateway %s: %s: %s", m.gateway_id, reason, detail)
        topic = topic_for(m.gateway_id, Kind(m.kind))
        return QuarantinedMessage(m.received_at, topic, m.gateway_id, reason, detail, m.payload)

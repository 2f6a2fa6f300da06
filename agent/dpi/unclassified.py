"""The report's ``unclassified`` section: the domains the DPI saw but could not name (opt-in).

So the operator can extend the domain table from what the fleet actually meets, an agent
configured with ``dpi_unclassified_domains = N`` (default 0: off, nothing is sent) reports per
window the ``N`` registrable domains (``suffixes.registrable_domain``: ``example.co.uk``, never
the full hostname) of the flows that carried a name no table knows, by bytes, each with the
bytes and active minutes counted under it and the category those bytes fell to in ``apps``
(``web`` or ``other``). Only names: no station, no client MAC, no remote address, no URL.
The collector shows a domain only when enough homes sent it (docs/dpi.md, "Unclassified domains").

Memory is bounded: at most :data:`MAX_DOMAINS` domains are counted per window (a window past
that counts the rest in :attr:`UnclassifiedWindow.overflow`, not by name).
"""

from __future__ import annotations

from functools import lru_cache

from agent.dpi.flows import Flow
from agent.dpi.suffixes import registrable_domain
from agent.dpi.usage import OVERHEAD_L7

#: Domains counted per window (each ~250 bytes on a 64-bit CPython, less on a gateway's 32-bit one).
MAX_DOMAINS = 256
#: The most an agent may be configured to send per window (the wire model's bound is higher).
MAX_TOP = 50


@lru_cache(maxsize=1024)
def _domain_of(host: str) -> str | None:
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit() and ":" not in name:  # an HTTP Host with its port
        host = name
    return registrable_domain(host)


def unclassified_domain(flow: Flow) -> str | None:
    """The registrable domain of a flow that carried a name the tables do not know, else ``None``
    (named flows, nameless ones, and name lookups or LAN discovery, which count as overhead)."""
    if flow.app is not None or not flow.host or flow.l7 in OVERHEAD_L7:
        return None
    return _domain_of(flow.host)


class _Counts:
    """One domain's bytes, the category they were counted under, and the minutes it moved bytes in."""

    __slots__ = ("category", "down", "minutes", "up")

    def __init__(self, category: str) -> None:
        self.up = 0
        self.down = 0
        self.category = category
        #: bit m set: bytes moved in minute m of the day (an int, not a set: ~30 bytes, not ~700)
        self.minutes = 0


class UnclassifiedWindow:
    """Bytes per unclassified domain for the current report window."""

    def __init__(self, top: int) -> None:
        if not 1 <= top <= MAX_TOP:
            raise ValueError(
                f"the unclassified domains reported per window must be 1 to {MAX_TOP}, not {top}"
            )
        self.top = top
        self._domains: dict[str, _Counts] = {}
        #: Domains left uncounted this window because MAX_DOMAINS were already counted.
        self.overflow = 0

    def __len__(self) -> int:
        return len(self._domains)

    def add(self, domain: str, category: str, up: int, down: int, ts: float) -> None:
        """Count a counter delta observed at ``ts`` under ``domain``."""
        if up <= 0 and down <= 0:
            return
        counts = self._domains.get(domain)
        if counts is None:
            if len(self._domains) >= MAX_DOMAINS:
                self.overflow += 1
                return
            counts = self._domains[domain] = _Counts(category)
        counts.up += max(up, 0)
        counts.down += max(down, 0)
        counts.minutes |= 1 << (int(ts // 60) % 1440)  # a window is at most a day (interval_s <= 86400)

    def report(self, reset: bool = True) -> list[dict[str, object]]:
        """The ``unclassified`` section: the top domains by bytes; starts a new window if ``reset``."""
        ranked = sorted(self._domains.items(), key=lambda kv: (-(kv[1].up + kv[1].down), kv[0]))[: self.top]
        rows: list[dict[str, object]] = [
            {"domain": domain, "category": c.category, "bytes_up": c.up, "bytes_down": c.down,
             "active_minutes": c.minutes.bit_count()}
            for domain, c in ranked
        ]  # fmt: skip
        if reset:
            self._domains = {}
            self.overflow = 0
        return rows

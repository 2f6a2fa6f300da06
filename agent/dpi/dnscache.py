"""Remember which name each station resolved to which address, to name flows that carry no hostname.

With Encrypted Client Hello, an IP-only connection or a flow whose handshake was missed, the DNS answer
that preceded the connection is the only clue. Answers are keyed by (station address, server address)
first, because CDN addresses serve many sites and the station's own question is the best evidence, and
by server address alone as a fallback. Entries live at least :data:`MIN_TTL` seconds, since connections
outlive short DNS TTLs, and the cache is bounded (least recently written entries go first).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

from agent.dpi.dns import TYPE_A, TYPE_AAAA, TYPE_CNAME, DnsMessage

_K = TypeVar("_K")

MIN_TTL = 300
MAX_TTL = 24 * 3600


class DnsCache:
    """Address -> queried name, learned from DNS answers."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._by_pair: OrderedDict[tuple[bytes, bytes], tuple[str, float]] = OrderedDict()
        self._by_addr: OrderedDict[bytes, tuple[str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_addr)

    def learn(self, station: bytes, message: DnsMessage, now: float) -> int:
        """Record the addresses in a response for the name the station asked; return how many."""
        if not message.is_response or message.rcode or not message.questions:
            return 0
        asked = message.questions[0][0]
        # Follow the CNAME chain only to know which records belong to the question; the name kept is the one
        # the station asked for, which is what an SNI would have said (the CNAME target is a CDN's).
        names = {asked}
        learned = 0
        for answer in message.answers:
            if answer.rtype == TYPE_CNAME and answer.name in names and isinstance(answer.value, str):
                names.add(answer.value)
            elif answer.rtype in (TYPE_A, TYPE_AAAA) and answer.name in names:
                if not isinstance(answer.value, bytes) or not answer.value:
                    continue
                expires = now + min(max(answer.ttl, MIN_TTL), MAX_TTL)
                _put(self._by_pair, (station, answer.value), (asked, expires), self.max_entries)
                _put(self._by_addr, answer.value, (asked, expires), self.max_entries)
                learned += 1
        return learned

    def lookup(self, station: bytes, server: bytes, now: float) -> str | None:
        """The name a station (or, failing that, any station) resolved to ``server``, if still fresh."""
        entry = self._by_pair.get((station, server)) or self._by_addr.get(server)
        if entry is None or entry[1] < now:
            return None
        return entry[0]


def _put(table: OrderedDict[_K, tuple[str, float]], key: _K, value: tuple[str, float], limit: int) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > limit:
        table.popitem(last=False)

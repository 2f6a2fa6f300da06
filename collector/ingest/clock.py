"""Clock skew: which gateways' clocks disagree with ours, judged from their own messages.

A status message is framed when it is sent, so its ``sent_at`` reads the gateway's clock
now: it shows skew either way. A spooled record may have been framed days ago and sent
after an outage, so it can only show a clock that is *ahead*. ``sent_at`` 0 means unknown
(the last will is framed at start-up) and a retained status is an old message by
definition; neither is judged. A ``clock_jump`` event is the agent saying so itself.
Nothing here changes what is stored: skew is flagged (counted, logged once per gateway,
shown in ``/healthz``), and the report keeps the times the gateway gave.
"""

from __future__ import annotations

import logging
from typing import Any

from collector.ingest.triage import Incoming, Triage
from collector.store import SpooledMessage, StatusChange
from protocol.topics import Kind

log = logging.getLogger(__name__)


class ClockWatch:
    """Counts skewed messages and clock jumps; remembers the gateways skewed now."""

    def __init__(self, limit_s: int) -> None:
        self.limit_s = limit_s
        self.skewed_messages = 0
        self.clock_jumps = 0
        #: gateway -> seconds its clock is ahead of ours (negative: behind), while skewed
        self.offsets: dict[str, int] = {}

    def observe(self, item: Incoming, t: Triage) -> None:
        """Judge one triaged message."""
        out = t.out
        if t.sent_at is None or t.sent_at == 0 or item.retained:
            return
        if not isinstance(out, StatusChange | SpooledMessage):
            return
        gid = out.gateway_id
        offset = t.sent_at - int(item.received_at)
        if isinstance(out, StatusChange):
            self._judge(gid, offset, abs(offset) > self.limit_s)
        elif offset > self.limit_s:
            self._judge(gid, offset, True)

    def jumped(self, message: SpooledMessage) -> None:
        """Act on the ``clock_jump`` events of a newly stored event batch (never a duplicate).

        The agent saw its own clock move: assume it was right before (or as far off as we
        last knew) and flag where it is now; a jump back to the truth unflags it.
        """
        events = message.body.get("events", []) if message.kind == Kind.EVENT.value else []
        deltas = [int(e.get("delta_s") or 0) for e in events if e.get("type") == "clock_jump"]
        if not deltas:
            return
        gid = message.gateway_id
        self.clock_jumps += len(deltas)
        log.warning("gateway %s: its clock jumped by %+d s", gid, sum(deltas))
        estimate = self.offsets.get(gid, 0) + sum(deltas)
        self._judge(gid, estimate, abs(estimate) > self.limit_s)

    def _judge(self, gid: str, offset: int, skewed: bool) -> None:
        if skewed:
            self.skewed_messages += 1
            if gid not in self.offsets:
                log.warning("gateway %s: its clock is %+d s off ours (limit %d s)", gid, offset, self.limit_s)
            self.offsets[gid] = offset
        elif self.offsets.pop(gid, None) is not None:
            log.info("gateway %s: its clock agrees with ours again", gid)

    def health(self) -> dict[str, Any]:
        """Figures for ``/healthz`` (at most 20 gateways named)."""
        return {
            "clock_skewed_messages": self.skewed_messages,
            "clock_skewed_gateways": len(self.offsets),
            "clock_skew_s": dict(sorted(self.offsets.items())[:20]),
            "clock_jumps": self.clock_jumps,
        }

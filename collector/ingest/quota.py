"""Per-gateway ingest quotas: a gateway that floods has its excess quarantined and flagged, not stored.

A token bucket per gateway: ``burst`` messages at once (a week of spooled reports resent
after an outage is ~700), refilled at ``per_hour``. An agent sends 4 reports and a few
event batches an hour, so only a broken or hostile gateway meets the limit. Past it, its
messages are quarantined with reason ``quota_exceeded`` (the first ``keep_per_hour`` of
them with their head, so an operator can see what it sent; the rest only counted) and
acknowledged, so a flood neither fills the store nor loops through resends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class _Bucket:
    tokens: float
    at: float
    refused: int = 0
    kept: int = 0
    hour: int = 0


@dataclass
class IngestQuota:
    """Decides, per message, whether a gateway is within its quota."""

    per_hour: int = 3600
    burst: int = 2000
    keep_per_hour: int = 100
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def admit(self, gateway_id: str, now: float) -> bool:
        """Take one message's token; ``False`` when the gateway is over its quota."""
        b = self._buckets.get(gateway_id)
        if b is None:
            b = self._buckets[gateway_id] = _Bucket(float(self.burst), now)
        b.tokens = min(float(self.burst), b.tokens + (now - b.at) * self.per_hour / 3600.0)
        b.at = now
        if b.tokens >= 1.0:
            if b.refused and b.tokens >= self.burst / 2:
                log.warning(
                    "ingest quota: gateway %s is within its quota again (%d refused)", gateway_id, b.refused
                )
                b.refused = 0
            b.tokens -= 1.0
            return True
        if not b.refused:
            log.warning(
                "ingest quota: gateway %s exceeds %d messages/hour; excess quarantined",
                gateway_id,
                self.per_hour,
            )
        b.refused += 1
        return False

    def keep(self, gateway_id: str, now: float) -> bool:
        """Whether a refused message still gets a quarantine row (the first ``keep_per_hour`` an hour)."""
        b = self._buckets[gateway_id]
        hour = int(now // 3600)
        if hour != b.hour:
            b.hour, b.kept = hour, 0
        b.kept += 1
        return b.kept <= self.keep_per_hour

    def flagged(self) -> dict[str, int]:
        """Gateways over their quota now, with how many messages each had refused."""
        return {gid: b.refused for gid, b in self._buckets.items() if b.refused}

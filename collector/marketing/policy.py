"""The contact policy across all campaigns: a cap per period, quiet hours, opt-outs, and no
second contact for the same offer. Pure: the database enforces it when a message is claimed
(``delivery.py``: conditional insert, uniqueness); :func:`decide` names the reason a claim was
refused, from the contact log."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from collector.marketing.catalogue import Policy

DAY_S = 86400.0


@dataclass(frozen=True)
class Contact:
    """A message sent to a subscriber (from the contact log of every campaign)."""

    offer_id: str
    sent_at: float
    campaign_id: int
    step: str


@dataclass(frozen=True)
class Decision:
    """Send now, later (``send_at``), or never (``reason``)."""

    send: bool
    send_at: float | None = None
    reason: str | None = None


def after_quiet_hours(policy: Policy, at: float) -> float:
    """``at``, or the end of the quiet hours it falls in (operator's local time)."""
    offset = policy.utc_offset_hours * 3600.0
    local = at + offset
    hour = (local % DAY_S) / 3600.0
    start, end = float(policy.quiet_start_hour), float(policy.quiet_end_hour)
    if start == end:
        return at
    quiet = (start <= hour or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return at
    day = local - local % DAY_S
    wake = day + end * 3600.0
    if wake <= local:
        wake += DAY_S
    return wake - offset


def decide(
    policy: Policy,
    now: float,
    offer_id: str,
    campaign_id: int,
    step: str,
    log: Iterable[Contact],
    opted_out: bool,
) -> Decision:
    """May this message go now? Checked at delivery time, against every campaign's contacts."""
    if opted_out:
        return Decision(False, reason="opted out")
    history = list(log)
    # one main contact per subscriber and offer, whichever campaign (or gateway of theirs) it came from
    if step == "main" and any(c.offer_id == offer_id and c.step == "main" for c in history):
        return Decision(False, reason="already contacted for this offer")
    recent = [c for c in history if c.sent_at > now - policy.period_days * DAY_S]
    if len(recent) >= policy.max_contacts:
        return Decision(False, reason=f"cap: {len(recent)} contacts in {policy.period_days:g} days")
    at = after_quiet_hours(policy, now)
    if at > now:
        return Decision(False, send_at=at, reason="quiet hours")
    return Decision(True, send_at=now)

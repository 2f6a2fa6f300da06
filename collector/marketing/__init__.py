"""Precise marketing, closed loop: segments, audiences, offers, campaigns, contacts, outcomes.

Every concern here is a pure planner (what to read and write, as ``Statement`` values)
over ``store.db``; see docs/marketing.md for the operator's walkthrough.
"""

from __future__ import annotations


class MarketingError(ValueError):
    """Bad marketing input (a segment, template, offer file or CSV row): the message names it."""

"""Date ranges for list and chart pages: ``from``/``to`` (whole UTC days) and shortcuts.

``range=last7`` (the last 7 days, today included), ``range=this_month``, and
``range=previous`` (the same number of days just before ``from``/``to``). Bad values are a
400 naming the parameter. :func:`range_form` draws the picker with the shortcuts as links.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape
from urllib.parse import urlencode

from aiohttp import web

from collector.reports.period import Period

SHORTCUTS = ("last7", "this_month", "previous")
MAX_DAYS = 3660


@dataclass(frozen=True, slots=True)
class DateRange:
    """Whole UTC days ``first`` to ``last`` (both included)."""

    first: date
    last: date

    @property
    def period(self) -> Period:
        """The same days as a report period, which owns their bounds in epoch seconds."""
        return Period("range", self.first, self.last)

    @property
    def start(self) -> int:
        """Epoch second of ``first``'s midnight."""
        return self.period.start

    @property
    def end(self) -> int:
        """Epoch second of the midnight after ``last`` (exclusive)."""
        return self.period.end

    def previous(self) -> DateRange:
        """The same number of days just before."""
        before = self.period.previous()
        return DateRange(before.first, before.last)

    def query(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


#: Days a range may name: from the epoch (stored times are epoch seconds) to a year whose
#: "previous period" and following midnight still exist (``date`` stops at 9999-12-31).
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9000, 12, 31)


def _day(query: Mapping[str, str], name: str) -> date | None:
    raw = query.get(name)
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a date YYYY-MM-DD, not {raw[:40]!r}") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise web.HTTPBadRequest(text=f"{name} must be a day from {FIRST_DAY} to {LAST_DAY}, not {raw}")
    return day


def date_range(query: Mapping[str, str], today: date | None = None) -> DateRange | None:
    """The request's range, or ``None`` when it gives none (400 on a bad one, naming the parameter)."""
    today = today or datetime.now(UTC).date()
    shortcut = query.get("range") or None
    first, last = _day(query, "from"), _day(query, "to")
    if shortcut is not None and shortcut not in SHORTCUTS:
        raise web.HTTPBadRequest(text=f"range must be one of {', '.join(SHORTCUTS)}, not {shortcut[:40]!r}")
    if shortcut == "last7":
        return DateRange(today - timedelta(days=6), today)
    if shortcut == "this_month":
        return DateRange(today.replace(day=1), today)
    if first is None and last is None:
        if shortcut == "previous":
            raise web.HTTPBadRequest(text="range=previous needs from and to")
        return None
    span = DateRange(first or last or today, last or first or today)
    if span.last < span.first:
        raise web.HTTPBadRequest(text=f"to ({span.last}) is before from ({span.first})")
    if (span.last - span.first).days >= MAX_DAYS:
        raise web.HTTPBadRequest(text=f"from and to may be at most {MAX_DAYS} days apart")
    if shortcut == "previous" and span.previous().first < FIRST_DAY:
        raise web.HTTPBadRequest(text=f"range=previous would start before {FIRST_DAY}")
    return span.previous() if shortcut == "previous" else span


def range_form(action: str, span: DateRange | None, keep: Mapping[str, str] | None = None) -> str:
    """The picker: two date fields, Apply, and the shortcuts (``keep``: other query values to carry)."""
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in (keep or {}).items()
        if k not in ("from", "to", "range") and v
    )
    base = {k: v for k, v in (keep or {}).items() if k not in ("from", "to", "range", "offset") and v}

    def link(label: str, extra: dict[str, str]) -> str:
        return f'<a href="{escape(action + "?" + urlencode({**base, **extra}))}">{label}</a>'

    shortcuts = [link("last 7 days", {"range": "last7"}), link("this month", {"range": "this_month"})]
    if span is not None:
        shortcuts.append(link("previous period", span.previous().query()))
        shortcuts.append(f'<a href="{escape(action + ("?" + urlencode(base) if base else ""))}">all</a>')
    first = span.first.isoformat() if span else ""
    last = span.last.isoformat() if span else ""
    return (
        f'<form class="filters range" method="get" action="{escape(action)}">{hidden}'
        f'<label>From<input type="date" name="from" value="{first}"></label>'
        f'<label>To<input type="date" name="to" value="{last}"></label>'
        f'<button type="submit">Apply</button><span class="shortcuts">{" · ".join(shortcuts)}</span></form>'
    )

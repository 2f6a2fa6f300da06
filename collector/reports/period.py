"""Report periods: a week (Monday to Sunday), a month, or any range of whole UTC days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

DAY = 86400
KINDS = ("week", "month", "range")
#: The longest on-demand range: the profiles a report reads cover at most 31 days.
MAX_DAYS = 31


class PeriodError(ValueError):
    """A period that cannot be reported (bad date, empty or too long a range)."""


@dataclass(frozen=True, slots=True)
class Period:
    """Whole UTC days ``[first, last]`` (dates), of kind week, month or range."""

    kind: str
    first: date
    last: date

    @property
    def start(self) -> int:
        """Epoch second of the first day's midnight."""
        return int(datetime(self.first.year, self.first.month, self.first.day, tzinfo=UTC).timestamp())

    @property
    def end(self) -> int:
        """Epoch second of the midnight after the last day (exclusive)."""
        return self.start + self.days * DAY

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def first_day(self) -> int:
        """The first day as a UTC day number (as ``home_days`` keys them)."""
        return self.start // DAY

    @property
    def last_day(self) -> int:
        return self.end // DAY - 1

    @property
    def name(self) -> str:
        """A short stable name: ``week-2026-W48``, ``month-2026-11``, ``range-2026-11-02-2026-11-15``."""
        if self.kind == "week":
            year, week, _ = self.first.isocalendar()
            return f"week-{year}-W{week:02d}"
        if self.kind == "month":
            return f"month-{self.first:%Y-%m}"
        return f"range-{self.first.isoformat()}-{self.last.isoformat()}"

    @property
    def title(self) -> str:
        if self.kind == "week":
            year, week, _ = self.first.isocalendar()
            return f"Week {week} of {year} ({self.first:%d %b} – {self.last:%d %b %Y})"
        if self.kind == "month":
            return self.first.strftime("%B %Y")
        return f"{self.first:%d %b %Y} – {self.last:%d %b %Y}"

    def previous(self) -> Period:
        """The period before, of the same kind (a range: the same number of days before)."""
        if self.kind == "week":
            return Period("week", self.first - timedelta(days=7), self.first - timedelta(days=1))
        if self.kind == "month":
            last = self.first - timedelta(days=1)
            return Period("month", last.replace(day=1), last)
        return Period("range", self.first - timedelta(days=self.days), self.first - timedelta(days=1))


def parse_date(text: str, name: str = "date") -> date:
    """``YYYY-MM-DD``, or a :class:`PeriodError` naming the parameter."""
    try:
        day = date.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise PeriodError(f"{name} must be a date YYYY-MM-DD, not {text!r}") from exc
    if not date(1970, 3, 1) <= day <= date(9000, 12, 31):  # the period before must exist too
        raise PeriodError(f"{name} must be a day from 1970-03-01 to 9000-12-31, not {text}")
    return day


def week_of(as_of: date) -> Period:
    """The last complete Monday-to-Sunday week before ``as_of`` (``as_of`` itself excluded)."""
    last = as_of - timedelta(days=1)
    last -= timedelta(days=(last.weekday() - 6) % 7)  # back to a Sunday
    return Period("week", last - timedelta(days=6), last)


def month_of(as_of: date) -> Period:
    """The last complete calendar month before ``as_of``."""
    last = as_of.replace(day=1) - timedelta(days=1)
    return Period("month", last.replace(day=1), last)


def date_range(first: date, last: date) -> Period:
    """An on-demand range of whole days (at most :data:`MAX_DAYS`)."""
    if last < first:
        raise PeriodError(f"to ({last}) is before from ({first})")
    if (last - first).days + 1 > MAX_DAYS:
        raise PeriodError(f"a range covers at most {MAX_DAYS} days, not {(last - first).days + 1}")
    return Period("range", first, last)


def period_of(kind: str, as_of: date) -> Period:
    """The complete week or month before ``as_of``."""
    if kind == "week":
        return week_of(as_of)
    if kind == "month":
        return month_of(as_of)
    raise PeriodError(f"period must be week or month, not {kind!r}")

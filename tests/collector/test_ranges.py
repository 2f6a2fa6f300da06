"""Date ranges of the list and chart pages: whole UTC days, their bounds and the period before."""

from __future__ import annotations

from datetime import date

from collector.reports.period import date_range as report_range
from collector.web.ranges import DateRange, date_range


def test_a_range_is_whole_utc_days_and_the_previous_one_is_as_long_just_before() -> None:
    span = DateRange(date(2026, 11, 2), date(2026, 11, 15))
    assert (span.start, span.end) == (1_793_577_600, 1_794_787_200)  # midnights, UTC; end exclusive
    assert span.previous() == DateRange(date(2026, 10, 19), date(2026, 11, 1))
    asked = {"from": "2026-11-02", "to": "2026-11-15", "range": "previous"}
    assert date_range(asked) == span.previous()
    # a page's range and a report's over the same days are the same seconds (the report period owns them)
    report = report_range(span.first, span.last)
    assert (report.start, report.end) == (span.start, span.end)
    assert DateRange(date(2026, 11, 2), date(2026, 11, 2)).end - span.start == 86_400

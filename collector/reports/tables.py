"""The records a report is made of: named tables of rows, and the report that holds them.

Every table renders three ways from the same rows (an HTML table, a CSV file, a JSON
list), so a figure in the PDF is always the figure in the CSV.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collector.reports.period import Period


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its key in the rows, its heading, and its unit (shown in the heading)."""

    key: str
    title: str
    unit: str = ""
    #: ``str.format`` spec for HTML (CSV and JSON keep the full value).
    fmt: str = ""

    @property
    def heading(self) -> str:
        return f"{self.title} ({self.unit})" if self.unit else self.title

    @property
    def numeric(self) -> bool:
        return bool(self.fmt)


@dataclass(frozen=True, slots=True)
class Table:
    """A named table: ``name`` is its CSV file's stem and its id in the HTML."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    note: str = ""

    def values(self) -> list[list[Any]]:
        """The rows as lists in column order (CSV)."""
        return [[row.get(c.key) for c in self.columns] for row in self.rows]


def col(key: str, title: str, unit: str = "", fmt: str = "") -> Column:
    """A :class:`Column` (short to write in table definitions)."""
    return Column(key, title, unit, fmt)


@dataclass(slots=True)
class Report:
    """A report's figures: its period, the one before, and its tables in reading order."""

    period: Period
    previous: Period
    generated_at: float
    tables: dict[str, Table] = field(default_factory=dict)
    #: Headline figures (name -> value) for the summary cards and the archive.
    headline: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, table: Table) -> Table:
        self.tables[table.name] = table
        return table

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: period, headline and every table's rows."""
        return {
            "period": {"kind": self.period.kind, "name": self.period.name, "from": self.period.first.isoformat(),
                       "to": self.period.last.isoformat()},
            "previous": {"from": self.previous.first.isoformat(), "to": self.previous.last.isoformat()},
            "generated_at": self.generated_at,
            "headline": self.headline,
            "tables": {name: {"title": t.title, "columns": [c.key for c in t.columns], "rows": t.rows}
                       for name, t in self.tables.items()},
        }  # fmt: skip

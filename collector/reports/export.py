"""Tables as CSV and JSON files: spreadsheet-safe, and streamable with bounded memory.

CSV is UTF-8 with a byte-order mark (so spreadsheets detect the encoding) and every text
cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return, which some
spreadsheets skip before a formula) is prefixed with ``'``, so no cell runs as a formula
(OWASP's CSV injection advice). Numbers are written as numbers: ``-3`` stays a number.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

BOM = "\ufeff"
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A cell value as a spreadsheet will not run it: formula-like text gets a leading ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def csv_row(values: Sequence[Any]) -> str:
    """One CSV line (CRLF-terminated) of formula-safe cells."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([safe_cell(v) for v in values])
    return buf.getvalue()


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterable[str]:
    """The CSV text in pieces: the BOM with the header first, then one piece per row."""
    yield BOM + csv_row(header)
    for row in rows:
        yield csv_row(row)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The whole CSV as one string (small tables: report files)."""
    return "".join(csv_lines(header, rows))


async def json_lines(key: str, rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    """``{"<key>": [row, row, ...]}`` in pieces, one row at a time."""
    yield f'{{"{key}": ['
    first = True
    async for row in rows:
        yield ("" if first else ",") + json.dumps(row, separators=(",", ":"), default=str)
        first = False
    yield "]}"

"""SQL written once for both backends: the thin "how" that every store concern shares.

A concern (campaigns, security, leases, ...) is a pure planner that says *what* to read
and write, as :class:`Statement` values with ``?`` placeholders, plus calls on the
store's :class:`Database` (``store.db``). The backend adapters (``sqlite_db``,
``postgres_db``) only run statements: they translate placeholders, open a transaction,
and turn driver errors into :class:`~collector.store.base.StoreError`. So a concern has
no twin per backend; the SQL it writes must be the common subset both speak:

- ``INSERT ... ON CONFLICT (...) DO UPDATE SET col = excluded.col`` and ``DO NOTHING``;
- ``RETURNING`` (SQLite >= 3.35);
- integers for booleans, ``REAL``/``DOUBLE PRECISION`` epoch seconds for times, ``TEXT``
  holding JSON (parsed by the concern, not by SQL), ``BLOB``/``BYTEA`` for bytes;
- no ``ILIKE`` (``lower(x) LIKE lower(?)``), ``max(a, b)`` only through
  :meth:`Dialect.greatest`.

Schemas stay in the numbered migrations of each backend: DDL is where the two differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, Protocol

DialectName = Literal["sqlite", "postgresql"]


@dataclass(frozen=True)
class Statement:
    """One SQL statement with ``?`` placeholders and its parameters.

    ``many``: ``params`` is a sequence of parameter rows (``executemany``).
    ``expect``: the statement must affect exactly this many rows, or the whole
    transaction is rolled back with :class:`Conflict` (optimistic checks: "claim this
    lease only if it expired", "launch only if still a draft").
    """

    sql: str
    params: Sequence[Any] = ()
    many: bool = False
    expect: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What one statement did: rows affected, and rows returned (SELECT or RETURNING)."""

    rowcount: int
    rows: list[dict[str, Any]] = field(default_factory=list)


class Conflict(Exception):
    """A statement's ``expect`` did not hold; nothing of its transaction was written."""

    def __init__(self, statement: Statement, rowcount: int) -> None:
        super().__init__(f"expected {statement.expect} row(s), got {rowcount}: {statement.sql.split()[0:4]}")
        self.statement = statement
        self.rowcount = rowcount


@dataclass(frozen=True)
class Dialect:
    """The few expressions the two backends spell differently."""

    name: DialectName

    def greatest(self, *exprs: str) -> str:
        fn = "max" if self.name == "sqlite" else "GREATEST"
        return f"{fn}({', '.join(exprs)})"

    def least(self, *exprs: str) -> str:
        fn = "min" if self.name == "sqlite" else "LEAST"
        return f"{fn}({', '.join(exprs)})"


class Database(Protocol):
    """A store's SQL runner (``store.db``): reads, and atomic lists of statements."""

    @property
    def dialect(self) -> Dialect:
        """How this backend spells the few expressions that differ."""
        ...

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of one query as dicts (column name -> value)."""
        ...

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        """The first row of one query, or ``None``."""
        ...

    async def transaction(self, statements: Sequence[Statement], snapshot: bool = False) -> list[Outcome]:
        """Run ``statements`` in order in ONE transaction; all or nothing.

        ``snapshot``: every statement reads the database as it was when the first one ran
        (PostgreSQL's REPEATABLE READ; SQLite's writer transaction already does), so a
        transaction that copies from several tables copies one consistent state even while
        other collectors commit (e.g. an audience freeze during an evaluation).

        Raises :class:`Conflict` when a statement's ``expect`` fails, and
        :class:`~collector.store.base.StoreError` for database errors.
        """
        ...

    async def execute(self, statement: Statement) -> Outcome:
        """One statement in a transaction of its own."""
        ...


def check_expect(statement: Statement, rowcount: int) -> None:
    """Raise :class:`Conflict` if ``statement`` expected another row count."""
    if statement.expect is not None and rowcount != statement.expect:
        raise Conflict(statement, rowcount)


@lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (``%`` doubled; ``?`` in quotes kept)."""
    out: list[str] = []
    quote = ""
    for ch in sql:
        if ch == "%":
            out.append("%%")
            continue
        if quote:
            if ch == quote:
                quote = ""
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "?":
            out.append("%s")
            continue
        out.append(ch)
    if quote:
        raise ValueError(f"unterminated quote in SQL: {sql[:60]!r}")
    return "".join(out)


def in_list(values: Sequence[Any]) -> str:
    """``(?, ?, ...)`` for an ``IN`` over ``values`` (at least one)."""
    if not values:
        raise ValueError("IN () needs at least one value")
    return "(" + ", ".join("?" * len(values)) + ")"

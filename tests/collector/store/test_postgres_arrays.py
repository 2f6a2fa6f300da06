"""Column arrays built as binary parameters read back on a real server as psycopg's own do."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.store.postgres_arrays import column

VALUES = {
    "bigint": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "float8": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**52), 2**52)),
    "text": st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")),
}


@pytest.fixture
def conn(postgres_url: str) -> Any:
    with psycopg.connect(postgres_url, autocommit=True) as c:
        yield c


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_columns_read_back_as_psycopg_s_own_arrays(
    conn: psycopg.Connection[Any], data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(sorted(VALUES)))
    values = data.draw(
        st.lists(st.one_of(st.none(), VALUES[kind]) if data.draw(st.booleans()) else VALUES[kind])
    )
    expected = [None if v is None else float(v) if kind == "float8" else v for v in values]
    ours, theirs = conn.execute(
        f"SELECT %b::{kind}[], %b::{kind}[]", (column(kind, values), expected)
    ).fetchone()
    assert ours == theirs == expected


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(KeyError):
        column("bytea", [b"x"])

"""The home-day vector's stored format: positions pinned, categories appended without moving any.

``home_days.data.v`` is stored for every home and day; a position that moves silently changes
what every stored day means. These tests fail on any insert, removal, resize or reorder of a
block, and on a category added anywhere but the end of ``protocol.categories``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.dpi.classifier import CATEGORIES as AGENT_CATEGORIES
from collector.profiles import layout
from collector.profiles.config import load_config
from collector.profiles.profile import build_profile
from collector.profiles.rollup import window_contribution
from protocol.categories import CATEGORIES
from tests.collector.profiles.test_rollup import START, body

GOLDEN = Path(__file__).parent / "golden" / "home_day_v.json"

#: The stored format as of the first release: (block, first position, size). Append, never edit.
PINNED = [
    ("scalars", 0, 7),
    ("wifi_sums", 7, 5),
    ("wifi_counts", 12, 5),
    ("cat", 17, 75),
    ("radio", 92, 9),
    ("quality", 101, 8),
    ("signal", 109, 45),
    ("rate_windows", 154, 80),
    ("rate_bytes", 234, 80),
    ("cat:iot", 314, 5),
    ("cat:background", 319, 5),
    ("background", 324, 2),
]
FIRST_CATEGORIES = (
    "video", "short_video", "live_streaming", "game", "social", "messaging", "shopping", "app_store",
    "operator", "reading", "music", "work", "cloud", "web", "other",
)  # fmt: skip


def test_stored_blocks_keep_their_positions() -> None:
    assert [tuple(b) for b in layout.BLOCKS[: len(PINNED)]] == PINNED
    assert CATEGORIES[: len(FIRST_CATEGORIES)] == FIRST_CATEGORIES
    # every category has its five fields somewhere, none overlapping another's
    starts = [layout.cat_at(c, 0) for c in CATEGORIES]
    assert len(set(starts)) == len(CATEGORIES)
    assert max(starts) + len(layout.CAT_FIELDS) <= layout.SIZE


def test_a_window_lands_where_it_always_did() -> None:
    """The golden vector of a known report: every figure at the position stored days hold it at."""
    golden = json.loads(GOLDEN.read_text())
    v = window_contribution(body(), START, START + 900)["v"]
    assert {str(i): x for i, x in enumerate(v) if x} == golden["nonzero"]
    assert v[golden["size"] :] == [0] * (len(v) - golden["size"])


def test_appending_categories_moves_no_stored_position() -> None:
    """A category appended to protocol.categories needs its block declared at the end, in order."""
    first = CATEGORIES[: layout.FIRST_CATEGORIES]
    declared = tuple(d for d in layout.DECLARED if not d[0].startswith("cat:") and d[0] != "background")
    assert [b.name for b in layout.blocks(first, declared)] == [
        b.name for b in layout.BLOCKS[: len(declared)]
    ]
    with pytest.raises(ValueError, match=r"declare cat:karaoke at the end"):
        layout.blocks((*CATEGORIES, "karaoke"))
    grown = layout.blocks(
        (*CATEGORIES, "karaoke"), (*layout.DECLARED, ("cat:karaoke", len(layout.CAT_FIELDS)))
    )
    assert grown[: len(layout.BLOCKS)] == layout.BLOCKS  # nothing stored moved
    with pytest.raises(ValueError, match="order"):
        layout.blocks(
            CATEGORIES, (*layout.DECLARED[:-3], layout.DECLARED[-2], layout.DECLARED[-3], layout.DECLARED[-1])
        )
    with pytest.raises(ValueError, match="append-only"):
        layout.blocks(("iot", *CATEGORIES))


def test_a_shorter_stored_vector_reads_as_zeros_past_its_end() -> None:
    """A day stored before the last blocks were appended builds the same profile."""
    day = window_contribution(body(), START, START + 900)
    day["v"][layout.RADIO :] = [0] * (layout.SIZE - layout.RADIO)
    old = {**day, "v": day["v"][: layout.RADIO]}
    d = START // 86400
    config = load_config()
    as_of = (d + 1) * 86400
    assert build_profile("gw", [(d, old)], None, config, as_of) == build_profile(
        "gw", [(d, day)], None, config, as_of
    )


def test_the_agent_tags_flows_with_the_protocol_categories() -> None:
    """The agent's classifier may only name categories the protocol owns (in the same order)."""
    assert AGENT_CATEGORIES == CATEGORIES

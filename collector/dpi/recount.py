"""A report's bytes of a domain the operator has categorised, counted under that category.

Agents do not know the operator's rules: they count an unknown name's bytes under ``web`` or
``other`` in ``apps`` and, when opted in, name its registrable domain in ``unclassified`` with
those bytes and the category they fell to. The fold moves them: for each row whose domain has
a rule, its bytes leave the category the agent used and count under the rule's, in the
window's contribution to the home's day, from the next report folded after the rule was set
(days already folded keep what they were folded with; nothing is re-read).

Collector-side, not pushed to the agents: one rule works for every agent at once (none need
a new table, a restart or a command channel), and for reports spooled before it arrived.
Its limits (docs/dpi.md): only agents that send ``unclassified`` get recounted, and only the
top N domains of a window they name; the rows carry no station, so the moved bytes count as
a person's use (as an unknown terminal's do) in a people's category, as devices' traffic in
``iot``/``background``; engaged minutes the agent counted under ``web`` stay counted there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collector.profiles import layout
from protocol.categories import OTHER


def recount(
    sparse: dict[int, int], rows: list[dict[str, Any]], rules: Mapping[str, str], length_s: int
) -> int:
    """Move the bytes of ``rows`` whose domain has a rule, in a window's vector positions
    ``sparse`` (``rollup.window_parts``), in place; returns the bytes moved."""
    if not rules or not rows:
        return 0
    cap_min = max(1, round(length_s / 60))
    moved = 0
    for row in rows:
        target = rules.get(str(row.get("domain") or ""))
        source = str(row.get("category") or OTHER)
        if target is None or target == source:
            continue
        src, dst = layout.cat_at(source, 0), layout.cat_at(target, 0)
        if src == dst:
            continue
        # never more than the window counted there (a row cannot take another domain's bytes)
        down = min(int(row.get("bytes_down") or 0), sparse.get(src + layout.CAT_DOWN, 0))
        up = min(int(row.get("bytes_up") or 0), sparse.get(src + layout.CAT_UP, 0))
        if down <= 0 and up <= 0:
            continue
        minutes = min(int(row.get("active_minutes") or 0), cap_min)
        sparse[src + layout.CAT_DOWN] = sparse.get(src + layout.CAT_DOWN, 0) - down
        sparse[src + layout.CAT_UP] = sparse.get(src + layout.CAT_UP, 0) - up
        sparse[dst + layout.CAT_DOWN] = sparse.get(dst + layout.CAT_DOWN, 0) + down
        sparse[dst + layout.CAT_UP] = sparse.get(dst + layout.CAT_UP, 0) + up
        if target in layout.DEVICE_CATEGORIES:
            bg = layout.BACKGROUND
            sparse[bg + layout.BG_MIN] = max(sparse.get(bg + layout.BG_MIN, 0), minutes)
            sparse[bg + layout.BG_BYTES] = sparse.get(bg + layout.BG_BYTES, 0) + down + up
        else:
            at = dst + layout.CAT_ENGAGED
            sparse[at] = max(sparse.get(at, 0), minutes)
            if target in layout.FOREGROUND:
                sparse[layout.ENGAGED] = max(sparse.get(layout.ENGAGED, 0), minutes)
        moved += down + up
    return moved

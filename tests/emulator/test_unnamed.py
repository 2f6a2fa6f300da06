"""The emulator's unclassified domains: off by default, valid on the wire when on, shared domains
across many homes and one rare domain per home, never more bytes than ``apps`` counted."""

from __future__ import annotations

from collections import Counter

from emulator.home import VirtualHome
from emulator.unnamed import SHARED
from protocol.models import check
from tests.protocol.messages import report

END = 1_795_996_800 + 12 * 3600  # a Monday noon, when households are up


def _bodies(top: int, homes: int = 40, windows: int = 8) -> dict[str, list[dict]]:
    out = {}
    for i in range(homes):
        home = VirtualHome(f"un-{i:03d}", 100 + i, unclassified=top)
        out[home.gateway_id] = [home.report_body(900, END + 900 * k) for k in range(windows)]
    return out


def test_off_by_default_and_nothing_else_changes() -> None:
    plain, named = _bodies(0, homes=3), _bodies(20, homes=3)
    assert not any("unclassified" in b for bodies in plain.values() for b in bodies)
    for gid in plain:
        for a, b in zip(plain[gid], named[gid], strict=True):
            assert a["apps"] == b["apps"] and a["stations"] == b["stations"]  # its own random stream


def test_shared_and_rare_domains_within_what_apps_counted() -> None:
    homes_per_domain: Counter[str] = Counter()
    for bodies in _bodies(20).values():
        seen: set[str] = set()
        for body in bodies:
            rows = body.get("unclassified", [])
            assert len(rows) <= 20
            check(report(unclassified=rows))  # valid protocol 1.3
            for cat in ("web", "other"):
                counted = sum(a["bytes_down"] for a in body["apps"] if a["category"] == cat)
                assert sum(r["bytes_down"] for r in rows if r["category"] == cat) <= counted
            seen |= {r["domain"] for r in rows}
        homes_per_domain.update(seen)
    shared = {d for d, _, _ in SHARED}
    assert {d for d, n in homes_per_domain.items() if n >= 5} <= shared
    assert sum(1 for d in shared if homes_per_domain[d] >= 5) >= 4  # most shared ones pass a minimum of 5
    rare = [d for d in homes_per_domain if d.startswith("site-")]
    assert len(rare) >= 30 and all(homes_per_domain[d] == 1 for d in rare)

"""The home's topology as an SVG picture: gateway, mesh/FTTR nodes, and terminals.

One column per (access point, medium): the gateway's own 2.4/5/6 GHz radios and wired
ports, then each mesh or FTTR node with its backhaul. Each terminal is a row under the
column it hangs off, its dot coloured by signal (green >= -65 dBm, amber >= -75, red below).
"""

from __future__ import annotations

from html import escape
from typing import Any

_MEDIUM_COLOUR = {
    "2.4GHz": "#e8a33d",
    "5GHz": "#2f7ed8",
    "6GHz": "#7b4fd6",
    "wired": "#4a5a6a",
    "mesh": "#1a7f37",
}
_MEDIUM_ORDER = {"2.4GHz": 0, "5GHz": 1, "6GHz": 2, "wired": 3, "mesh": 4}
COL_W = 190
ROW_H = 22


def _signal_colour(signal: int | None) -> str:
    if signal is None:
        return "#99a5b3"
    return "#1a7f37" if signal >= -65 else "#e8a33d" if signal >= -75 else "#b42318"


def _columns(body: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in body.get("stations") or []:
        key = (str(s.get("ap") or "gateway"), str(s.get("medium") or "unknown"))
        groups.setdefault(key, []).append(s)
    for link in body.get("topology") or []:
        groups.setdefault((str(link.get("node")), "mesh"), [])
    order = sorted(groups, key=lambda k: (k[0] != "gateway", k[0], _MEDIUM_ORDER.get(k[1], 9)))
    return [
        (ap, medium, sorted(groups[(ap, medium)], key=lambda s: -(s.get("signal_dbm") or -200)))
        for ap, medium in order
    ]


def topology_svg(gateway_id: str, body: dict[str, Any]) -> str:
    """An SVG tree of the home network from the latest report body."""
    columns = _columns(body)
    if not columns:
        return '<p class="chart-empty">No stations reported yet.</p>'
    backhaul = {str(link.get("node")): link for link in body.get("topology") or []}
    width = COL_W * len(columns)
    rows = max(len(c[2]) for c in columns)
    height = 110 + ROW_H * max(rows, 1)
    gx = width / 2
    out = [
        f'<svg class="topology" role="img" aria-label="home network of {escape(gateway_id)}" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif">',
        f'<rect x="{gx - 70}" y="4" width="140" height="26" rx="5" fill="#15324d"/>',
        f'<text x="{gx}" y="21" fill="#fff" text-anchor="middle">{escape(gateway_id[:22])}</text>',
    ]
    for i, (ap, medium, stations) in enumerate(columns):
        cx = COL_W * i + COL_W / 2
        colour = _MEDIUM_COLOUR.get(medium, "#99a5b3")
        link = backhaul.get(ap)
        dash = ' stroke-dasharray="5,3"' if ap != "gateway" else ""
        out.append(
            f'<path d="M{gx},30 C{gx},46 {cx},46 {cx},62" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
        )
        label = medium if ap == "gateway" else f"AP …{ap[-5:]} {medium}"
        out.append(f'<rect x="{cx - 80}" y="62" width="160" height="20" rx="4" fill="{colour}"/>')
        out.append(f'<text x="{cx}" y="76" fill="#fff" text-anchor="middle">{escape(label)}</text>')
        if link and link.get("signal_dbm") is not None:
            out.append(
                f'<text x="{cx}" y="56" text-anchor="middle" fill="#1d2733">backhaul {link["signal_dbm"]} dBm</text>'
            )
        for j, s in enumerate(stations):
            y = 100 + ROW_H * j
            left = cx - COL_W / 2 + 12
            out.append(
                f'<line x1="{left}" y1="82" x2="{left}" y2="{y}" stroke="{colour}" stroke-opacity="0.4"/>'
            )
            out.append(
                f'<circle cx="{left + 8}" cy="{y - 4}" r="5" fill="{_signal_colour(s.get("signal_dbm"))}"/>'
            )
            name = str(s.get("hostname") or s.get("mac") or "?")
            extra = f" {s['signal_dbm']} dBm" if s.get("signal_dbm") is not None else ""
            out.append(
                f'<text x="{left + 18}" y="{y}"><title>{escape(str(s.get("mac", "")))}</title>{escape(name[:18] + extra)}</text>'
            )
    out.append("</svg>")
    return "".join(out)

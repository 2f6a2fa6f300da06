"""The home's topology as an SVG picture: gateway, mesh/FTTR nodes, and terminals."""

from __future__ import annotations

from html import escape
from typing import Any

_COLOURS = {"2.4GHz": "#e8a33d", "5GHz": "#2f7ed8", "6GHz": "#7b4fd6", "wired": "#4a5a6a", "mesh": "#1a7f37"}


def _signal_class(signal: int | None) -> str:
    if signal is None:
        return "#99a5b3"
    return "#1a7f37" if signal >= -65 else "#e8a33d" if signal >= -75 else "#b42318"


def topology_svg(gateway_id: str, body: dict[str, Any], width: int = 860) -> str:
    """Gateway at the top, APs below it, stations under the AP they hang off."""
    stations: list[dict[str, Any]] = list(body.get("stations") or [])
    links: list[dict[str, Any]] = list(body.get("topology") or [])
    if not stations and not links:
        return '<p class="chart-empty">No stations reported yet.</p>'
    aps = ["gateway", *[str(link.get("node")) for link in links]]
    by_ap: dict[str, list[dict[str, Any]]] = {ap: [] for ap in aps}
    for s in stations:
        by_ap.setdefault(str(s.get("ap") or "gateway"), []).append(s)
    columns = list(by_ap)
    col_w = max(140, width // max(1, len(columns)))
    rows = max(len(v) for v in by_ap.values()) if by_ap else 0
    height = 120 + 26 * rows
    parts = [
        f'<svg class="topology" role="img" aria-label="topology of {escape(gateway_id)}" viewBox="0 0 {col_w * len(columns)} {height}"'
        f' width="{col_w * len(columns)}" height="{height}" xmlns="http://www.w3.org/2000/svg" font-size="11">'
    ]
    gx = col_w * len(columns) / 2
    parts.append(f'<rect x="{gx - 60}" y="6" width="120" height="24" rx="4" fill="#15324d"/>')
    parts.append(f'<text x="{gx}" y="22" fill="#fff" text-anchor="middle">{escape(gateway_id[:20])}</text>')
    for i, ap in enumerate(columns):
        cx = col_w * i + col_w / 2
        if ap != "gateway":
            link = next((lk for lk in links if str(lk.get("node")) == ap), {})
            parts.append(f'<line x1="{gx}" y1="30" x2="{cx}" y2="52" stroke="#1a7f37" stroke-width="2"/>')
            parts.append(f'<rect x="{cx - 55}" y="52" width="110" height="20" rx="4" fill="#1a7f37"/>')
            label = f"AP {ap[-8:]} {link.get('medium', '')}"
            parts.append(f'<text x="{cx}" y="66" fill="#fff" text-anchor="middle">{escape(label)}</text>')
        top = 72 if ap != "gateway" else 30
        for j, s in enumerate(by_ap[ap]):
            y = 90 + 26 * j
            colour = _COLOURS.get(str(s.get("medium")), "#99a5b3")
            parts.append(
                f'<line x1="{cx}" y1="{top}" x2="{cx}" y2="{y}" stroke="{colour}" stroke-opacity="0.35"/>'
            )
            parts.append(
                f'<circle cx="{cx - col_w / 2 + 14}" cy="{y}" r="5" fill="{_signal_class(s.get("signal_dbm"))}"/>'
            )
            name = s.get("hostname") or s.get("mac", "?")
            extra = f" {s['signal_dbm']} dBm" if s.get("signal_dbm") is not None else ""
            text = f"{name} · {s.get('medium', '?')}{extra}"
            parts.append(f'<text x="{cx - col_w / 2 + 24}" y="{y + 4}">{escape(text[:34])}</text>')
    parts.append("</svg>")
    return "".join(parts)

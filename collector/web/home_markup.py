"""What the home-profile pages share: their stylesheet, result badges, numbers, tables and home links.

Every string from the store that reaches these is escaped here; a gateway id in a link is
URL-quoted first (it is data, not markup or a path).
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

KINDS = ("label", "flag", "warning")
KIND_COLOUR = {"label": "#2f7ed8", "flag": "#1a7f37", "warning": "#b42318"}
STYLE = """
.badge{display:inline-block;padding:1px 7px;margin:1px 2px;border-radius:9px;font-size:12px;color:#fff}
.badge-label{background:#2f7ed8} .badge-flag{background:#1a7f37} .badge-warning{background:#b42318}
form.filters{display:flex;gap:12px;flex-wrap:wrap;align-items:end;margin-bottom:12px}
form.filters label{display:flex;flex-direction:column;font-size:12px;gap:2px}
.results{display:flex;flex-direction:column;gap:12px;margin-bottom:16px}
.result{background:#fff;border:1px solid #e3e8ef;border-left:5px solid #2f7ed8;border-radius:6px;padding:8px 14px}
.result-flag{border-left-color:#1a7f37} .result-warning{border-left-color:#b42318}
.result h4{margin:4px 0} .result small{color:#66768a;font-weight:400} .sentence{font-size:15px}
table.evidence{width:auto;min-width:360px} .pager{margin:10px 0;display:flex;gap:16px}
.shortcuts{font-size:13px;align-self:center} .exports{font-size:13px;margin:4px 0 10px}
.muted{color:#66768a}
"""


def num(value: Any, fmt: str = ".1f") -> str:
    """A figure, or a dash where there is none."""
    return "–" if value is None else format(value, fmt)


def home_href(gateway_id: str) -> str:
    """The link to a home's page (quoted: a gateway id is data, not markup or a path)."""
    return escape(f"/homes/{quote(gateway_id, safe='')}")


def data_table(attrs: str, heads: str, rows: str) -> str:
    """A table; ``heads`` are ``|``-separated, a leading ``>`` marks a numeric (right-aligned) column."""
    cells = "".join(
        f'<th class="num">{h[1:]}</th>' if h[:1] == ">" else f"<th>{h}</th>" for h in heads.split("|")
    )
    return f"<table {attrs}><thead><tr>{cells}</tr></thead><tbody>{rows}</tbody></table>"


def badges(kind: str, names: list[str]) -> str:
    """One coloured badge per rule name, of ``kind`` (label, flag or warning)."""
    return "".join(f'<span class="badge badge-{kind}" title="{kind}">{escape(n)}</span>' for n in names)


def score_colour(value: float | None) -> str:
    """A score's colour: green from 70, amber from 50, red below, grey without one."""
    return (
        "#99a5b3" if value is None else "#1a7f37" if value >= 70 else "#e8a33d" if value >= 50 else "#b42318"
    )

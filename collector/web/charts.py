"""Small server-side SVG charts: no JavaScript, nothing to download."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape


def _fmt(value: float, unit: str) -> str:
    # short labels: the axis has room for about seven characters
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor and unit in ("bps", "B"):
            return f"{value / factor:.3g}{prefix}{unit[0]}"
    if abs(value) >= 1000 and unit != "%":  # "1.1k gw", not "1.1e+03 gw"
        return f"{value / 1000:.3g}k{unit}"
    return f"{value:.0f}{unit}" if unit == "%" else f"{value:.3g}{unit}"


def _when(ts: int, span: int) -> str:
    # the time axis: dates over spans of days, times within a day or two (UTC, as stored)
    fmt = "%d %b %H:%M" if span < 2 * 86400 else "%d %b %Y" if span > 300 * 86400 else "%d %b"
    return datetime.fromtimestamp(ts, UTC).strftime(fmt)


def line_chart(
    title: str,
    points: list[tuple[int, float | None]],
    unit: str = "",
    *,
    width: int = 420,
    height: int = 140,
    fixed_max: float | None = None,
    x_range: tuple[int, int] | None = None,
) -> str:
    """An SVG line chart of (epoch seconds, value) points; gaps where value is None.

    ``x_range`` (epoch seconds, start and end) fixes the time axis to a picked date range, so the
    axis shows the range asked for, not only the span the points happen to cover."""
    pad_l, pad_r, pad_t, pad_b = 52, 8, 22, 20
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    values = [v for _, v in points if v is not None]
    head = (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="{pad_l}" y="14" class="chart-title">{escape(title)}</text>'
    )
    if not values:
        empty = "no data yet" if x_range is None else "no data in this range"
        return head + f'<text x="{pad_l}" y="{pad_t + inner_h / 2}" class="chart-empty">{empty}</text></svg>'

    xs = [x for x, _ in points]
    x0, x1 = x_range if x_range is not None else (min(xs), max(xs))
    top = fixed_max if fixed_max is not None else (max(values) * 1.1 or 1.0)

    def sx(x: int) -> float:
        return pad_l + (inner_w * (x - x0) / (x1 - x0) if x1 > x0 else inner_w / 2)

    def sy(v: float) -> float:
        return pad_t + inner_h - inner_h * min(v, top) / top

    segments: list[list[str]] = [[]]
    for x, v in points:
        if v is None:
            segments.append([])
        else:
            segments[-1].append(f"{sx(x):.1f},{sy(v):.1f}")
    lines = "".join(
        f'<polyline fill="none" class="chart-line" points="{" ".join(seg)}"/>' for seg in segments if seg
    )
    # every point (up to 100) is a dot with its date and value on hover; the last one always shows
    step = max(1, len(points) // 100)
    shown = {*range(0, len(points), step), len(points) - 1}
    dots = "".join(
        f'<circle cx="{sx(x):.1f}" cy="{sy(v):.1f}" r="{2 if i == len(points) - 1 else 1.2}" class="chart-dot">'
        f"<title>{escape(_when(x, x1 - x0))}: {escape(_fmt(v, unit))}</title></circle>"
        for i, (x, v) in enumerate(points)
        if v is not None and i in shown
    )
    ticks = "".join(
        f'<text x="{sx(x):.1f}" y="{height - 5}" text-anchor="{anchor}" class="chart-label">{escape(_when(x, x1 - x0))}</text>'
        for x, anchor in ((x0, "start"), ((x0 + x1) // 2, "middle"), (x1, "end"))
        if x1 > x0 or anchor == "middle"
    )
    axis = (
        f'<line x1="{pad_l}" y1="{pad_t + inner_h}" x2="{width - pad_r}" y2="{pad_t + inner_h}" class="chart-axis"/>'
        f'<text x="{pad_l - 4}" y="{pad_t + 4}" text-anchor="end" class="chart-label">{escape(_fmt(top, unit))}</text>'
        f'<text x="{pad_l - 4}" y="{pad_t + inner_h}" text-anchor="end" class="chart-label">0</text>'
    )
    return head + axis + ticks + lines + dots + "</svg>"


def _bar_value(value: float, unit: str) -> str:
    # counts stay whole numbers ("1234", not "1.23e+03"); other values as the line charts print them
    if float(value).is_integer() and abs(value) < 1e6 and unit not in ("bps", "B"):
        return f"{int(value)}{unit}"
    return _fmt(value, unit)


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of :func:`bar_chart`: its label, value, colour, an optional link and value text."""

    label: str
    value: float | None
    colour: str = "#2f7ed8"
    href: str | None = None
    note: str | None = None  # shown after the bar instead of the value (e.g. "0.96 x 0.45")


def bar_chart(
    title: str,
    bars: list[Bar],
    unit: str = "",
    *,
    width: int = 420,
    fixed_max: float | None = None,
    marker: tuple[float, str] | None = None,
    label_w: int = 130,
) -> str:
    """A horizontal SVG bar chart, one row per bar (``None`` draws no bar and shows a dash).

    ``marker`` draws a dashed line at a value with its caption (e.g. a rule's threshold).
    Every bar is a ``rect.chart-bar`` (zero-width when the value is 0) so counting bars
    counts the rows, and a ``<title>`` gives the full label and value on hover.
    """
    row_h, pad_t, pad_b, value_w = 20, 24, 8 if marker is None else 20, 64
    height = pad_t + row_h * max(len(bars), 1) + pad_b
    inner_w = width - label_w - value_w
    head = (
        f'<svg class="chart bars" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="8" y="14" class="chart-title">{escape(title)}</text>'
    )
    values = [b.value for b in bars if b.value is not None]
    if not bars:
        return head + f'<text x="{label_w}" y="{pad_t + 14}" class="chart-empty">no data yet</text></svg>'
    top = fixed_max if fixed_max is not None else (max(values, default=0.0) or 1.0)

    def sx(v: float) -> float:
        return label_w + inner_w * max(0.0, min(v, top)) / top

    out = [
        head,
        f'<line x1="{label_w}" y1="{pad_t - 2}" x2="{label_w}" y2="{height - pad_b}" class="chart-axis"/>',
    ]
    for i, b in enumerate(bars):
        y = pad_t + row_h * i
        shown = b.note if b.note is not None else "–" if b.value is None else _bar_value(b.value, unit)
        label = b.label if len(b.label) <= 20 else b.label[:19] + "…"
        row = (
            f"<g><title>{escape(b.label)}: {escape(shown)}</title>"
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" class="chart-label">{escape(label)}</text>'
            f'<rect class="chart-bar" x="{label_w}" y="{y + 3}" height="{row_h - 6}"'
            f' width="{(sx(b.value) - label_w) if b.value is not None else 0:.1f}" fill="{escape(b.colour)}"/>'
            f'<text x="{sx(b.value or 0.0) + 4:.1f}" y="{y + 13}" class="chart-label">{escape(shown)}</text></g>'
        )
        out.append(f'<a href="{escape(b.href)}">{row}</a>' if b.href else row)
    if marker is not None:
        x = sx(marker[0])
        out.append(
            f'<line x1="{x:.1f}" y1="{pad_t - 2}" x2="{x:.1f}" y2="{height - pad_b}" stroke="#b42318"'
            ' stroke-dasharray="4,3"/>'
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" class="chart-label">{escape(marker[1])}</text>'
        )
    out.append("</svg>")
    return "".join(out)

"""Small server-side SVG charts: no JavaScript, nothing to download."""

from __future__ import annotations

from html import escape


def _fmt(value: float, unit: str) -> str:
    # short labels: the axis has room for about seven characters
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor and unit in ("bps", "B"):
            return f"{value / factor:.3g}{prefix}{unit[0]}"
    return f"{value:.0f}{unit}" if unit == "%" else f"{value:.3g}{unit}"


def line_chart(
    title: str,
    points: list[tuple[int, float | None]],
    unit: str = "",
    *,
    width: int = 420,
    height: int = 140,
    fixed_max: float | None = None,
) -> str:
    """An SVG line chart of (epoch seconds, value) points; gaps where value is None."""
    pad_l, pad_r, pad_t, pad_b = 52, 8, 22, 20
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    values = [v for _, v in points if v is not None]
    head = (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="{pad_l}" y="14" class="chart-title">{escape(title)}</text>'
    )
    if not values:
        return (
            head + f'<text x="{pad_l}" y="{pad_t + inner_h / 2}" class="chart-empty">no data yet</text></svg>'
        )
    xs = [x for x, _ in points]
    x0, x1 = min(xs), max(xs)
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
    dots = "".join(
        f'<circle cx="{sx(x):.1f}" cy="{sy(v):.1f}" r="2" class="chart-dot"/>'
        for x, v in points[-1:]
        if v is not None
    )
    axis = (
        f'<line x1="{pad_l}" y1="{pad_t + inner_h}" x2="{width - pad_r}" y2="{pad_t + inner_h}" class="chart-axis"/>'
        f'<text x="{pad_l - 4}" y="{pad_t + 4}" text-anchor="end" class="chart-label">{escape(_fmt(top, unit))}</text>'
        f'<text x="{pad_l - 4}" y="{pad_t + inner_h}" text-anchor="end" class="chart-label">0</text>'
    )
    return head + axis + lines + dots + "</svg>"

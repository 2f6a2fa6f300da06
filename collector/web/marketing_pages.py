"""HTML of the marketing pages (escaped f-strings, like the other pages): the campaign desk,
a campaign (preview, launch, pause, results with a chart of treatment vs control over
time), an audience, a subscriber's offers and the win-back list."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from collector.web.pages import layout

STYLE = """
form.desk label{display:inline-block;margin:4px 10px 4px 0} form.desk textarea{width:100%;max-width:640px}
.pill{display:inline-block;border-radius:9px;padding:1px 8px;font-size:12px;background:#eef2f7}
.chart-t{stroke:#2f7ed8;stroke-width:2} .chart-c{stroke:#b42318;stroke-width:2;stroke-dasharray:4 3}
.error{color:#b42318;font-weight:600}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _date(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M") if ts else "–"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _options(values: list[str], chosen: str | None, blank: bool = True) -> str:
    head = '<option value="">(any)</option>' if blank else ""
    return head + "".join(
        f'<option value="{_e(v)}"{" selected" if v == chosen else ""}>{_e(v)}</option>' for v in values
    )


def desk_page(
    query: dict[str, str], names: dict[str, list[str]], offers: list[tuple[str, str]], default_offer: str,
    audiences: list[dict[str, Any]], campaigns: list[dict[str, Any]], user: str, csrf: str, error: str = "",
) -> str:  # fmt: skip
    """The campaign desk: target homes by rule and area, and the lists of audiences and campaigns."""
    pick = "".join(
        f'<label>{k.capitalize()} <select name="{k}">{_options(names[k], query.get(k))}</select></label>'
        for k in ("flag", "label", "warning")
    )
    form = (
        f'<form class="desk" method="post" action="/marketing/campaigns">{csrf}<h3>New campaign</h3>{pick}'
        f'<label>Area or community <input name="area" value="{_e(query.get("area"))}"></label><br>'
        f'<label>Name <input name="name" required value="{_e(query.get("name") or "")}"></label>'
        f'<label>Offer <select name="offer_id">{_options([o for o, _ in offers], default_offer, False)}</select></label>'
        '<label>Channel <select name="channel">'
        + _options(["sms", "call", "push", "work_order"], "sms", False)
        + '</select></label><label>Control group <input name="control_share" value="0.1" size="4"></label><br>'
        '<label>Message <textarea name="template" rows="2">Hello {name}, {offer} for {price} a month: '
        "we measured {evidence}.</textarea></label><br>"
        '<button id="create" type="submit">Create audience and draft campaign</button></form>'
    )
    err = f'<p class="error" id="error">{_e(error)}</p>' if error else ""
    arows = "".join(
        f'<tr><td><a href="/marketing/audiences/{a["id"]}">{_e(a["name"])}</a></td><td class="num">{a["size"]}</td>'
        f"<td>{_date(a['created_at'])}</td></tr>"
        for a in audiences[:20]
    )
    crows = "".join(
        f'<tr><td><a href="/marketing/campaigns/{c["id"]}">{_e(c["name"])}</a></td><td>{_e(c["offer_id"])}</td>'
        f'<td>{_e(c["channel"])}</td><td><span class="pill">{_e(c["state"])}</span></td>'
        f"<td>{_date(c['launched_at'])}</td></tr>"
        for c in campaigns[:50]
    )
    body = (
        f'<h2>Marketing</h2><p><a href="/marketing/winback">Win-back list</a></p>{err}{form}'
        f"<h3>Campaigns</h3><table id=campaigns><tr><th>Name</th><th>Offer</th><th>Channel</th><th>State</th>"
        f"<th>Launched</th></tr>{crows}</table>"
        f"<h3>Audiences</h3><table><tr><th>Name</th><th>Members</th><th>Frozen</th></tr>{arows}</table>"
    )
    return layout("Marketing", body, user, STYLE)


def arms_chart(series: list[dict[str, Any]], width: int = 520, height: int = 200) -> str:
    """Cumulative conversion of treatment (solid) and control (dashed) by day, with a date axis."""
    pad_l, pad_r, pad_t, pad_b = 48, 10, 24, 34
    iw, ih = width - pad_l - pad_r, height - pad_t - pad_b
    head = (f'<svg id="arms-chart" class="chart" role="img" aria-label="Conversion, treatment vs control"'
            f' viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
            f'<text x="{pad_l}" y="15" class="chart-title">Conversion: treatment (solid) vs control (dashed)</text>')  # fmt: skip
    values = [p[a] for p in series for a in ("treatment", "control") if p.get(a) is not None]
    if not series or not values:
        return (
            head + f'<text x="{pad_l}" y="{pad_t + ih / 2}" class="chart-empty">no results yet</text></svg>'
        )
    top = max(values) * 1.15 or 0.01
    t0, t1 = series[0]["t"], series[-1]["t"]

    def sx(t: float) -> float:
        return pad_l + (iw * (t - t0) / (t1 - t0) if t1 > t0 else iw / 2)

    def sy(v: float) -> float:
        return pad_t + ih - ih * v / top

    lines = ""
    for arm, cls in (("treatment", "chart-t"), ("control", "chart-c")):
        pts = " ".join(f"{sx(p['t']):.1f},{sy(p[arm]):.1f}" for p in series if p.get(arm) is not None)
        lines += f'<polyline fill="none" class="{cls}" points="{pts}"/>'
    ticks = series if len(series) <= 6 else series[:: max(1, len(series) // 5)]
    fmt = "%m-%d %H:%M" if t1 - t0 < 3 * 86400 else "%m-%d"
    axis = (f'<line x1="{pad_l}" y1="{pad_t + ih}" x2="{width - pad_r}" y2="{pad_t + ih}" class="chart-axis"/>'
            f'<text x="{pad_l - 4}" y="{pad_t + 4}" text-anchor="end" class="chart-label">{top * 100:.1f}%</text>'
            f'<text x="{pad_l - 4}" y="{pad_t + ih}" text-anchor="end" class="chart-label">0%</text>')  # fmt: skip
    axis += "".join(
        f'<text x="{sx(p["t"]):.1f}" y="{height - 12}" text-anchor="{anchor}" class="chart-label axis-time">'
        f"{datetime.fromtimestamp(p['t'], UTC).strftime(fmt)}</text>"
        for p, anchor in zip(ticks, ["start"] + ["middle"] * (len(ticks) - 2) + ["end"], strict=False)
    )
    return head + axis + lines + "</svg>"


def campaign_page(shown: dict[str, Any], results: dict[str, Any] | None, user: str, csrf: str) -> str:
    """A campaign: its settings and preview; Launch or Pause; results once launched."""
    c = shown["campaign"]
    cid = c["id"]
    action = ""
    if c["state"] == "draft":
        action = f'<form method="post" action="/marketing/campaigns/{cid}/launch">{csrf}<button id="launch">Launch</button></form>'
    elif c["state"] == "launched":
        action = f'<form method="post" action="/marketing/campaigns/{cid}/pause">{csrf}<button id="pause">Pause</button></form>'
    elif c["state"] == "paused":
        action = f'<form method="post" action="/marketing/campaigns/{cid}/resume">{csrf}<button id="resume">Resume</button></form>'
    msgs = "".join(f"<li>{_e(m)}</li>" for m in shown["messages"])
    body = (
        f'<h2>Campaign: {_e(c["name"])} <span class="pill" id="state">{_e(c["state"])}</span></h2>'
        f'<div class="cards"><div class="card">Offer<b>{_e(c["offer_id"])}</b></div>'
        f'<div class="card">Channel<b>{_e(c["channel"])}</b></div>'
        f'<div class="card">Audience<b>{shown["audience"]}</b></div>'
        f'<div class="card">Treatment<b id="treatment">{shown["treatment"]}</b></div>'
        f'<div class="card">Control<b id="control">{shown["control"]}</b></div></div>'
        f'{action}<h3>Messages as they will read</h3><ul id="preview">{msgs}</ul>'
        f'<p><a href="/marketing/audiences/{c["audience_id"]}">Audience</a> · '
        f'<a href="/api/v1/audiences/{c["audience_id"]}/export.csv?offer={_e(c["offer_id"])}">Export CSV</a></p>'
    )
    if results is not None:
        u = results["uplift"]
        ci = u["ci95"]
        ci_text = "–" if ci is None else f"{ci[0] * 100:+.1f} to {ci[1] * 100:+.1f} points"
        uplift_text = "–" if u["uplift"] is None else f"{u['uplift'] * 100:+.1f} points"
        body += (
            '<h3 id="results">Results</h3><div class="cards">'
            f'<div class="card">Contacted<b>{results["contacted"]}</b></div>'
            f'<div class="card">Converted (treatment)<b>{results["converted"]["treatment"]}</b>{_pct(u["treatment_rate"])}</div>'
            f'<div class="card">Converted (control)<b>{results["converted"]["control"]}</b>{_pct(u["control_rate"])}</div>'
            f'<div class="card">Uplift<b id="uplift">{uplift_text}</b>95% CI {ci_text} ({_e(u["method"])})</div>'
            f'<div class="card">Verified by the network<b>{results["verified_conversions"]}</b>{_e(results["verify"])}</div>'
            f'<div class="card">Opt-outs<b>{results["opt_outs"]["treatment"]}</b>control {results["opt_outs"]["control"]}</div>'
            f'<div class="card">Control contacted<b>{results["control_contacted"]}</b></div></div>'
            f'<div class="charts">{arms_chart(results["series"])}</div>'
            f"<p>Flags cleared since launch: offer taken {results['flags_cleared']['offer taken']},"
            f" usage fell {results['flags_cleared']['usage fell']}.</p>"
        )  # fmt: skip
        proof = "".join(f"<tr><td>{_e(v['subscriber_id'])}</td><td>{_e(v['evidence'])}</td></tr>"
                        for v in results["verified"][:200])  # fmt: skip
        if proof:
            body += ('<h3>Verified by the network</h3><table id="verified"><thead><tr><th>Subscriber</th>'
                     f"<th>What the gateway shows since the order</th></tr></thead><tbody>{proof}</tbody></table>")  # fmt: skip
    return layout(f"Campaign {c['name']}", body, user, STYLE)


def audience_page(header: dict[str, Any], members: list[dict[str, Any]], contacts: bool, user: str) -> str:
    """An audience's members with their evidence (contact fields for roles that may see them)."""
    extra = "<th>Name</th><th>Phone</th>" if contacts else ""
    rows = "".join(
        f'<tr><td><a href="/marketing/subscribers/{_e(m["subscriber_id"])}">{_e(m["subscriber_id"])}</a></td>'
        + (f"<td>{_e(m.get('name'))}</td><td>{_e(m.get('phone'))}</td>" if contacts else "")
        + f"<td>{_e(m['area'])}</td><td>{_e(m['evidence'])}</td></tr>"
        for m in members
    )
    body = (
        f"<h2>Audience: {_e(header['name'])}</h2><p>{header['size']} members, frozen {_date(header['created_at'])}."
        f' <a href="/api/v1/audiences/{header["id"]}/export.csv">Export CSV</a></p>'
        f"<table><tr><th>Subscriber</th>{extra}<th>Area</th><th>Evidence</th></tr>{rows}</table>"
    )
    return layout("Audience", body, user, STYLE)


def offers_page(found: dict[str, Any], user: str) -> str:
    """A subscriber's next-best offers with talk tracks (the call-centre screen)."""
    items = "".join(
        f'<li><b>{_e(o["name"])}</b> ({o["price"]:g}/month) <span class="pill">{_e(", ".join(o["because"]))}</span>'
        f"<p>{_e(o['talk'])}</p></li>"
        for o in found["offers"]
    )
    taken = ", ".join(found["taken"]) or "none"
    body = (f"<h2>Offers for {_e(found['subscriber_id'])}</h2><p>Gateway {_e(found['gateway_id'])}, area"
            f" {_e(found['area'])}; already taken: {_e(taken)}.</p><ol id=offers>{items}</ol>")  # fmt: skip
    cleared = "".join(f"<li>{_e(c['rule'])} cleared {_date(c['at'])}: <b>{_e(c['reason'])}</b>"
                      f"{' (' + _e(c['offer']) + ')' if c['offer'] else ''}</li>" for c in found.get("cleared", []))  # fmt: skip
    if cleared:
        body += f"<h3>Flags that cleared</h3><ul id=cleared>{cleared}</ul>"
    return layout("Offers", body, user, STYLE)


def winback_page(found: dict[str, Any], user: str) -> str:
    """Left or silent subscribers by area, with their last profile and the likely reason."""
    parts = []
    for group in found["areas"]:
        rows = "".join(
            f'<tr><td><a href="/marketing/subscribers/{_e(s["subscriber_id"])}">{_e(s["subscriber_id"])}</a></td>'
            f"<td>{_e(s['status'])}</td><td>{_e(s['likely_reason'])}</td><td class=num>{_e(s['wifi_score'])}</td>"
            f"<td class=num>{_e(s['plan_down_mbps'])}</td><td class=num>{_e(s['devices'])}</td></tr>"
            for s in group["subscribers"]
        )
        parts.append(f"<h3>{_e(group['area'])} ({len(group['subscribers'])})</h3><table><tr><th>Subscriber</th>"
                     f"<th>Status</th><th>Likely reason</th><th>Wi-Fi</th><th>Plan</th><th>Devices</th></tr>{rows}</table>")  # fmt: skip
    body = f"<h2>Win-back</h2><p>{found['total']} subscribers left or went silent.</p>" + "".join(parts)
    return layout("Win-back", body, user, STYLE)

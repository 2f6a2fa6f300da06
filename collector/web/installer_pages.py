"""The installer's pages: phone first (360-414 px, no sideways scrolling, 44 px touch targets).

Server-rendered and escaped like the other pages; the only script is
``/static/installer.js`` (measure now), loaded from a file, never inline.
"""

from __future__ import annotations

import time
from html import escape
from typing import Any

from collector.installer.records import CommandRecord, InstallRecord
from collector.installer.snapshot import Snapshot, TerminalLink
from collector.web.topology import topology_svg

STYLE = """
*{box-sizing:border-box} body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f5f7fa;
font-size:16px;line-height:1.4;overflow-wrap:anywhere}
header{background:#15324d;color:#fff;padding:8px 12px;display:flex;flex-wrap:wrap;gap:8px;align-items:center}
header a,header button{color:#fff;text-decoration:none;min-height:44px;display:inline-flex;align-items:center;
padding:0 10px;background:none;border:1px solid #4b6a88;border-radius:6px;font-size:15px}
header .brand{font-weight:700;border:0;padding-left:0}
main{padding:12px;max-width:760px;margin:0 auto}
form.search{display:flex;gap:8px} form.search input{flex:1;min-width:0;min-height:44px;font-size:16px;padding:0 10px}
button.big,form.search button,form.install button{min-height:44px;min-width:44px;padding:0 16px;font-size:16px;
border-radius:6px;border:0;background:#2f7ed8;color:#fff}
button.big{width:100%;margin:8px 0}
ul.hits{list-style:none;padding:0;margin:12px 0} ul.hits a{display:block;min-height:44px;padding:10px 12px;
background:#fff;border:1px solid #e3e8ef;border-radius:6px;margin-bottom:8px;color:#1d2733;text-decoration:none}
.card{background:#fff;border:1px solid #e3e8ef;border-radius:8px;padding:12px;margin:0 0 12px}
.card h2{font-size:17px;margin:0 0 8px} .muted{color:#66768a;font-size:14px}
.score{font-size:40px;font-weight:700} .good{color:#1a7f37} .fair{color:#a15c00} .poor{color:#b42318}
.unknown{color:#66768a} .status-online{color:#1a7f37} .status-offline{color:#b42318}
.terms{display:grid;grid-template-columns:1fr;gap:8px}
.term{border:1px solid #e3e8ef;border-left:6px solid #99a5b3;border-radius:6px;padding:8px}
.term.good{border-left-color:#1a7f37} .term.fair{border-left-color:#e8a33d} .term.poor{border-left-color:#b42318}
.term b{color:#1d2733} .term dl{display:flex;flex-wrap:wrap;gap:4px 14px;margin:4px 0 0}
.term dt{font-size:12px;color:#66768a} .term dd{margin:0;font-variant-numeric:tabular-nums;color:#1d2733}
.topo svg{width:100%;height:auto;display:block}
form.install label{display:block;margin:8px 0} form.install input[type=text],form.install textarea,
form.install select{width:100%;min-height:44px;font-size:16px;padding:6px}
form.install input[type=checkbox]{width:28px;height:28px;vertical-align:middle}
#measure-result:empty{display:none}
header .who{color:#cfe3ff} header form.signout{margin-left:auto} h1.who{font-size:20px;margin:0}
"""


def layout(title: str, body: str, user: str) -> str:
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)} · homescope</title>"
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<link rel="stylesheet" href="/static/installer.css"></head>'
        '<body><header><a class="brand" href="/installer">homescope · field</a>'
        f'<span class="muted who">{escape(user)}</span>'
        '<form class="signout" method="post" action="/logout"><button>Sign out</button></form>'
        f"</header><main>{body}</main>"
        '<script src="/static/installer.js" defer></script></body></html>'
    )


def search_page(query: str, hits: list[dict[str, Any]], user: str) -> str:
    form = (
        '<form class="search" method="get" action="/installer">'
        f'<input name="q" value="{escape(query)}" placeholder="subscriber, gateway, area" aria-label="Find a home"'
        ' autofocus><button type="submit">Find</button></form>'
    )
    if not query:
        found = '<p class="muted">Find the home you are visiting by subscriber id, gateway id or area.</p>'
    elif not hits:
        found = f'<p class="muted">No home matches “{escape(query)}”.</p>'
    else:
        items = "".join(
            f'<li><a href="/installer/homes/{escape(h["gateway_id"])}"><b>{escape(str(h.get("subscriber_id") or "-"))}</b>'
            f' · {escape(h["gateway_id"])}<br><span class="muted">{escape(str(h.get("area") or ""))}'
            f' {escape(str(h.get("community") or ""))} · <span class="status-{escape(str(h.get("status") or ""))}">'
            f"{escape(str(h.get('status') or 'never connected'))}</span></span></a></li>"
            for h in hits
        )
        found = f'<ul class="hits">{items}</ul>'
    return layout("Find a home", f"<h1>Find a home</h1>{form}{found}", user)


def _num(value: Any, unit: str, fmt: str = ".0f") -> str:
    return "–" if value is None else f"{value:{fmt}} {unit}".strip()


def _terminal(t: TerminalLink) -> str:
    return (
        f'<div class="term {t.grade}"><b>{escape(t.name)}</b> <span class="{t.grade}">{t.grade}</span>'
        f'<div class="muted">{escape(t.band)} · {escape(t.ap)}</div><dl>'
        f"<div><dt>signal</dt><dd>{_num(t.signal_dbm, 'dBm')}</dd></div>"
        f"<div><dt>PHY rate</dt><dd>{_num(t.phy_mbps, 'Mbit/s')}</dd></div>"
        f"<div><dt>retries</dt><dd>{_num(t.retries_pct, '%', '.1f')}</dd></div>"
        f"<div><dt>reachable</dt><dd>{_num(t.reachable_mbps, 'Mbit/s')}</dd></div>"
        f"<div><dt>delay</dt><dd>{_num(t.delay_ms, 'ms', '.1f')}</dd></div></dl></div>"
    )


def _grade_of(score: float | None) -> str:
    if score is None:
        return "unknown"
    return "good" if score >= 70 else "fair" if score >= 40 else "poor"


def snapshot_html(snap: Snapshot, source: str, baseline: InstallRecord | None) -> str:
    """The measurement block (also what "measure now" puts on the page when the answer comes)."""
    parts = ", ".join(f"{escape(k.replace('_', ' '))} {v:.0f}" for k, v in snap.parts.items())
    compare = ""
    if baseline is not None and baseline.wifi_score is not None and snap.wifi_score is not None:
        delta = snap.wifi_score - baseline.wifi_score
        when = time.strftime("%Y-%m-%d", time.gmtime(baseline.recorded_at))
        compare = (
            f'<p class="compare">Wi-Fi score {baseline.wifi_score:.0f} at install ({when}),'
            f" {snap.wifi_score:.0f} now ({delta:+.0f})</p>"
        )
    findings = "".join(f"<li>{escape(f)}</li>" for f in snap.findings)
    advice = "".join(f'<li data-action="{escape(a.action)}">{escape(a.text)}</li>' for a in snap.advice)
    paths = "".join(
        f"<li>{escape(name.replace('_', ' '))}: delay {_num(p.get('delay_ms'), 'ms', '.1f')},"
        f" jitter {_num(p.get('jitter_ms'), 'ms', '.1f')}, loss {_num(p.get('loss_pct'), '%', '.1f')}</li>"
        for name, p in snap.paths.items()
    )
    taken = time.strftime("%H:%M:%S UTC", time.gmtime(snap.measured_at))
    return (
        f'<section class="card" id="snapshot" data-measured-at="{snap.measured_at}">'
        f'<h2>Wi-Fi experience</h2><div class="score {_grade_of(snap.wifi_score)}">{_num(snap.wifi_score, "", ".0f")}'
        f'</div><p class="muted">{escape(source)} at {taken} · {parts}</p>{compare}'
        f"<ul>{findings}</ul>{f'<ul>{paths}</ul>' if paths else ''}</section>"
        f'<section class="card"><h2>Where to place equipment</h2><ul>{advice}</ul></section>'
        f'<section class="card"><h2>Terminals ({len(snap.terminals)})</h2>'
        f'<div class="terms">{"".join(_terminal(t) for t in snap.terminals)}</div></section>'
    )


def home_page(
    gateway_id: str,
    status: dict[str, Any] | None,
    subscriber: dict[str, Any] | None,
    body: dict[str, Any] | None,
    snap: Snapshot | None,
    source: str,
    installs: list[InstallRecord],
    offers: list[dict[str, Any]],
    user: str,
    csrf_field: str = "",
) -> str:
    state = str((status or {}).get("status") or "never connected")
    who = escape(str((subscriber or {}).get("subscriber_id") or "not in the CRM import"))
    where = " ".join(escape(str((subscriber or {}).get(k) or "")) for k in ("area", "community")).strip()
    head = (
        f'<section class="card"><h1 class="who">{who}</h1>'
        f'<div class="muted">{escape(gateway_id)} · {where}</div>'
        f'<div>gateway <b class="status-{escape(state)}">{escape(state)}</b></div>'
        f'<button class="big" id="measure-now" data-gateway="{escape(gateway_id)}">Measure now</button>'
        '<div id="measure-status" class="muted" role="status" aria-live="polite"></div></section>'
    )
    measured = (
        snapshot_html(snap, source, installs[0] if installs else None)
        if snap
        else '<p class="muted">No measurement yet: press “Measure now”.</p>'
    )
    topo = (
        f'<section class="card"><h2>Topology</h2><div class="topo">{topology_svg(gateway_id, body)}</div></section>'
        if body
        else ""
    )
    offer_items = "".join(
        f"<li><b>{escape(str(o.get('rule')))}</b>: {escape(str(o.get('sentence') or o.get('evidence') or ''))}</li>"
        for o in offers
    )
    offer_html = (
        f'<section class="card"><h2>Offers for this home</h2><ul>{offer_items}</ul></section>'
        if offers
        else ""
    )
    history = "".join(
        f"<li>{time.strftime('%Y-%m-%d', time.gmtime(i.recorded_at))} by {escape(i.recorded_by)}:"
        f" {'mesh node added, ' if i.mesh_added else ''}{escape(i.placement)} · Wi-Fi score"
        f" {_num(i.wifi_score, '', '.0f')}</li>"
        for i in installs
    )
    install_form = (
        f'<section class="card"><h2>Record this visit</h2>'
        f'<form class="install" method="post" action="/installer/homes/{escape(gateway_id)}/install">{csrf_field}'
        '<label><input type="checkbox" name="mesh_added" value="1"> mesh node or FTTR unit added</label>'
        '<label>Placement<input type="text" name="placement" maxlength="200" placeholder="e.g. hallway, first floor">'
        '</label><label>Notes<textarea name="notes" maxlength="2000" rows="3"></textarea></label>'
        '<input type="hidden" name="command_id" id="install-command" value="">'
        '<button type="submit">Save as the home\'s baseline</button></form>'
        f"{f'<ul>{history}</ul>' if history else ''}</section>"
    )
    body_html = f'{head}<div id="measure-result">{measured}</div>{topo}{offer_html}{install_form}'
    return layout(f"Home {gateway_id}", body_html, user)


def command_json(record: CommandRecord, snap_html: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "command_id": record.command_id,
        "gateway_id": record.gateway_id,
        "state": record.state,
        "requested_at": record.requested_at,
        "expires_at": record.expires_at,
        "answered_at": record.answered_at,
        "error": record.error,
    }
    if snap_html is not None:
        out["html"] = snap_html
    return out

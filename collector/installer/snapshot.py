"""What one fresh measurement of a home says, in an installer's words.

A measurement (the agent's answer to "measure now", or a stored report) is scored with the
same code the home profile uses: it is folded as one window (``rollup.window_contribution``)
and judged by ``quality.network_quality``, so "Wi-Fi score 82 at install, 55 now" compares
like with like. On top of that: each terminal's link graded, findings in plain words, and
placement advice with the figures behind it, including a what-if score for the advice.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from collector.profiles.config import ProfilesConfig
from collector.profiles.quality import network_quality
from collector.profiles.rollup import window_contribution
from collector.profiles.window import phy_part, retry_part, signal_part

#: A link part below this is poor, below GOOD fair (0..100, the profile's part scale).
POOR, GOOD = 40.0, 70.0
#: Signal a well-placed mesh node typically gives the terminals it takes over (dBm): the
#: what-if score of the placement advice assumes it.
MESH_SIGNAL_DBM = -60
#: Channel busy time above which the radio is congested (%), interference above which a
#: channel change is suggested (%).
BUSY_PCT, INTERFERENCE_PCT = 70.0, 25.0


@dataclass(frozen=True)
class TerminalLink:
    """One terminal as the installer sees it."""

    name: str
    ap: str
    band: str
    signal_dbm: int | None
    phy_mbps: float | None
    retries_pct: float | None
    reachable_mbps: float | None
    delay_ms: float | None
    grade: str  # good, fair, poor, unknown


@dataclass(frozen=True)
class Advice:
    """One recommendation and the figures that justify it."""

    action: str  # add_mesh, move_mesh, change_channel, use_5ghz, none
    text: str
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    measured_at: int
    wifi_score: float | None
    parts: dict[str, float]
    terminals: list[TerminalLink]
    findings: list[str]
    advice: list[Advice]
    paths: dict[str, dict[str, float]]  # internet / wan_gateway: delay, jitter, loss
    mesh_nodes: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "measured_at": self.measured_at,
            "wifi_score": self.wifi_score,
            "parts": self.parts,
            "terminals": [t.__dict__ for t in self.terminals],
            "findings": self.findings,
            "advice": [a.__dict__ for a in self.advice],
            "paths": self.paths,
            "mesh_nodes": self.mesh_nodes,
        }


def _grade(s: dict[str, Any]) -> str:
    signal, rate, band = s.get("signal_dbm"), s.get("tx_rate_kbps"), s.get("medium") or ""
    if s.get("medium") == "wired":
        return "good"
    if signal is None:
        return "unknown"
    parts = [signal_part(signal)]
    if rate is not None:
        parts.append(phy_part(rate, band))
    if s.get("packets_sent") and s.get("retransmissions") is not None:
        parts.append(retry_part(int(s["retransmissions"]), int(s["packets_sent"])))
    worst = min(parts)
    return "poor" if worst < POOR else "fair" if worst < GOOD else "good"


def _name(s: dict[str, Any], n: int) -> str:
    return str(s.get("hostname") or s.get("vendor") or f"terminal {n}")


def _link(s: dict[str, Any], n: int) -> TerminalLink:
    packets, retries = s.get("packets_sent"), s.get("retransmissions")
    rate, reach = s.get("tx_rate_kbps"), s.get("reachable_kbps")
    return TerminalLink(
        name=_name(s, n),
        ap=str(s.get("ap") or "gateway"),
        band=str(s.get("medium") or "unknown"),
        signal_dbm=s.get("signal_dbm"),
        phy_mbps=round(rate / 1000, 1) if rate is not None else None,
        retries_pct=round(100 * retries / packets, 1) if packets and retries is not None else None,
        reachable_mbps=round(reach / 1000, 1) if reach is not None else None,
        delay_ms=s.get("delay_ms"),
        grade=_grade(s),
    )


def _score(body: dict[str, Any], at: int, config: ProfilesConfig) -> tuple[float | None, Any]:
    quality = network_quality(window_contribution(body, at - 900, at), config)
    return quality.wifi_score, quality


def _where(ap: str) -> str:
    return "the gateway" if ap == "gateway" else f"mesh node {ap}"


def snapshot(body: dict[str, Any], at: int, config: ProfilesConfig) -> Snapshot:
    """Score and explain one measured report body taken at ``at`` (epoch seconds)."""
    score, quality = _score(body, at, config)
    stations = [s for s in body.get("stations") or [] if s.get("medium") != "mesh"]
    terminals = [_link(s, n) for n, s in enumerate(stations, 1)]
    weak_dbm = quality.weak_signal_dbm
    findings: list[str] = []
    weak: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for s in stations:
        signal = s.get("signal_dbm")
        if signal is not None and s.get("medium") != "wired" and signal <= weak_dbm:
            weak[(str(s.get("ap") or "gateway"), str(s.get("medium")))].append(s)
    for (ap, band), group in sorted(weak.items()):
        worst = min(int(s["signal_dbm"]) for s in group)
        noun = "device" if len(group) == 1 else "devices"
        names = ", ".join(_name(s, 0) for s in group[:3])
        findings.append(
            f"{len(group)} {noun} on {band} at {_where(ap)} below {weak_dbm} dBm (weakest {worst} dBm: {names})"
        )
    for r in body.get("radios") or []:
        band, busy, noise = r.get("band"), r.get("utilization_pct"), r.get("interference_pct")
        if busy is not None and busy >= BUSY_PCT:
            findings.append(f"the {band} channel is busy {busy:.0f}% of the time")
        if noise is not None and noise >= INTERFERENCE_PCT:
            findings.append(f"{noise:.0f}% of {band} airtime is lost to neighbours and noise")
    retrying = [t for t in terminals if t.retries_pct is not None and t.retries_pct >= 15]
    if retrying:
        findings.append(
            f"{len(retrying)} device(s) resend {max(t.retries_pct or 0 for t in retrying):.0f}% of frames or more"
        )
    paths = {
        name: path
        for name, path in (("internet", quality.internet), ("wan_gateway", quality.wan_gateway))
        if path
    }
    internet = paths.get("internet")
    if internet and (internet.get("delay_ms", 0) >= 60 or internet.get("loss_pct", 0) >= 2):
        findings.append(
            f"internet delay {internet.get('delay_ms', 0):.0f} ms, jitter {internet.get('jitter_ms', 0):.0f} ms,"
            f" loss {internet.get('loss_pct', 0):.1f}%"
        )
    if not findings:
        findings.append("every measured link is healthy")
    mesh = body.get("topology") or []
    return Snapshot(
        measured_at=at,
        wifi_score=score,
        parts=quality.parts,
        terminals=terminals,
        findings=findings,
        advice=_advice(body, at, config, score, weak, mesh),
        paths=paths,
        mesh_nodes=len(mesh),
    )


def _advice(
    body: dict[str, Any],
    at: int,
    config: ProfilesConfig,
    score: float | None,
    weak: dict[tuple[str, str], list[dict[str, Any]]],
    mesh: list[dict[str, Any]],
) -> list[Advice]:
    out: list[Advice] = []
    weak_count = sum(len(g) for g in weak.values())
    if weak_count:
        # what-if: the weak terminals at a mesh node's typical signal, everything else equal
        better = copy.deepcopy(body)
        weak_macs = {s.get("mac") for g in weak.values() for s in g}
        for s in better.get("stations") or []:
            if s.get("mac") in weak_macs:
                s["signal_dbm"] = max(int(s["signal_dbm"]), MESH_SIGNAL_DBM)
        after, _ = _score(better, at, config)
        figures = {"weak_terminals": weak_count, "score_now": score, "score_with_node": after}
        weak_backhaul = [m for m in mesh if m.get("medium") == "wifi" and (m.get("signal_dbm") or 0) <= -70]
        on_mesh = sum(len(g) for (ap, _), g in weak.items() if ap != "gateway")
        if weak_backhaul and on_mesh:
            node = weak_backhaul[0]
            out.append(
                Advice(
                    "move_mesh",
                    f"mesh node {node.get('node')} hears the gateway at {node.get('signal_dbm')} dBm: move it"
                    " one room closer to the gateway, or wire its backhaul (Ethernet, fibre or powerline)",
                    {**figures, "backhaul_dbm": node.get("signal_dbm")},
                )
            )
        else:
            where = "; ".join(f"{len(g)} on {band} at {_where(ap)}" for (ap, band), g in sorted(weak.items()))
            out.append(
                Advice(
                    "add_mesh",
                    f"{weak_count} terminal(s) have weak coverage ({where}): a mesh node, or an FTTR room unit"
                    " where fibre reaches the room, between the gateway and them would lift the Wi-Fi score"
                    f" from {score} to about {after}",
                    figures,
                )
            )
        on_24 = [s for (_, band), g in weak.items() if band == "2.4GHz" for s in g]
        has_5 = any(r.get("band") == "5GHz" for r in body.get("radios") or [])
        if on_24 and has_5 and len(on_24) == weak_count:
            out.append(
                Advice(
                    "use_5ghz",
                    "the weak terminals are all on 2.4 GHz: after adding the node, steer capable ones to 5 GHz",
                    {"weak_on_2_4ghz": len(on_24)},
                )
            )
    for r in body.get("radios") or []:
        noise = r.get("interference_pct")
        if noise is not None and noise >= INTERFERENCE_PCT:
            out.append(
                Advice(
                    "change_channel",
                    f"{noise:.0f}% of {r.get('band')} airtime on channel {r.get('channel')} is lost to"
                    " neighbours: pick a quieter channel",
                    {"band": r.get("band"), "channel": r.get("channel"), "interference_pct": noise},
                )
            )
    if not out:
        out.append(Advice("none", "coverage is good everywhere measured: no extra access point needed", {}))
    return out

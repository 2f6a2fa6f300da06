"""One virtual home: a gateway whose report bodies follow its household's day.

Deterministic for a given seed, so tests and benchmarks are repeatable. The report body
has the real agent's full shape (``protocol.shapes.ReportBody``): system, interfaces,
wan, radios, stations, quality, neighbours (every fourth window, as the agent scans),
apps per station and category, and topology for mesh homes. Station joins and leaves
become events (:meth:`VirtualHome.take_events`).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Any

from emulator.days import DAY_S, SLOT_S, DayPlan, plan_day
from emulator.household import Device, HomeSpec, draw_home
from emulator.unnamed import UnnamedTraffic

_PHY_MAX = {"2.4GHz": 144_400, "5GHz": 866_700}
_SAMPLERS = ("system", "interfaces", "wan", "radios", "stations", "quality", "neighbours", "apps", "topology")
BACKGROUND = {"camera": ("cloud", 25), "iot": ("other", 2), "speaker": ("other", 4)}  # category, kbps up


def _clamp(v: float) -> float:
    return 0.0 if v < 0 else 1.0 if v > 1 else v


@dataclass
class _Counters:
    """Cumulative per-association station counters (they restart when a terminal rejoins)."""

    bytes_sent: int = 0
    bytes_received: int = 0
    packets_sent: int = 0
    packets_received: int = 0
    retransmissions: int = 0
    failed: int = 0
    airtime_ms: int = 0
    connected_s: int = 0


class VirtualHome:
    """A home's gateway state; ``report_body(window_s, window_end)`` advances it by one window."""

    def __init__(
        self,
        gateway_id: str,
        seed: int,
        spec: HomeSpec | None = None,
        span: tuple[int, int] | None = None,
        unclassified: int = 0,
    ) -> None:
        self.gateway_id = gateway_id
        #: Like an agent's ``dpi_unclassified_domains``: report this many unclassified domains (0: none).
        self.unnamed = UnnamedTraffic(gateway_id, seed, unclassified) if unclassified else None
        self.seed = seed
        self.spec = spec or draw_home(gateway_id, ("ordinary",), seed)
        self.span = span  # (first window start, last window end) of a back-fill, for drift and outages
        self.rng = random.Random(f"windows:{seed}")
        self.uptime_s = self.rng.randint(3600, 30 * 86400)
        self.wan_rx = self.wan_tx = 0
        self.survey: dict[str, list[int]] = {b: [0, 0, 0, 0] for b in _PHY_MAX}
        self.counters: dict[int, _Counters] = {}
        self._plans: dict[int, DayPlan] = {}
        self._events: list[dict[str, Any]] = []
        self._was_powered = True
        self._outage: tuple[int, int, int] | None = None  # (day, from, to)
        if span and self.spec.outage:
            frac, hours = self.spec.outage
            at = span[0] + int(frac * (span[1] - span[0]))
            self._outage = (at // DAY_S, at % DAY_S, min(DAY_S, at % DAY_S + int(hours * 3600)))

    # -- the day -----------------------------------------------------------------------
    def plan(self, day: int) -> DayPlan:
        """The plan of a UTC day (drawn once, kept for the last two days)."""
        found = self._plans.get(day)
        if found is None:
            progress = 0.0
            if self.span:
                progress = _clamp((day * DAY_S - self.span[0]) / max(1, self.span[1] - self.span[0] - DAY_S))
            outage = self._outage[1:] if self._outage and self._outage[0] == day else None
            found = plan_day(self.spec, self.seed, day, progress, outage)
            self._plans = {d: p for d, p in self._plans.items() if d >= day - 1}
            self._plans[day] = found
        return found

    def powered(self, window_start: int) -> bool:
        """Whether the gateway is on (and so reports) in the window starting then."""
        if not self.span:
            return True
        return self.plan(window_start // DAY_S).powered(window_start % DAY_S)

    def take_events(self) -> list[dict[str, Any]]:
        """Station join/leave events since the last call (for an ``event`` record)."""
        events, self._events = self._events, []
        return events

    # -- the report --------------------------------------------------------------------
    def report_body(self, window_s: int, window_end: int | None = None) -> dict[str, Any]:
        """Advance by one window ending at ``window_end`` (default: now) and return its body."""
        end = int(window_end if window_end is not None else time.time())
        start = end - window_s
        plan = self.plan(start // DAY_S)
        if not self._was_powered:
            self._reboot()
        self._was_powered = True
        self.uptime_s += window_s
        sod = start % DAY_S
        # on the wall clock (live demo) everyone stays home; simulated days have comings and goings
        present = [
            d for d in self.spec.devices if not self.span or plan.present(d.index, sod + window_s // 2)
        ]
        self._membership(present, end)
        apps, per_device = self._apps(plan, start, end, present)
        stations = [self._station(d, per_device.get(d.index, (0, 0)), window_s) for d in present]
        down = sum(r["bytes_down"] for r in apps)
        up = sum(r["bytes_up"] for r in apps)
        self.wan_rx += int(down * 1.03)
        self.wan_tx += int(up * 1.05)
        body: dict[str, Any] = {
            "samplers": {name: {"state": "ok"} for name in _SAMPLERS},
            "system": self._system(),
            "interfaces": self._interfaces(stations),
            "wan": {
                "interface": "wan",
                "protocol": "pppoe",
                "connected": True,
                "online_s": window_s,
                "offline_s": 0,
            },
            "radios": self._radios(present, window_s),
            "stations": stations,
            "quality": self._quality(stations),
            "apps": apps,
        }
        if self.unnamed is not None and (named := self.unnamed.rows(apps)):
            body["unclassified"] = named
        if (start // SLOT_S) % 4 == 0:
            body["neighbours"] = self._scan()
        if self.spec.mesh_nodes:
            body["topology"] = [
                {"node": node, "parent": "02:00:00:00:00:01", "medium": "wifi", "signal_dbm": self.rng.randint(-60, -50),
                 "tx_rate_kbps": 866_700, "rx_rate_kbps": 780_000}
                for node in self.spec.mesh_nodes
            ]  # fmt: skip
        return body

    def skip(self, window_s: int) -> None:
        """A window with the gateway off: nothing reported, and it reboots when power returns."""
        self._was_powered = False
        self._membership([], 0, quiet=True)

    def _reboot(self) -> None:
        self.uptime_s = self.rng.randint(40, 120)
        self.wan_rx = self.wan_tx = 0
        self.survey = {b: [0, 0, 0, 0] for b in _PHY_MAX}
        self.counters.clear()

    def _membership(self, present: list[Device], ts: int, quiet: bool = False) -> None:
        now = {d.index for d in present}
        before = set(self.counters)
        for d in self.spec.devices:
            if d.index in now and d.index not in before:
                self.counters[d.index] = _Counters()
                if not quiet:
                    self._events.append(self._event("station_join", d, ts))
            elif d.index in before and d.index not in now:
                del self.counters[d.index]
                if not quiet:
                    self._events.append(self._event("station_leave", d, ts))

    @staticmethod
    def _event(kind: str, d: Device, ts: int) -> dict[str, Any]:
        return {"type": kind, "ts": ts, "mac": d.mac, "interface": _iface(d), "hostname": d.hostname}

    def _apps(
        self, plan: DayPlan, start: int, end: int, present: list[Device]
    ) -> tuple[list[dict[str, Any]], dict[int, tuple[int, int]]]:
        rng = self.rng
        day0 = start - start % DAY_S
        rows: dict[tuple[int, str], dict[str, Any]] = {}
        seen: set[int] = set()
        for slot in range(start % DAY_S // SLOT_S, ((end - 1) % DAY_S) // SLOT_S + 1):
            for s in plan.by_slot[slot]:
                if id(s) in seen:
                    continue
                seen.add(id(s))
                overlap = min(end, day0 + s.end) - max(start, day0 + s.start)
                if overlap <= 0:
                    continue
                row = rows.setdefault(
                    (s.device, s.category), {"secs": 0, "down": 0.0, "up": 0.0, "flows": 0, "apps": []}
                )
                row["secs"] += overlap
                row["down"] += s.down_kbps * 125 * overlap
                row["up"] += s.up_kbps * 125 * overlap
                row["flows"] += rng.randint(2, 12)
                if s.app not in row["apps"]:
                    row["apps"].append(s.app)
        length = end - start
        for d in present:
            kind = BACKGROUND.get(d.kind)
            if kind is not None:
                row = rows.setdefault(
                    (d.index, kind[0]), {"secs": 0, "down": 0.0, "up": 0.0, "flows": 0, "apps": []}
                )
                row["up"] += kind[1] * 125 * length * rng.uniform(0.5, 1.5)
                row["down"] += kind[1] * 12 * length
                row["flows"] += 1
                row["apps"] = row["apps"] or ["Unknown"]
            elif rng.random() < 0.2:  # push notifications and updates checks, nobody at the screen
                row = rows.setdefault(
                    (d.index, "other"), {"secs": 0, "down": 0.0, "up": 0.0, "flows": 0, "apps": ["Unknown"]}
                )
                row["down"] += rng.uniform(20e3, 300e3)
                row["up"] += rng.uniform(5e3, 50e3)
                row["flows"] += rng.randint(1, 5)
        plan_bps = self.spec.plan_mbps * 1e6 / 8 * 0.95
        total = sum(r["down"] for r in rows.values())
        scale = min(1.0, plan_bps * length / total) if total else 1.0  # the line caps what arrives
        by_mac = {d.index: d.mac for d in self.spec.devices}
        out: list[dict[str, Any]] = []
        per_device: dict[int, tuple[int, int]] = {}
        for (dev, cat), r in rows.items():
            down, up = int(r["down"] * scale), int(r["up"])
            minutes = min(math.ceil(r["secs"] / 60), max(1, round(length / 60)))
            out.append({"station": by_mac[dev], "category": cat, "bytes_up": up, "bytes_down": down,
                        "flows": r["flows"], "active_minutes": minutes, "top_apps": r["apps"][:16]})  # fmt: skip
            d_down, d_up = per_device.get(dev, (0, 0))
            per_device[dev] = (d_down + down, d_up + up)
        return out, per_device

    def _station(self, d: Device, traffic: tuple[int, int], window_s: int) -> dict[str, Any]:
        rng = self.rng
        c = self.counters.setdefault(d.index, _Counters())
        down, up = traffic
        c.bytes_received += up  # the AP receives what the station sends
        c.bytes_sent += down
        sent = down // 1200 + rng.randint(5, 50)
        c.packets_sent += sent
        c.packets_received += up // 600 + rng.randint(5, 50)
        c.connected_s += window_s
        row: dict[str, Any] = {
            "mac": d.mac, "hostname": d.hostname, "ip": f"192.168.1.{10 + d.index}", "interface": _iface(d),
            "medium": d.medium, "randomized_mac": False, "vendor": d.vendor,
            "bytes_sent": c.bytes_sent, "bytes_received": c.bytes_received,
            "packets_sent": c.packets_sent, "packets_received": c.packets_received, "connected_s": c.connected_s,
        }  # fmt: skip
        if d.ap:
            row["ap"] = d.ap
        if d.medium in _PHY_MAX:
            signal = max(-95, min(-30, round(d.signal + rng.gauss(0, 2))))
            quality = _clamp((signal + 90) / 40) ** 1.3
            rate = max(6_500, int(_PHY_MAX[d.medium] * quality * rng.uniform(0.85, 1.0)))
            retry = 0.02 + 0.25 * _clamp((-65 - signal) / 25)
            c.retransmissions += int(sent * retry)
            c.failed += int(sent * retry * 0.05)
            c.airtime_ms += int(down * 8 / rate) + rng.randint(10, 200)
            util = self.spec.radios[d.medium][0]
            row.update(
                signal_dbm=signal, noise_dbm=-92, snr_db=signal + 92, tx_rate_kbps=rate,
                rx_rate_kbps=int(rate * rng.uniform(0.6, 0.95)), standard="ax" if d.medium == "5GHz" else "n",
                retransmissions=c.retransmissions, failed=c.failed, airtime_ms=c.airtime_ms,
                inactive_ms=rng.randint(0, 5000),
                reachable_kbps=int(rate * 0.65 * (1 - retry) * (1 - util / 100)),
            )  # fmt: skip
        return row

    def _system(self) -> dict[str, Any]:
        rng = self.rng
        return {
            "cpu_usage_pct": round(rng.uniform(2, 35), 2), "cpu_count": 2, "memory_total_kib": 262_144,
            "memory_free_kib": rng.randint(40_000, 120_000), "memory_available_kib": rng.randint(80_000, 160_000),
            "load1": round(rng.uniform(0, 1.5), 2), "load5": 0.5, "load15": 0.4, "uptime_s": self.uptime_s,
            "board": {"manufacturer": "Emulated", "model": "HS-1000", "release": "OpenWrt 23.05.3"},
        }  # fmt: skip

    def _interfaces(self, stations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lan_rx = sum(s["bytes_received"] for s in stations)
        lan_tx = sum(s["bytes_sent"] for s in stations)
        return [
            {"name": "wan", "role": "wan", "up": True, "speed_mbps": 1000, "bytes_received": self.wan_rx,
             "bytes_sent": self.wan_tx, "packets_received": self.wan_rx // 1200, "packets_sent": self.wan_tx // 600},
            {"name": "br-lan", "role": "lan", "up": True, "bytes_received": lan_rx, "bytes_sent": lan_tx,
             "packets_received": lan_rx // 600, "packets_sent": lan_tx // 1200},
        ]  # fmt: skip

    def _radios(self, present: list[Device], window_s: int) -> list[dict[str, Any]]:
        out = []
        for i, (band, (util, intf)) in enumerate(sorted(self.spec.radios.items())):
            u = min(99.0, max(0.0, util * self.rng.uniform(0.85, 1.15)))
            f = min(u, max(0.0, intf * self.rng.uniform(0.85, 1.15)))
            s = self.survey[band]
            active = window_s * 1000
            s[0] += active
            s[1] += int(active * u / 100)
            s[2] += int(active * (u - f) / 200)
            s[3] += int(active * (u - f) / 200)
            out.append({
                "name": f"radio{i}", "band": band, "channel": 6 if band == "2.4GHz" else 44,
                "width_mhz": 20 if band == "2.4GHz" else 80, "standard": "n" if band == "2.4GHz" else "ax",
                "noise_dbm": -92, "channel_active_ms": s[0], "channel_busy_ms": s[1], "channel_rx_ms": s[2],
                "channel_tx_ms": s[3], "utilization_pct": round(u, 1), "idle_pct": round(100 - u, 1),
                "interference_pct": round(f, 1), "stations": sum(d.medium == band for d in present),
            })  # fmt: skip
        return out

    def _quality(self, stations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rng, spec = self.rng, self.spec
        delay = spec.delay_ms * rng.uniform(0.8, 1.2)
        jitter = spec.jitter_ms * rng.uniform(0.7, 1.3)
        loss = spec.loss_pct * rng.uniform(0.5, 1.5)
        received = max(0, 10 - round(loss / 10))
        rows = [
            {"target": "wan_gateway", "address": "100.64.0.1", "sent": 10, "received": 10, "loss_pct": 0.0,
             "delay_ms": round(rng.uniform(1, 4), 2), "jitter_ms": round(rng.uniform(0.1, 1), 2)},
            {"target": "internet", "address": "1.1.1.1", "sent": 10, "received": received,
             "loss_pct": round(loss, 2), "delay_ms": round(delay, 2), "delay_min_ms": round(delay * 0.8, 2),
             "delay_max_ms": round(delay * 1.5, 2), "jitter_ms": round(jitter, 2)},
        ]  # fmt: skip
        # the agent pings a few active stations and writes the results on their rows
        for s in [s for s in stations if "signal_dbm" in s][:4]:
            weak = _clamp((-65 - s["signal_dbm"]) / 25)
            s["delay_ms"] = round(2 + 30 * weak + rng.uniform(0, 2), 2)
            s["loss_pct"] = round(5 * _clamp((-75 - s["signal_dbm"]) / 15), 2)
        return rows

    def _scan(self) -> list[dict[str, Any]]:
        rng = self.rng
        out = []
        for n in self.spec.neighbours:
            if n.inside and rng.random() < 0.05:
                continue
            row = {"ssid": n.ssid, "bssid": n.bssid, "channel": n.channel, "band": n.band,
                   "signal_dbm": max(-95, min(-20, round(n.signal + rng.gauss(0, 2))))}  # fmt: skip
            if n.operator:
                row["operator"] = n.operator
            out.append(row)
        return out


def _iface(d: Device) -> str:
    return {"2.4GHz": "wlan0", "5GHz": "wlan1"}.get(d.medium, "lan1")

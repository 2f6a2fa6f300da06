"""Station join and leave events between reports, from the association lists.

The runner calls :class:`StationWatch` every minute. Where the system can run a long-lived
command (the real device), the watch subscribes to hostapd's ``assoc``/``disassoc``/``deauth``
notifications (:mod:`agent.subscription`) and reads the lists only after one, for
:data:`LEAVE_AFTER_POLLS` minutes after it, and every :data:`SAFETY_POLL_S` seconds; without
a subscription it reads them every minute. Each read takes who is associated to
every access-point interface (the same sources as the stations sampler, no survey or scan) and
turns the difference with the previous poll into ``station_join``/``station_leave`` events,
shaped like :class:`protocol.shapes.Event`. A station must be missing from
:data:`LEAVE_AFTER_POLLS` polls in a row before it has left, so a quick re-association (roaming
between bands, a power-save hiccup) is not reported as a leave and a join.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.logger import Logger
from agent.parsers.assoc import read_associations
from agent.parsers.device import Tools
from agent.parsers.wireless import WifiIface, discover
from agent.samplers.stations import read_leases
from agent.subscription import Subscription
from agent.system import System, SystemAccessError

log = Logger(__name__)

#: Polls a station must be missing from before a leave is reported.
LEAVE_AFTER_POLLS = 2
#: The interface list is discovered again after this many polls (interfaces come and go rarely).
REDISCOVER_POLLS = 15
#: With a subscription, the lists are still read this often: a notification lost with a
#: restarted hostapd (its subscription ends with it) is caught up within this time.
SAFETY_POLL_S = 300
#: hostapd notifications that may change who is associated.
TRIGGERS = frozenset({"assoc", "disassoc", "deauth"})


def station_event(kind: str, ts: int, mac: str, interface: str, hostname: str | None) -> dict[str, Any]:
    """One ``station_join``/``station_leave`` event."""
    event: dict[str, Any] = {"type": kind, "ts": ts, "mac": mac, "interface": interface}
    if hostname:
        event["hostname"] = hostname
    return event


def diff_stations(
    before: Mapping[str, str], after: Mapping[str, str], ts: int, hostnames: Mapping[str, str | None]
) -> list[dict[str, Any]]:
    """Events turning association map ``before`` (MAC -> interface) into ``after``.

    A station that moved to another interface (2.4 to 5 GHz) leaves the old one and joins the new.
    Leaves come first, then joins, each sorted by MAC, so the output is deterministic.
    """
    leaves = [
        station_event("station_leave", ts, mac, iface, hostnames.get(mac))
        for mac, iface in sorted(before.items())
        if after.get(mac) != iface
    ]
    joins = [
        station_event("station_join", ts, mac, iface, hostnames.get(mac))
        for mac, iface in sorted(after.items())
        if before.get(mac) != iface
    ]
    return leaves + joins


class StationWatch:
    """Keeps the association map last reported and reports what changed at each :meth:`poll`."""

    def __init__(self) -> None:
        self._reported: dict[str, str] | None = None  # None until the first poll (a baseline, no events)
        self._missing: dict[str, int] = {}  # mac -> polls missing so far (still counted as present)
        self._ifaces: list[WifiIface] | None = None
        self._tools: Tools | None = None
        self._polls = 0
        self._failing = False
        self._hostnames: dict[str, str] = {}  # from the leases at join, so a leave still names the station
        self._events: Subscription | None = None
        self._last_read = 0
        self._follow_ups = 0  # polls still due every minute after a notification (leaves need two)
        self._subscribed_at = 0  # the read (self._polls) that last started the subscription

    def _associated(self, system: System) -> dict[str, str]:
        if self._tools is None or self._ifaces is None or self._polls % REDISCOVER_POLLS == 0:
            self._tools = Tools(system)
            self._ifaces = discover(system, self._tools)
        aps = [i for i in self._ifaces if i.mode == "ap"]
        self._subscribe(system, aps)
        assoc = read_associations(system, self._tools, aps)
        return {a.mac: iface for iface, stations in assoc.items() for a in stations}

    def _subscribe(self, system: System, aps: list[WifiIface]) -> None:
        stream = getattr(system, "stream", None)
        if not callable(stream) or not aps:
            return
        argv = ["ubus", "subscribe", *sorted(f"hostapd.{i.name}" for i in aps)]
        if self._events is not None and self._events.alive and self._events.argv == argv:
            return
        if self._events is not None:
            if not self._events.alive and self._events.argv == argv and self._polls - self._subscribed_at < 5:
                return  # a command that keeps failing is retried every five reads, not every one
            self._events.close()
        self._subscribed_at = self._polls
        self._events = Subscription(stream, argv, TRIGGERS)

    def _quiet(self, now: int) -> bool:
        """Whether this minute's read can be skipped: subscribed, nothing notified, nothing due."""
        events = self._events
        if events is None or not events.alive or self._reported is None:
            return False
        if events.take():
            self._follow_ups = LEAVE_AFTER_POLLS
            return False
        if self._follow_ups > 0:
            self._follow_ups -= 1
            return False
        return now - self._last_read < SAFETY_POLL_S

    def close(self) -> None:
        """Stop the subscription's command (clean shutdown, tests)."""
        if self._events is not None:
            self._events.close()

    def poll(self, system: System, now: int) -> list[dict[str, Any]]:
        """Events since the previous poll (none on the first, which only takes a baseline)."""
        if self._quiet(now):
            return []
        self._last_read = now
        try:
            current = self._associated(system)
        except SystemAccessError as exc:
            if not self._failing:
                log.warning("station watch: cannot read association lists: %s", exc.strerror or exc)
                self._failing = True
            self._ifaces = None
            return []
        if self._failing:
            log.info("station watch: association lists readable again")
            self._failing = False
        self._polls += 1
        if self._reported is None:
            self._reported = current
            return []
        after = dict(current)
        for mac in current:
            self._missing.pop(mac, None)
        for mac, iface in self._reported.items():
            if mac in current:
                continue
            polls = self._missing.get(mac, 0) + 1
            if polls < LEAVE_AFTER_POLLS:
                after[mac], self._missing[mac] = iface, polls  # not gone yet: maybe re-associating
            else:
                self._missing.pop(mac, None)
        events = diff_stations(self._reported, after, now, {})
        self._reported = after
        if events:
            leases = {mac: lease.hostname for mac, lease in read_leases(system).items() if lease.hostname}
            for event in events:
                mac = event["mac"]
                hostname = leases.get(mac) or self._hostnames.get(mac)
                if hostname:
                    event["hostname"] = hostname
                if event["type"] == "station_join" and hostname:
                    self._hostnames[mac] = hostname  # the lease may be gone by the time it leaves
                elif mac not in after:
                    self._hostnames.pop(mac, None)
        return events

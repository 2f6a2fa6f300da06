"""Privacy at ingest: terminal MACs as keyed pseudonyms, hostnames and neighbour names minimised,
DPI debug detail refused, all before anything is written (docs/security.md, "Privacy").

Every report and event batch is rewritten in the collector's main process, between triage
and the store, so the raw frame the store keeps (``reports.payload``), the gateway's latest
state, facts, rollups and home profiles only ever see the pseudonyms:

- a terminal's MAC becomes ``OUI:xx:xx:xx``: its first three octets (the vendor prefix, and
  with it the locally-administered "randomised MAC" bit) are kept, the last three are the
  first 24 bits of HMAC-SHA256(deployment key, MAC). Without the key nobody can tell which
  device it was; with it, the same device keeps the same pseudonym (so a home's terminals
  can be counted over time). Collisions need the same vendor prefix in the same home and
  1 in 16.7 million luck. Stations, DPI usage rows, link-quality targets and events are
  rewritten; the gateway's own interface and mesh node MACs (operator equipment) are not.
- a DHCP hostname keeps only the token that tells the terminal's type (``Johns-iPhone`` ->
  ``iphone``, ``Living-Room-TV`` -> ``tv``; nothing when no token does), so profiles
  classify terminals exactly as before (``profiles.terminals.terminal_type``).
- a DHCP vendor class (``dhcp_vc``, protocol 1.2) names the terminal's DHCP client, not its user; it
  keeps only the client's name and version (``dhcpcd-10.0.6:Linux-6.6:aarch64:...`` -> ``dhcpcd-10.0.6``),
  loses any token that looks like a serial number, and is dropped whole when it repeats a word of the
  terminal's own hostname (a name someone gave it). The request list (``dhcp_prl``) is option numbers.
- a neighbour network keeps its operator class, band, channel and signal; its SSID is
  dropped and its BSSID pseudonymised, unless ``HOMESCOPE_KEEP_NEIGHBOUR_NAMES`` is set.
- DPI ``flow`` events (hostname and remote endpoint, sent only by an agent in debug mode)
  are dropped unless ``HOMESCOPE_STORE_DPI_DEBUG`` is set.

A refused payload is rewritten before the quarantine keeps it (:meth:`Scrubber.quarantined`):
the same rules wherever its fields sit, or, if it does not decode, only its frame header.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import msgspec

from collector.profiles.terminals import hostname_match
from collector.store import QuarantinedMessage, SpooledMessage
from collector.store.frames import frame_of
from protocol.codec import HEADER_LEN, unframe
from protocol.errors import ProtocolError

_MAC = re.compile(r"[0-9A-Fa-f]{2}([:-]?)[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}")
#: Of a quarantined payload that does not decode, only this much is kept: the frame header.
QUARANTINE_HEAD = HEADER_LEN
_ENCODER = msgspec.msgpack.Encoder()


@lru_cache(maxsize=65536)
def hostname_class(hostname: str) -> str:
    """The one token of ``hostname`` that tells the terminal's type (its matching prefix), or ''.

    Cached: a fleet has few distinct hostnames (the profiles' classifier caches the same way).
    """
    found = hostname_match(hostname)
    return found[1] if found is not None else ""


_VENDOR_CLASS_DROP = re.compile(r"[^A-Za-z0-9 ._+-]")
_SERIAL = re.compile(r"[0-9A-Fa-f]*[0-9]{6,}[0-9A-Fa-f]*")
_MIN_NAME_WORD = 4
_CLIENT_WORDS = frozenset({"dhcp", "dhcpcd", "udhcp", "msft", "linux"})


@lru_cache(maxsize=65536)
def vendor_class_class(vendor_class: str, hostname: str = "") -> str:
    """What of a DHCP vendor class may be kept: the client's name and version (its first ``:`` field,
    letters, digits and `` ._+-``, 32 characters at most, serial-like digit runs removed); '' when it
    repeats a word of ``hostname`` (the unreduced name, whose words may be a person's)."""
    head = _VENDOR_CLASS_DROP.sub("", vendor_class.split(":", 1)[0])
    head = " ".join(part for part in (_SERIAL.sub("", word) for word in head.split()) if part)[:32].strip()
    low = head.lower()
    # words of the hostname that may be a person's: not a device word the terminal table knows
    # ("android", "iphone"...), not a word of a DHCP client's own name
    words = (
        w
        for w in re.split(r"[^a-z0-9]+", hostname.lower())
        if len(w) >= _MIN_NAME_WORD and hostname_match(w) is None and w not in _CLIENT_WORDS
    )
    return "" if any(w in low for w in words) else head


@lru_cache(maxsize=65536)
def terminal_names(hostname: str | None, vendor_class: str | None) -> tuple[str | None, str | None]:
    """What a station's hostname and DHCP vendor class become (``None``: not a string, left as
    it is; a vendor class that becomes '' is dropped). The one place of these rules for both
    ways of rewriting a report (:meth:`Scrubber.body` and the C extension ``_scrub``)."""
    reduced = vendor_class_class(vendor_class, hostname or "") if vendor_class is not None else None
    return (hostname_class(hostname) if hostname is not None else None), reduced


@dataclass
class Scrubber:
    """Rewrites messages with the deployment's key and switches."""

    key: bytes
    keep_neighbour_names: bool = False
    store_dpi_debug: bool = False

    def __post_init__(self) -> None:
        self._macs: dict[str, str] = {}

    def mac(self, value: str) -> str:
        """The pseudonym of a MAC (anything not MAC-shaped is returned as it is)."""
        found = self._macs.get(value)
        if found is not None:
            return found
        if len(self._macs) > 200_000:  # a bounded memo: terminals come back every window
            self._macs.clear()
        found = self._macs[value] = self._pseudonym(value)
        return found

    def _pseudonym(self, value: str) -> str:
        if not _MAC.fullmatch(value):
            return value
        digits = re.sub(r"[^0-9a-f]", "", value.lower())
        tag = hmac.new(self.key, digits.encode(), hashlib.sha256).hexdigest()[:6]
        octets = [digits[0:2], digits[2:4], digits[4:6], tag[0:2], tag[2:4], tag[4:6]]
        return ":".join(octets)

    def body(self, kind: str, body: dict[str, Any]) -> None:
        """Rewrite one report's or event batch's body in place."""
        if kind == "event":
            events = body.get("events") or []
            if not self.store_dpi_debug:
                events[:] = [e for e in events if e.get("type") != "flow"]
            for e in events:
                self._terminal(e)
            return
        for station in body.get("stations") or ():
            self._terminal(station)
        view = body.get("view")  # a compact report's static view (protocol 1.2), when it carries one
        if isinstance(view, dict):
            for station in view.get("stations") or ():
                self._terminal(station)
        for usage in body.get("apps") or ():
            if isinstance(usage.get("station"), str):
                usage["station"] = self.mac(usage["station"])
        for link in body.get("quality") or ():
            if isinstance(link.get("target"), str):
                link["target"] = self.mac(link["target"])
        if not self.keep_neighbour_names:
            for nb in body.get("neighbours") or ():
                nb.pop("ssid", None)
                if isinstance(nb.get("bssid"), str):
                    nb["bssid"] = self.mac(nb["bssid"])

    def _terminal(self, item: dict[str, Any]) -> None:
        if isinstance(item.get("mac"), str):
            item["mac"] = self.mac(item["mac"])
        hostname, vendor_class = item.get("hostname"), item.get("dhcp_vc")
        hostname = hostname if isinstance(hostname, str) else None
        vendor_class = vendor_class if isinstance(vendor_class, str) else None
        if hostname is None and vendor_class is None:
            return
        new_hostname, new_vendor_class = terminal_names(hostname, vendor_class)
        if vendor_class is not None:
            if new_vendor_class:
                item["dhcp_vc"] = new_vendor_class
            else:
                del item["dhcp_vc"]
        if new_hostname is not None:
            item["hostname"] = new_hostname

    def message(
        self, message: SpooledMessage, complete: Callable[[str, dict[str, Any]], object] | None = None
    ) -> SpooledMessage:
        """``message`` with its body and raw frame rewritten (the key fields unchanged).

        A compact report naming a static view (protocol 1.2) is decoded whole: the view holds
        names too, and ``complete(gateway_id, body)`` (called for such reports only) merges it
        into every section of the scrubbed body before it is framed again
        (collector/ingest/views.py). See :meth:`rewritten` for how.
        """
        packed, body = self.rewritten(message, complete)
        return self._spooled(message, packed, body)

    def rewritten(
        self,
        message: SpooledMessage,
        complete: Callable[[str, dict[str, Any]], object] | None = None,
        *,
        compiled: bool = True,
    ) -> tuple[bytes, dict[str, Any] | None]:
        """The rewritten envelope's msgpack (unframed), and its body when decoded whole.

        A report is rewritten by the C extension ``_scrub`` where it is built (~4x faster,
        bench/privacy.py): one pass over the msgpack that copies what does not change and asks
        :meth:`mac` and :func:`terminal_names` for what does, writing the same bytes as the
        Python way (tests/collector/security/test_scrub_c.py). Anything it does not promise to
        reproduce (a static view, an odd encoding), an event batch, and ``compiled=False``
        take the Python way, its reference: only the parts of the body that can hold personal
        data are decoded (a report's stations, apps, quality and neighbours; an event batch's
        events); every other part is copied as the bytes it came in (``msgspec.Raw``).
        """
        packed = message.packed or unframe(message.payload)
        if compiled and _compiled is not None and message.kind == "report":
            try:
                return _compiled.report(
                    packed, self._macs, self.mac, terminal_names, self.keep_neighbour_names
                ), None
            except _compiled.Unsupported:
                pass  # the Python way decides (and refuses what it refuses)
        envelope: dict[str, Any] = _PARTS(packed)
        body: dict[str, Any] = _PARTS(envelope["body"])
        whole = "view" in body
        for name in body if whole else _EVENT_PARTS if message.kind == "event" else self._report_parts:
            raw = body.get(name)
            if raw is not None:
                body[name] = _ANY(raw)
        self.body(message.kind, body)
        if complete is not None and whole:
            complete(message.gateway_id, body)
        envelope["body"] = body
        return _ENCODER.encode(envelope), body if whole else None

    def reframe(
        self, message: SpooledMessage, envelope: dict[str, Any], whole: bool = True
    ) -> SpooledMessage:
        """``message`` holding ``envelope`` (already scrubbed) as its body and frame; ``whole``:
        its body is decoded throughout (kept as the message's decoded body), not partly raw."""
        return self._spooled(message, _ENCODER.encode(envelope), envelope["body"] if whole else None)

    @staticmethod
    def _spooled(message: SpooledMessage, packed: bytes, body: dict[str, Any] | None) -> SpooledMessage:
        return SpooledMessage(
            message.gateway_id,
            message.epoch,
            message.seq,
            message.kind,
            message.window_start,
            message.window_end,
            message.uptime_s,
            message.sent_at,
            message.received_at,
            body,  # None: decoded from packed if someone reads it
            None,  # framed from packed when read: by the store writer process, as it writes
            packed,
        )

    def quarantined(self, q: QuarantinedMessage) -> QuarantinedMessage:
        """What the quarantine keeps of a refused payload, under the same rule as stored frames.

        A payload that unframes and decodes as msgpack (a message the models refuse) is kept
        rewritten wherever things sit in its tree: every MAC-shaped text pseudonymised (MACs
        inside longer strings too), every ``hostname`` minimised, ``ssid`` dropped (unless
        neighbour names are kept), debug ``flow`` events dropped; it is stored framed as the
        agent frames. A payload that does not (not a frame, truncated, not msgpack) cannot be
        told apart into fields: only its first :data:`QUARANTINE_HEAD` bytes (the frame header)
        are kept, with its size in the detail.
        """
        try:
            tree = _ANY(unframe(q.payload))
        except (ProtocolError, msgspec.DecodeError, ValueError, RecursionError):
            payload = q.payload[:QUARANTINE_HEAD]
            detail = f"{q.detail} [payload of {len(q.payload)} bytes not kept: it does not decode]"
        else:
            payload = frame_of(_ENCODER.encode(self._tree(tree)))
            detail = q.detail
        return QuarantinedMessage(q.received_at, q.topic, q.gateway_id, q.reason, self._text(detail), payload)

    def _tree(self, node: Any) -> Any:
        if isinstance(node, str):
            return self._text(node)
        if isinstance(node, list):
            flow = not self.store_dpi_debug
            return [
                self._tree(x) for x in node if not (flow and isinstance(x, dict) and x.get("type") == "flow")
            ]
        if isinstance(node, dict):
            out: dict[Any, Any] = {}
            for k, v in node.items():
                if k == "ssid" and not self.keep_neighbour_names:
                    continue
                key = self._text(k) if isinstance(k, str) else k
                if k == "hostname" and isinstance(v, str):
                    out[key] = hostname_class(v)
                elif k == "dhcp_vc" and isinstance(v, str):  # as _terminal keeps it, or not at all
                    host = node.get("hostname")
                    reduced = vendor_class_class(v, host if isinstance(host, str) else "")
                    if reduced:
                        out[key] = reduced
                else:
                    out[key] = self._tree(v)
            return out
        return node

    def _text(self, text: str) -> str:
        """``text`` with every MAC-shaped part pseudonymised."""
        return _MAC.sub(lambda m: self.mac(m.group(0)), text)

    @property
    def _report_parts(self) -> tuple[str, ...]:
        return _REPORT_PARTS if not self.keep_neighbour_names else _REPORT_PARTS[:-1]


#: The parts of a body :meth:`Scrubber.body` rewrites (all others are copied as they came).
_REPORT_PARTS = ("stations", "apps", "quality", "neighbours")
_EVENT_PARTS = ("events",)
_PARTS = msgspec.msgpack.Decoder(dict[str, msgspec.Raw]).decode
_ANY = msgspec.msgpack.Decoder().decode


try:  # built by setup.py (`make` requires it: tests/collector/security/test_scrub_c.py)
    from collector.privacy import _scrub as _compiled
except ImportError:  # pragma: no cover - a collector installed without a compiler
    _compiled = None  # type: ignore[assignment]

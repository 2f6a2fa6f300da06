"""The collector's MQTT 5 session: a small asyncio client built for a firehose of QoS 1.

Why not paho: paho parses each packet in Python objects on its own thread, sends every
PUBACK and publish with a syscall of its own, and hands each message across threads. Its
receive path alone cost the collector ~100-140 µs per report, as much as a bare paho
subscriber's whole budget (bench/ingest.py). Here packets are parsed straight out of
what one socket read returned, on the event loop, and everything a batch sends (PUBACKs,
application acks) leaves in one write.

What the collector needs and nothing more: CONNECT (persistent session, Receive
Maximum, credentials, optional TLS), SUBSCRIBE at QoS 1, receiving PUBLISH at QoS 0/1,
PUBACK on request (after the commit, not on receipt), publishing at QoS 0, keepalive,
reconnecting with back-off. A PUBACK is only sent on the connection that delivered the
message: after a reconnect the broker resends what we had not acknowledged, under packet
ids that may now name other messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: (topic, payload, packet id, qos, retain, connection number) -> None; called on the loop.
OnPublish = Callable[[str, bytes, int, int, bool, int], None]

_CONNECT, _CONNACK, _PUBLISH, _PUBACK = 1, 2, 3, 4
_SUBSCRIBE, _SUBACK, _PINGREQ, _PINGRESP, _DISCONNECT = 8, 9, 12, 13, 14
_PUBACK_PACKET = struct.Struct(">BBH")
_PINGREQ_PACKET = b"\xc0\x00"
_DISCONNECT_PACKET = b"\xe0\x00"

# property id -> wire type, for skipping and reading the few we use (MQTT 5, 2.2.2.2)
_BYTE, _TWO, _FOUR, _VARINT, _STRING, _BINARY, _PAIR = range(7)
_PROPERTY_TYPES = {
    0x01: _BYTE, 0x02: _FOUR, 0x03: _STRING, 0x08: _STRING, 0x09: _BINARY, 0x0B: _VARINT,
    0x11: _FOUR, 0x12: _STRING, 0x13: _TWO, 0x15: _STRING, 0x16: _BINARY, 0x17: _BYTE,
    0x18: _FOUR, 0x19: _BYTE, 0x1A: _STRING, 0x1C: _STRING, 0x1F: _STRING, 0x21: _TWO,
    0x22: _TWO, 0x23: _TWO, 0x24: _BYTE, 0x25: _BYTE, 0x26: _PAIR, 0x27: _FOUR,
    0x28: _BYTE, 0x29: _BYTE, 0x2A: _BYTE,
}  # fmt: skip
_SERVER_KEEP_ALIVE, _REASON_STRING, _SESSION_EXPIRY, _RECEIVE_MAXIMUM = 0x13, 0x1F, 0x11, 0x21


class MqttError(Exception):
    """A broker refused us or broke the protocol; the connection is dropped and retried."""


@dataclass(frozen=True)
class SessionOptions:
    host: str
    port: int
    client_id: str
    subscriptions: tuple[str, ...]
    username: str = ""
    password: str = ""
    #: QoS 1 messages the broker may send us before we acknowledge (our batch window).
    receive_maximum: int = 1000
    #: How long the broker keeps our queue while we are away.
    session_expiry_s: int = 7 * 24 * 3600
    keepalive_s: int = 30
    tls: ssl.SSLContext | None = None
    min_retry_s: float = 0.5
    max_retry_s: float = 10.0


def varint(value: int) -> bytes:
    """MQTT's variable byte integer."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return len(raw).to_bytes(2, "big") + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + varint(len(body)) + body


def connect_packet(o: SessionOptions) -> bytes:
    """CONNECT with clean start off: the broker keeps our subscriptions and queue."""
    flags = (0x80 if o.username else 0) | (0x40 if o.username and o.password else 0)
    props = (
        bytes((_SESSION_EXPIRY,)) + o.session_expiry_s.to_bytes(4, "big")
        + bytes((_RECEIVE_MAXIMUM,)) + max(1, min(65535, o.receive_maximum)).to_bytes(2, "big")
    )  # fmt: skip
    body = _string("MQTT") + bytes((5, flags)) + o.keepalive_s.to_bytes(2, "big") + varint(len(props)) + props
    body += _string(o.client_id)
    if o.username:
        body += _string(o.username)
        if o.password:
            body += _string(o.password)
    return _packet(_CONNECT << 4, body)


def subscribe_packet(packet_id: int, filters: tuple[str, ...], qos: int = 1) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"\x00" + b"".join(_string(f) + bytes((qos,)) for f in filters)
    return _packet((_SUBSCRIBE << 4) | 0x02, body)


def publish_packet(topic: str, payload: bytes) -> bytes:
    """A QoS 0 PUBLISH without properties."""
    return _packet(_PUBLISH << 4, _string(topic) + b"\x00" + payload)


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if i >= len(buf):
            raise MqttError("truncated variable byte integer")
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7
        if shift > 21:
            raise MqttError("malformed variable byte integer")


def read_properties(buf: bytes, i: int) -> tuple[dict[int, object], int]:
    """Properties at ``buf[i:]``: ({id: value}, index after them)."""
    length, i = _read_varint(buf, i)
    end = i + length
    props: dict[int, object] = {}
    while i < end:
        pid = buf[i]
        kind = _PROPERTY_TYPES.get(pid)
        i += 1
        value: object
        if kind == _BYTE:
            value, i = buf[i], i + 1
        elif kind == _TWO:
            value, i = int.from_bytes(buf[i : i + 2], "big"), i + 2
        elif kind == _FOUR:
            value, i = int.from_bytes(buf[i : i + 4], "big"), i + 4
        elif kind == _VARINT:
            value, i = _read_varint(buf, i)
        elif kind in (_STRING, _BINARY):
            n = int.from_bytes(buf[i : i + 2], "big")
            value, i = bytes(buf[i + 2 : i + 2 + n]), i + 2 + n
        elif kind == _PAIR:
            n = int.from_bytes(buf[i : i + 2], "big")
            m = int.from_bytes(buf[i + 2 + n : i + 4 + n], "big")
            value, i = None, i + 4 + n + m
        else:
            raise MqttError(f"unknown property 0x{pid:02x}")
        props[pid] = value
    if i != end:
        raise MqttError("malformed properties")
    return props, end


class MqttSession(asyncio.Protocol):
    """One persistent MQTT 5 session, reconnected for as long as it runs."""

    def __init__(self, options: SessionOptions, on_publish: OnPublish) -> None:
        self.options = options
        self.on_publish = on_publish
        self.connected = False
        #: Incremented per connection; an ack names the connection that delivered the message.
        self.connection = 0
        self._transport: asyncio.Transport | None = None
        self._chunks: list[bytes] = []
        self._have = 0
        self._need = 2
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._connack: asyncio.Future[bool] | None = None
        self._lost: asyncio.Future[None] | None = None
        self._last_rx = 0.0
        self._keepalive = options.keepalive_s
        self._task: asyncio.Task[None] | None = None
        self._failing = ""
        self._error: MqttError | None = None

    # -- public -----------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mqtt-session")

    async def stop(self) -> None:
        if self._transport is not None and self.connected:
            self._transport.write(b"".join([*self._out, _DISCONNECT_PACKET]))
            self._out.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._transport is not None:
            self._transport.close()

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        """Publish at QoS 0 (dropped while disconnected: the caller's protocol resends)."""
        if qos != 0:
            raise ValueError("the collector publishes at QoS 0 only")
        self._send(publish_packet(topic, payload))

    def ack(self, mid: int, qos: int, connection: int) -> None:
        """PUBACK a QoS 1 message, if the connection that delivered it is still up."""
        if qos == 1 and connection == self.connection:
            self._send(_PUBACK_PACKET.pack(_PUBACK << 4, 2, mid))

    # -- connection loop --------------------------------------------------------------
    async def _run(self) -> None:
        delay = self.options.min_retry_s
        while True:
            try:
                await self._session()
                delay = self.options.min_retry_s
            except (OSError, MqttError, TimeoutError) as exc:
                text = f"{type(exc).__name__}: {exc}"
                if text != self._failing:
                    log.error("collector mqtt: %s:%d: %s", self.options.host, self.options.port, text)
                    self._failing = text
            finally:
                if self.connected:
                    log.warning("collector mqtt: connection lost")
                self.connected = False
                if self._transport is not None:
                    self._transport.abort()
                    self._transport = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.options.max_retry_s)

    async def _session(self) -> None:
        o = self.options
        loop = asyncio.get_running_loop()
        self._connack, self._lost = loop.create_future(), loop.create_future()
        self._error = None
        self._chunks, self._have, self._need, self._out = [], 0, 2, []
        await asyncio.wait_for(
            loop.create_connection(
                lambda: self, o.host, o.port, ssl=o.tls, server_hostname=o.host if o.tls else None
            ),
            10,
        )
        assert self._transport is not None
        self.connection += 1
        self._transport.write(connect_packet(o))
        present = await asyncio.wait_for(asyncio.shield(self._connack), 10)
        # Subscribe on every connection: a broker that lost its state (kill -9 before its
        # autosave) has forgotten our subscriptions even if it kept our session.
        self._transport.write(subscribe_packet(1, o.subscriptions))
        self.connected, self._failing = True, ""
        log.info("collector mqtt: connected to %s:%d (session present: %s)", o.host, o.port, present)
        pinger = asyncio.create_task(self._pings())
        try:
            await self._lost
        finally:
            pinger.cancel()
        if self._error is not None:
            raise self._error

    async def _pings(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self._keepalive / 2))
            if time.monotonic() - self._last_rx > 1.5 * self._keepalive and self._transport is not None:
                log.warning("collector mqtt: broker silent for %.0f s", time.monotonic() - self._last_rx)
                self._transport.abort()
                return
            self._send(_PINGREQ_PACKET)

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._last_rx = time.monotonic()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._connack is not None and not self._connack.done():
            self._connack.set_exception(MqttError(f"closed before CONNACK: {exc}"))
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._last_rx = time.monotonic()
        self._chunks.append(data)
        self._have += len(data)
        if self._have < self._need:
            return  # a large packet still arriving: join once it is whole
        buf = b"".join(self._chunks) if len(self._chunks) > 1 else data
        try:
            used = self._parse(buf)
        except MqttError as exc:
            # the connection loop reports it (once) and reconnects
            self._error = exc
            if self._connack is not None and not self._connack.done():
                self._connack.set_exception(exc)
            if self._transport is not None:
                self._transport.abort()
            return
        rest = buf[used:]
        self._chunks, self._have = ([rest] if rest else []), len(rest)

    def _parse(self, buf: bytes) -> int:
        """Handle every whole packet in ``buf``; return how many bytes were used."""
        pos, n = 0, len(buf)
        on_publish, connection = self.on_publish, self.connection
        while True:
            if n - pos < 2:
                self._need = 2
                return pos
            first = buf[pos]
            i, length, shift = pos + 1, 0, 0
            while True:
                if i >= n:
                    self._need = n - pos + 1
                    return pos
                byte = buf[i]
                i += 1
                length |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
                if shift > 21:
                    raise MqttError("malformed remaining length")
            end = i + length
            if end > n:
                self._need = end - pos
                return pos
            if first >> 4 == _PUBLISH:
                qos = (first >> 1) & 3
                j = i + 2 + ((buf[i] << 8) | buf[i + 1])
                topic = buf[i + 2 : j].decode("utf-8", "replace")
                mid = 0
                if qos:
                    if qos > 1:
                        raise MqttError("QoS 2 delivery on a QoS 1 subscription")
                    mid = (buf[j] << 8) | buf[j + 1]
                    j += 2
                plen = buf[j]
                if plen < 0x80:
                    j += 1 + plen
                else:
                    plen, j = _read_varint(buf, j)
                    j += plen
                on_publish(topic, buf[j:end], mid, qos, bool(first & 1), connection)
            else:
                self._control(first, buf[i:end])
            pos = end

    def _control(self, first: int, body: bytes) -> None:
        kind = first >> 4
        if kind == _CONNACK:
            if len(body) < 2:
                raise MqttError("short CONNACK")
            props, _ = read_properties(body, 2) if len(body) > 2 else ({}, 2)
            if body[1] >= 0x80:
                reason = props.get(_REASON_STRING) or b""
                raise MqttError(f"connection refused: reason 0x{body[1]:02x} {reason!r}")
            keepalive = props.get(_SERVER_KEEP_ALIVE)
            if isinstance(keepalive, int) and keepalive:
                self._keepalive = keepalive  # the server's value wins (MQTT 5, 3.2.2.3.14)
            if self._connack is not None and not self._connack.done():
                self._connack.set_result(bool(body[0] & 1))
        elif kind == _SUBACK:
            props, i = read_properties(body, 2)
            refused = [f"0x{code:02x}" for code in body[i:] if code >= 0x80]
            if refused:
                log.error("collector mqtt: subscriptions refused: %s %r", refused, props.get(_REASON_STRING))
        elif kind == _DISCONNECT:
            reason = body[0] if body else 0
            log.warning("collector mqtt: the broker disconnected us: reason 0x%02x", reason)
        elif kind != _PINGRESP:
            raise MqttError(f"unexpected packet type {kind}")

    def _send(self, packet: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        self._out.append(packet)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"".join(self._out))
        self._out.clear()

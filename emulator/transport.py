"""Many MQTT identities driven by one thread: paho clients without loop threads.

Every virtual gateway keeps its own MQTT connection (its identity is its client id and
user name, as on a real gateway), but a thousand ``loop_start()`` threads would spend the
machine on context switches. Here one :class:`TransportLoop` thread owns every client: it
connects, waits on all sockets with ``selectors``, reads, writes what the clients queued,
keeps them alive and reconnects them. :class:`PolledTransport` implements the agent's
``Transport`` interface, so the agent's own ``Publisher`` and ``Outbox`` run unchanged;
everything that touches a client runs on the loop thread (use :meth:`TransportLoop.call`).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from agent.publisher.transport import ConnectHandler, DisconnectHandler, MessageHandler, PublishError

log = logging.getLogger(__name__)


class PolledTransport:
    """One gateway's MQTT connection, driven by a :class:`TransportLoop` (MQTT 5, QoS 1, will)."""

    def __init__(
        self,
        loop: TransportLoop,
        url: str,
        client_id: str,
        *,
        username: str = "",
        password: str = "",
        will: tuple[str, bytes] | None = None,
        keepalive: int = 60,
    ) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 1883
        self.keepalive = keepalive
        self.loop = loop
        self.client_id = client_id
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username:
            self.client.username_pw_set(username, password or None)
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.on_connect = self._handle_connect
        self.client.on_disconnect = self._handle_disconnect
        self.client.on_message = self._handle_message
        # queued packets are written by the loop, never from the thread that queued them
        self.client.on_socket_register_write = lambda *_: loop.wants_write(self)
        self._connected = False
        self._wanted = False
        self.retry_at = 0.0
        self._delay = 1.0
        self._on_message: MessageHandler | None = None
        self._on_connect: ConnectHandler | None = None
        self._on_disconnect: DisconnectHandler | None = None

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def wanted(self) -> bool:
        """Whether the transport should be connected (started and not stopped)."""
        return self._wanted

    def start(
        self, on_message: MessageHandler, on_connect: ConnectHandler, on_disconnect: DisconnectHandler
    ) -> None:
        self._on_message, self._on_connect, self._on_disconnect = on_message, on_connect, on_disconnect
        self._wanted = True
        self.loop.add(self)

    def connect_now(self) -> None:
        """Open the TCP connection and send CONNECT (loop thread); back off on failure."""
        try:
            if self.client.socket() is None:
                self.client.connect(self.host, self.port, keepalive=self.keepalive, clean_start=True)
            else:
                self.client.reconnect()
        except OSError as exc:
            self.retry_at = time.monotonic() + self._delay * random.uniform(0.5, 1.5)
            self._delay = min(60.0, self._delay * 2)
            log.debug("mqtt %s: connect failed: %s", self.client_id, exc)
            return
        self.loop.watch(self)

    def _handle_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("mqtt: connection refused: %s", reason)
            return
        self._connected = True
        self._delay = 1.0
        if self._on_connect:
            self._on_connect()

    def _handle_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        was = self._connected
        self._connected = False
        self.loop.unwatch(self)
        if self._wanted:
            self.retry_at = time.monotonic() + self._delay * random.uniform(0.5, 1.5)
        if was and self._on_disconnect:
            self._on_disconnect(str(reason))

    def _handle_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self._on_message:
            self._on_message(message.topic, bytes(message.payload))

    def subscribe(self, topic: str, qos: int = 1) -> None:
        self.client.subscribe(topic, qos=qos)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        if not self._connected:
            raise PublishError("not connected")
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise PublishError(f"publish refused: {mqtt.error_string(info.rc)}")

    def stop(self) -> None:
        """Disconnect cleanly (no last will); call on the loop thread."""
        self._wanted = False
        self._connected = False
        if self.client.socket() is not None:
            self.client.disconnect()
            self.client.loop_write()
        self.loop.remove(self)


class TransportLoop:
    """The one thread that runs every :class:`PolledTransport`."""

    def __init__(self, tick_s: float = 0.02, connects_per_tick: int = 50) -> None:
        self.tick_s = tick_s
        self.connects_per_tick = connects_per_tick
        self._selector = selectors.DefaultSelector()
        self._transports: set[PolledTransport] = set()
        self._writers: set[PolledTransport] = set()
        self._tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._misc_at = 0.0
        self.idle_hooks: list[Callable[[], None]] = []

    # -- bookkeeping (loop thread, or before start) -----------------------------------
    def add(self, t: PolledTransport) -> None:
        self._transports.add(t)

    def remove(self, t: PolledTransport) -> None:
        self.unwatch(t)
        self._transports.discard(t)
        self._writers.discard(t)

    def watch(self, t: PolledTransport) -> None:
        sock = t.client.socket()
        if sock is not None and isinstance(sock, socket.socket):
            with contextlib.suppress(KeyError):  # already registered
                self._selector.register(sock, selectors.EVENT_READ, t)
        self._writers.add(t)

    def unwatch(self, t: PolledTransport) -> None:
        for key in list(self._selector.get_map().values()):
            if key.data is t:
                self._selector.unregister(key.fileobj)

    def wants_write(self, t: PolledTransport) -> None:
        self._writers.add(t)

    # -- the thread ------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-loop", daemon=True)
        self._thread.start()

    def call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the loop thread (soon)."""
        self._tasks.put(fn)

    def call_wait(self, fn: Callable[[], None], timeout: float = 30.0) -> None:
        """Run ``fn`` on the loop thread and wait for it to finish."""
        if self._thread is None or threading.current_thread() is self._thread:
            fn()
            return
        done = threading.Event()

        def task() -> None:
            try:
                fn()
            finally:
                done.set()

        self.call(task)
        done.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._selector.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._iteration()
            except Exception:
                log.exception("mqtt loop iteration failed; carrying on")
                time.sleep(0.1)

    def _iteration(self) -> None:
        now = time.monotonic()
        budget = self.connects_per_tick
        for t in list(self._transports):
            if budget and t.wanted and t.client.socket() is None and now >= t.retry_at:
                t.connect_now()
                budget -= 1
        while True:
            try:
                self._tasks.get_nowait()()
            except queue.Empty:
                break
        for t in list(self._writers):
            self._writers.discard(t)
            if t.client.socket() is not None and t.client.want_write():
                t.client.loop_write()
        events = (
            self._selector.select(self.tick_s if not self._writers else 0) if self._selector.get_map() else []
        )
        if not events and not self._selector.get_map():
            time.sleep(self.tick_s)
        for key, _ in events:
            t = key.data
            t.client.loop_read()
        if now >= self._misc_at:
            self._misc_at = now + 1.0
            for t in list(self._transports):
                if t.client.socket() is not None:
                    t.client.loop_misc()
            for hook in self.idle_hooks:
                hook()

"""The paho-mqtt implementation of :class:`Transport`: MQTT 5, QoS 1, last will on ``status``.

Reconnection uses :class:`Backoff` (exponential, full jitter) instead of paho's fixed
doubling, and MQTT 5 reason codes on PUBACK (e.g. 0x87 "Not authorized" when the
broker's ACL refuses a topic) are surfaced: counted and logged once per state change,
never mistaken for delivery (the record stays in the outbox until the collector acks).

paho retries only ``OSError`` in its network thread; anything else (a missing codec, a bug
in a callback) ends the thread, after which nothing is ever sent while the rest of the agent
keeps sampling. That death is logged as critical with its traceback and reported through
``on_fatal`` (the CLI stops the agent and exits non-zero, so procd restarts it and logd shows why).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from agent.logger import Logger
from agent.publisher.deferred import LOGGING_LEVELS, SSL_EXCEPTIONS, defer, platform_system
from agent.publisher.hostnames import ensure_idna_codec
from agent.publisher.transport import Backoff, ConnectHandler, DisconnectHandler, MessageHandler, PublishError

# imported by paho, never used by the agent (deferred.py): ~1.2 MiB, and logging's ~0.4 MiB;
# ssl and hashlib (OpenSSL, ~2 MiB) only once an mqtts:// broker needs them; platform (~0.1 MiB),
# of which paho reads system() once at import
defer(
    "urllib.request",
    "uuid",
    "logging",
    "ssl",
    "hashlib",
    "platform",
    known={"logging": LOGGING_LEVELS, "ssl": SSL_EXCEPTIONS, "platform": {"system": platform_system}},
)

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402
from paho.mqtt.reasoncodes import ReasonCode  # noqa: E402

log = Logger(__name__)


class _WatchedClient(mqtt.Client):
    """paho's client whose network thread reports an exception instead of dying unheard."""

    on_thread_death: Callable[[BaseException], None] | None = None

    def _thread_main(self) -> None:
        try:
            super()._thread_main()
        except Exception as exc:
            if self.on_thread_death is None:
                raise
            self.on_thread_death(exc)


class PahoTransport:
    """One MQTT connection for one gateway identity."""

    def __init__(
        self,
        url: str,
        client_id: str,
        *,
        username: str = "",
        password: str = "",
        ca_file: str = "",
        cert_file: str = "",
        key_file: str = "",
        will: tuple[str, bytes] | None = None,
        keepalive: int = 60,
        on_fatal: Callable[[str], None] | None = None,
    ) -> None:
        ensure_idna_codec()  # before paho or ssl look up a host name
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self._keepalive = keepalive
        self._connected = False
        self._was_connected = False
        self._client = _WatchedClient(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, reconnect_on_failure=True
        )
        self._client.on_thread_death = self._thread_died
        self._on_fatal = on_fatal
        #: Why the network thread died ("" while it runs).
        self.failure = ""
        # Jittered back-off: a fleet that lost its broker together must not return together.
        self.backoff = Backoff(base=1, cap=120)
        self._client.reconnect_delay_set(min_delay=1, max_delay=1)
        #: PUBACKs with a failure reason code (e.g. not authorized), and the last one seen.
        self.refused = 0
        self.last_refusal = ""
        if username:
            self._client.username_pw_set(username, password or None)
        if parts.scheme == "mqtts":
            import ssl  # OpenSSL is loaded for a TLS broker only (deferred.py)

            self._client.tls_set(
                ca_certs=ca_file or None,
                certfile=cert_file or None,
                keyfile=key_file or None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        if will is not None:
            self._client.will_set(will[0], will[1], qos=1, retain=True)
        self._on_message: MessageHandler | None = None
        self._on_connect: ConnectHandler | None = None
        self._on_disconnect: DisconnectHandler | None = None

    @property
    def connected(self) -> bool:
        return self._connected

    def start(
        self, on_message: MessageHandler, on_connect: ConnectHandler, on_disconnect: DisconnectHandler
    ) -> None:
        self._on_message, self._on_connect, self._on_disconnect = on_message, on_connect, on_disconnect
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message
        self._client.on_publish = self._handle_publish
        self._client.on_connect_fail = self._handle_connect_fail
        self._client.connect_async(self._host, self._port, keepalive=self._keepalive, clean_start=True)
        self._client.loop_start()

    def _thread_died(self, exc: BaseException) -> None:
        self._connected = False
        self.failure = f"{type(exc).__name__}: {exc}"
        log.critical(
            "mqtt: the network thread died (%s); nothing can be sent until the agent restarts",
            self.failure,
            exc_info=exc,
        )
        if self._on_fatal is not None:
            self._on_fatal(self.failure)

    def _handle_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Properties | None
    ) -> None:
        if reason.is_failure:
            log.warning("mqtt: connection to %s:%d refused: %s", self._host, self._port, reason)
            return
        self._connected = True
        self.backoff.reset()
        log.info(
            "mqtt: connected to %s:%d%s", self._host, self._port, " again" if self._was_connected else ""
        )
        self._was_connected = True
        if self._on_connect:
            self._on_connect()

    def _handle_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Properties | None
    ) -> None:
        if self._connected:
            log.warning("mqtt: connection lost: %s", reason)
        self._connected = False
        self._schedule_reconnect()
        if self._on_disconnect:
            self._on_disconnect(str(reason))

    def _handle_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        # paho waits min_delay after reconnect_delay_set() resets its own doubling
        delay = self.backoff.next_delay()
        self._client.reconnect_delay_set(min_delay=delay, max_delay=delay)
        log.debug("mqtt: next connection attempt in %d s", delay)

    def _handle_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, props: Properties | None
    ) -> None:
        if reason.is_failure:
            if str(reason) != self.last_refusal:
                log.error("mqtt: the broker refused a publish: %s (check this gateway's ACL)", reason)
            self.refused += 1
            self.last_refusal = str(reason)
        elif self.last_refusal:
            log.info("mqtt: the broker accepts publishes again")
            self.last_refusal = ""

    def _handle_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self._on_message:
            self._on_message(message.topic, bytes(message.payload))

    def subscribe(self, topic: str, qos: int = 1) -> None:
        self._client.subscribe(topic, qos=qos)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        if not self._connected:
            raise PublishError("not connected")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise PublishError(f"publish refused: {mqtt.error_string(info.rc)}")

    def stop(self) -> None:
        self._connected = False  # a deliberate disconnect is not a lost connection
        self._client.disconnect()
        self._client.loop_stop()
        self._connected = False

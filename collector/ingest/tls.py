"""How the collector reaches the broker: ``mqtts://`` with a CA and a client certificate.

The broker password never crosses a network in clear: ``mqtts://`` verifies the broker's
certificate (against ``HOMESCOPE_MQTT_CA``, else the system's CAs) and its host name, and
presents ``HOMESCOPE_MQTT_CERT``/``_KEY`` when set; a password over plain ``mqtt://`` to
anything but loopback is refused at start.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from collector.settings import Settings


class BrokerTlsError(ValueError):
    """The broker URL and TLS settings do not fit together; the message names the setting."""


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: ssl.SSLContext | None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def broker_address(settings: Settings) -> BrokerAddress:
    """Host, port and TLS context for ``settings.mqtt`` (``mqtt://`` or ``mqtts://``)."""
    url: SplitResult = urlsplit(settings.mqtt)
    host = url.hostname or "127.0.0.1"
    if url.scheme not in ("mqtt", "mqtts"):
        raise BrokerTlsError(f"HOMESCOPE_MQTT: scheme must be mqtt:// or mqtts://, not {url.scheme!r}")
    if url.scheme == "mqtt":
        if settings.mqtt_password and not _loopback(host):
            raise BrokerTlsError(
                "HOMESCOPE_MQTT: a broker password would cross the network in clear; use mqtts:// "
                "(docs/broker-tls.md)"
            )
        return BrokerAddress(host, url.port or 1883, None)
    if bool(settings.mqtt_cert) != bool(settings.mqtt_key):
        raise BrokerTlsError("HOMESCOPE_MQTT_CERT and HOMESCOPE_MQTT_KEY go together")
    try:
        context = ssl.create_default_context(cafile=settings.mqtt_ca or None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if settings.mqtt_cert:
            context.load_cert_chain(settings.mqtt_cert, settings.mqtt_key)
    except (OSError, ssl.SSLError) as exc:
        raise BrokerTlsError(f"HOMESCOPE_MQTT_CA/_CERT/_KEY: {exc}") from exc
    return BrokerAddress(host, url.port or 8883, context)

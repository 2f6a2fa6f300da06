"""The network seam: what the publisher needs from an MQTT client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

MessageHandler = Callable[[str, bytes], None]
ConnectHandler = Callable[[], None]
DisconnectHandler = Callable[[str], None]


class PublishError(RuntimeError):
    """A publish was refused by the transport (not connected, or rejected)."""


class Transport(Protocol):
    """A connection to the broker. Callbacks may run on the transport's own thread."""

    @property
    def connected(self) -> bool:
        """Whether the connection is currently up."""
        ...

    def start(
        self, on_message: MessageHandler, on_connect: ConnectHandler, on_disconnect: DisconnectHandler
    ) -> None:
        """Connect in the background and keep reconnecting until :meth:`stop`."""
        ...

    def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe (call from ``on_connect`` so it is renewed on every connection)."""
        ...

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Queue a message; :class:`PublishError` if it cannot be queued now."""
        ...

    def stop(self) -> None:
        """Disconnect cleanly (no last will) and stop the background work."""
        ...

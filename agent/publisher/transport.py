"""The network seam: what the publisher needs from an MQTT client."""

from __future__ import annotations

import random
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


class Backoff:
    """Exponential back-off with full jitter for reconnecting.

    Attempt n (from 0) waits a whole number of seconds drawn uniformly from
    ``[base, min(cap, base * 2**n)]``: gateways that lost the broker at the same moment
    spread their returns over the whole window instead of arriving in waves.
    """

    def __init__(self, base: int = 1, cap: int = 120, rng: random.Random | None = None) -> None:
        self.base = max(1, base)
        self.cap = max(self.base, cap)
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> int:
        """The wait before the next attempt; each call counts one more failure."""
        ceiling = min(self.cap, self.base * 2 ** min(self.attempt, 30))
        self.attempt += 1
        return self._rng.randint(self.base, ceiling)

    def reset(self) -> None:
        """Connected: the next outage starts from the shortest wait again."""
        self.attempt = 0

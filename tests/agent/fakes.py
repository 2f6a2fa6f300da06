"""A recording in-memory transport for publisher tests (the wire is tested with the real broker)."""

from __future__ import annotations

from agent.publisher.transport import ConnectHandler, DisconnectHandler, MessageHandler, PublishError


class RecordingTransport:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, bool]] = []
        self.subscriptions: list[str] = []
        self._connected = False
        self.on_message: MessageHandler | None = None
        self.on_connect: ConnectHandler | None = None
        self.on_disconnect: DisconnectHandler | None = None

    @property
    def connected(self) -> bool:
        return self._connected

    def start(
        self, on_message: MessageHandler, on_connect: ConnectHandler, on_disconnect: DisconnectHandler
    ) -> None:
        self.on_message, self.on_connect, self.on_disconnect = on_message, on_connect, on_disconnect

    def up(self) -> None:
        self._connected = True
        assert self.on_connect is not None
        self.on_connect()

    def down(self) -> None:
        self._connected = False
        assert self.on_disconnect is not None
        self.on_disconnect("test")

    def subscribe(self, topic: str, qos: int = 1) -> None:
        self.subscriptions.append(topic)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        if not self._connected:
            raise PublishError("not connected")
        self.published.append((topic, payload, retain))

    def stop(self) -> None:
        self._connected = False

    def deliver(self, topic: str, payload: bytes) -> None:
        assert self.on_message is not None
        self.on_message(topic, payload)

"""A dead MQTT network thread is loud: logged as critical and reported, never a silent spooler."""

from __future__ import annotations

import threading
from collections.abc import Callable

from agent.publisher.paho_transport import PahoTransport
from tests.agent.conftest import Line
from tests.broker import Broker


def test_an_exception_in_the_network_thread_is_reported(
    broker: Broker, agent_log: Callable[[], list[Line]]
) -> None:
    """paho retries only OSError; anything else used to end its thread with nothing but a traceback."""
    reasons: list[str] = []
    died = threading.Event()

    def fatal(reason: str) -> None:
        reasons.append(reason)
        died.set()

    def on_connect() -> None:
        raise RuntimeError("a bug in a callback")

    transport = PahoTransport(broker.url, "gw-thread-death", on_fatal=fatal)
    transport.start(lambda topic, payload: None, on_connect, lambda reason: None)
    try:
        assert died.wait(10), "the network thread died without a word"
    finally:
        transport.stop()
    assert reasons == ["RuntimeError: a bug in a callback"]
    assert transport.failure == reasons[0]
    assert not transport.connected
    [death] = [r for r in agent_log() if r.level == "CRITICAL"]
    assert death.name == "agent.publisher.paho_transport" and "network thread died" in death.message
    assert "RuntimeError: a bug in a callback" in death.more  # with its traceback

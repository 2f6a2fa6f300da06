"""Commands on the generated broker configuration: a gateway runs only its collector's commands.

Gateway A runs the agent's real command desk behind the real publisher and paho transport.
The matrix: the collector's valid command runs and its answer reaches the collector; a
command published by gateway B is refused by the broker; a command that names B, one that
expired, and a replay of the valid one reach A and are refused by A; A cannot read B's
command topic at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.commands import CommandDesk
from agent.publisher.outbox import Outbox
from agent.publisher.paho_transport import PahoTransport
from agent.publisher.publisher import Publisher
from protocol.commands import command_frame, parse_reply
from protocol.topics import Kind, subscription, topic_for
from tests.faults.harness import wait_until
from tests.faults.test_identity import A, B, BrokerProc, Client, hasher, secured  # noqa: F401 - fixtures


def _cmd(gateway: str, cid: str, *, expires_in: int = 60) -> bytes:
    now = int(time.time())
    return command_frame(gateway, cid, "measure_now", sent_at=now, expires_at=now + expires_in)


@pytest.mark.timeout(90)
def test_a_gateway_runs_only_its_collectors_valid_commands(
    secured: tuple[BrokerProc, dict[str, str], Path],  # noqa: F811
    figures: Callable[..., None],
) -> None:
    broker, creds, _ = secured
    measured: list[float] = []

    def take() -> dict[str, Any]:
        measured.append(time.time())
        return {"stations": []}

    rows: dict[str, tuple[object, object]] = {}
    collector = Client(broker.port, "_collector", "_collector", creds["_collector"])
    # A's credentials (the broker takes the username as client id) try to read B's commands
    spy = Client(broker.port, A, A, creds[A])
    spy.subscribe(topic_for(B, Kind.CMD))
    collector.publish(topic_for(B, Kind.CMD), _cmd(B, "cmd-forb0002"))
    time.sleep(0.5)
    rows["A's credentials read B's commands"] = (0, len(spy.received))
    spy.close()

    transport = PahoTransport(f"mqtt://127.0.0.1:{broker.port}", A, username=A, password=creds[A])
    publisher = Publisher(A, Outbox(":memory:"), transport)
    desk = CommandDesk(A, take, lambda t, f: transport.publish(t, f, qos=1))
    publisher.handlers[desk.topic] = desk.receive
    publisher.start()
    b = Client(broker.port, B, B, creds[B])
    try:
        wait_until(lambda: transport.connected, 10, "gateway A connected")
        collector.subscribe(subscription(Kind.REPLY))
        time.sleep(0.5)  # A's own subscription to its command topic

        rows["collector's command runs"] = (1, None)
        collector.publish(topic_for(A, Kind.CMD), _cmd(A, "cmd-valid001"))
        wait_until(lambda: collector.received, 10, "A's answer at the collector")
        desk.wait_idle(5)
        rows["collector's command runs"] = (1, len(measured))
        reply = parse_reply(collector.received[0][1], collector.received[0][0])
        rows["answer names the command"] = ("cmd-valid001", reply.id)

        rows["B publishes a command for A"] = (
            "Not authorized",
            b.publish(topic_for(A, Kind.CMD), _cmd(A, "cmd-fromb01")),
        )
        collector.publish(topic_for(A, Kind.CMD), _cmd(B, "cmd-forb0001"))
        collector.publish(topic_for(A, Kind.CMD), _cmd(A, "cmd-expired1", expires_in=-5))
        collector.publish(topic_for(A, Kind.CMD), _cmd(A, "cmd-valid001"))  # a replay
        wait_until(lambda: desk.refused >= 3, 10, "A refused the bad commands")
        time.sleep(0.5)
        desk.wait_idle(5)
        rows["A ran nothing else"] = (1, len(measured))
        rows["A refused (other gateway, expired, replay)"] = (3, desk.refused)
        rows["answers at the collector"] = (1, len(collector.received))
    finally:
        for c in (collector, b):
            c.close()
        publisher.stop()
    figures(cases=len(rows), failed=sum(1 for e, o in rows.values() if e != o))
    assert {k: v for k, v in rows.items() if v[0] != v[1]} == {}

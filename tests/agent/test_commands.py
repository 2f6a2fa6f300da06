"""The agent's command desk: what it runs, what it refuses, and the measurement it takes."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from agent.commands import CommandDesk, measure
from agent.config import AgentConfig
from protocol.commands import MAX_TTL_S, command_frame, parse_reply
from protocol.topics import Kind, topic_for
from tests.agent.samplers.recorded import recorded

GW = "gw-test"
NOW = 1_795_437_000


class Desk:
    """A desk for ``GW`` whose measurement and replies are recorded."""

    def __init__(self, key: bytes | None = None, measure_s: float = 0.0) -> None:
        self.replies: list[tuple[str, bytes]] = []
        self.measured = 0
        self.release = threading.Event()
        if not measure_s:
            self.release.set()

        def take() -> dict[str, Any]:
            self.release.wait(5)
            self.measured += 1
            return {"stations": [{"mac": "aa:bb:cc:00:00:01", "signal_dbm": -70}]}

        self.desk = CommandDesk(GW, take, lambda t, f: self.replies.append((t, f)), key=key, wall=lambda: NOW)

    def send(self, frame: bytes, topic: str | None = None) -> None:
        self.desk.receive(topic or topic_for(GW, Kind.CMD), frame)
        self.desk.wait_idle(5)


def cmd(cid: str = "cmd-0000001", gateway: str = GW, expires: int = NOW + 60, **kw: Any) -> bytes:
    return command_frame(gateway, cid, "measure_now", sent_at=NOW, expires_at=expires, **kw)


def test_a_valid_command_is_measured_and_answered_on_the_reply_topic() -> None:
    d = Desk()
    d.send(cmd())
    assert d.measured == 1 and len(d.replies) == 1
    topic, frame = d.replies[0]
    assert topic == topic_for(GW, Kind.REPLY)
    reply = parse_reply(frame, topic)
    assert reply.ok and reply.id == "cmd-0000001" and reply.result["stations"][0]["signal_dbm"] == -70


@pytest.mark.parametrize(
    ("frame", "topic", "why"),
    [
        (cmd(expires=NOW - 1), None, "expired"),
        (cmd(expires=NOW + MAX_TTL_S + 5), None, "claims a life past the cap"),
        (cmd(gateway="gw-other"), topic_for("gw-other", Kind.CMD), "another gateway's topic"),
        (cmd(gateway="gw-other"), None, "names another gateway on our topic"),
        (b"hs\x00\x81\xa1v\xa31.0", None, "not an envelope"),
    ],
)
def test_refused_commands_are_never_run(frame: bytes, topic: str | None, why: str) -> None:
    d = Desk()
    d.send(frame, topic)
    assert d.measured == 0, why
    assert d.desk.refused == 1, why


def test_a_replayed_command_runs_once() -> None:
    d = Desk()
    d.send(cmd())
    d.send(cmd())
    assert d.measured == 1 and d.desk.refused == 1


def test_signed_commands_need_the_right_key() -> None:
    d = Desk(key=b"k" * 32)
    d.send(cmd(cid="cmd-unsigned"))
    d.send(cmd(cid="cmd-wrongkey", key=b"x" * 32))
    assert d.measured == 0 and d.desk.refused == 2
    d.send(cmd(cid="cmd-signed1", key=b"k" * 32))
    assert d.measured == 1


def test_a_second_command_while_measuring_is_answered_busy() -> None:
    d = Desk(measure_s=1.0)
    d.desk.receive(topic_for(GW, Kind.CMD), cmd(cid="cmd-first01"))
    d.desk.receive(topic_for(GW, Kind.CMD), cmd(cid="cmd-second1"))
    d.release.set()
    d.desk.wait_idle(5)
    answers = {parse_reply(f, t).id: parse_reply(f, t) for t, f in d.replies}
    assert answers["cmd-first01"].ok and not answers["cmd-second1"].ok
    assert answers["cmd-second1"].error.startswith("busy")


def test_measure_samples_the_home_network_from_recorded_router_outputs() -> None:
    config = AgentConfig(gateway_id=GW, ping_target="198.51.100.1")
    started = time.time()
    body = measure(recorded("archer-c6-v3-23.05", "step1"), config)
    assert {"radios", "stations", "quality"} <= set(body)
    assert all(s.get("mac") for s in body["stations"]) and any("signal_dbm" in s for s in body["stations"])
    assert {q["target"] for q in body["quality"]} >= {"wan_gateway", "internet"}
    assert body["samplers"]["stations"]["state"] == "ok"
    assert "system" not in body and "apps" not in body  # only what the installer needs
    assert time.time() - started < 5

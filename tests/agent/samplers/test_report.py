"""Whole reports from the recorded gateways: valid for the collector, and only the wire keys."""

from __future__ import annotations

from typing import Any

import pytest

from agent.config import AgentConfig
from agent.publisher.outbox import Outbox
from agent.reporter import Reporter
from agent.runner import Runner
from agent.samplers import REGISTRY, build_samplers
from agent.samplers.base import SHAPES, keys_of
from protocol import shapes
from protocol.codec import decode, encode
from protocol.compact import resolve_carried
from protocol.models import validate
from tests.agent.samplers.conftest import ARCHER, MESH
from tests.agent.samplers.recorded import recorded

START = 1_795_437_000


def report(config: AgentConfig, board: str, step: str, *reset: str) -> dict[str, Any]:
    """The decoded report of one window after a priming read, through the real runner and outbox."""
    clock = [float(START)]
    runner = Runner(
        config,
        recorded(board),
        Reporter(build_samplers(("apps",))),
        Outbox(":memory:"),
        None,
        wall=lambda: clock[0],
    )
    runner.prime()
    runner.system = recorded(board, step, *reset)
    clock[0] = START + 900.0
    seq = runner.cycle(START + 900)
    record = next(r for r in runner.outbox.pending() if r.seq == seq)
    return resolve_carried(decode(record.frame))  # the first report after a start carries its view


@pytest.mark.parametrize(
    ("board", "steps"), [(ARCHER, ("step1",)), (ARCHER, ("step1", "step2-reset")), (MESH, ("step1",))]
)
def test_reports_are_valid_and_complete(config: AgentConfig, board: str, steps: tuple[str, ...]) -> None:
    message = report(config, board, *steps)
    validate(message)  # what the collector does at ingest
    body = message["body"]
    assert {name: s["state"] for name, s in body["samplers"].items()} == {
        f().name: "ok" for f in REGISTRY if f().name != "apps"
    }
    for section in ("system", "wan", "interfaces", "radios", "stations", "quality", "neighbours", "topology"):
        assert section in body, section
    assert body["system"]["agent"]["rss_kib"] > 0  # added by the runner


@pytest.mark.parametrize(("board", "steps"), [(ARCHER, ("step1",)), (MESH, ("step1",))])
def test_only_wire_keys(config: AgentConfig, board: str, steps: tuple[str, ...]) -> None:
    body = report(config, board, *steps)["body"]
    assert set(body) <= keys_of(shapes.ReportBody)
    for section, shape in SHAPES.items():
        rows = body[section] if isinstance(body[section], list) else [body[section]]
        for row in rows:
            assert set(row) <= keys_of(shape), (section, set(row) - keys_of(shape))
    assert set(body["system"]["board"]) <= keys_of(shapes.Board)


def test_report_sizes(config: AgentConfig) -> None:
    message = report(config, ARCHER, "step1")
    plain, packed = encode(message, compress=False), encode(message, compress=True)
    assert len(packed) < len(plain) < 16 * 1024  # six stations and two radios stay well under the cap

"""``homescope-emulator run``: a back-fill with truth and CRM files against a real collector."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collector.service import Service
from collector.settings import Settings
from emulator.cli import build_parser, main
from tests.broker import Broker


@pytest.fixture
async def collector(broker: Broker, tmp_path: Path) -> AsyncIterator[Service]:
    svc = Service(Settings(db=f"sqlite:///{tmp_path}/c.db", mqtt=broker.url, http="127.0.0.1:0", users="a:b-long-enough-4-tests",
                           mqtt_client_id=f"emu-cli-{tmp_path.name}"))  # fmt: skip
    await svc.start()
    yield svc
    await svc.stop()


@pytest.mark.timeout(90)
async def test_a_back_fill_writes_truth_and_crm_and_is_acknowledged(
    broker: Broker, collector: Service, tmp_path: Path
) -> None:
    import asyncio

    argv = ["run", "--homes", "4", "--personas", "reader:1,soho:1", "--days", "0.25", "--end", str(20242 * 86400),
            "--mqtt", broker.url, "--prefix", "cli-bf", "--truth", str(tmp_path / "t.json"),
            "--crm", str(tmp_path / "c.csv")]  # fmt: skip
    assert await asyncio.to_thread(main, argv) == 0
    truth = json.loads((tmp_path / "t.json").read_text())
    assert sorted(truth["homes"]) == [f"cli-bf-{i:05d}" for i in range(4)]
    assert (tmp_path / "c.csv").read_text().startswith("subscriber_id,gateway_id,")
    assert (await collector.store.counts())["reports"] >= 4 * 24 - 8


def test_the_live_options_are_unchanged_and_bad_personas_exit_2() -> None:
    args = build_parser().parse_args(
        ["run", "--homes", "3", "--mqtt", "mqtt://h:1", "--interval", "2", "--duration", "5"]
    )
    assert (args.homes, args.mqtt, args.interval, args.duration, args.days) == (
        3,
        "mqtt://h:1",
        2.0,
        5.0,
        None,
    )
    assert main(["run", "--personas", "nobody", "--days", "1"]) == 2


@pytest.mark.timeout(60)
async def test_live_mode_reports_on_the_wall_clock(broker: Broker, collector: Service) -> None:
    import asyncio

    argv = [
        "run",
        "--homes",
        "3",
        "--mqtt",
        broker.url,
        "--interval",
        "1",
        "--duration",
        "2.5",
        "--prefix",
        "cli-live",
    ]
    assert await asyncio.to_thread(main, argv) == 0
    gateways = [g for g in await collector.store.list_gateways() if g["gateway_id"].startswith("cli-live-")]
    assert len(gateways) == 3 and all(g["reports"] >= 2 for g in gateways)

"""The DPI as a sampler: unavailable with a reason where it cannot capture; the CLI entry."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent.cli import main
from agent.config import load_config
from agent.dpi.sampler import AppsSampler
from agent.samplers.base import SampleContext
from tests.agent.fakesystem import MISSING, FakeSystem


def ctx(system: FakeSystem, **overrides: object) -> SampleContext:
    return SampleContext(system, load_config(None, {"gateway_id": "gw-dpi", **overrides}), 0, 900)


def test_disabled_or_missing_interface_is_unavailable_with_a_reason() -> None:
    sampler = AppsSampler()
    assert (
        sampler.available(ctx(FakeSystem(), dpi_interface="")) == "DPI is disabled (dpi_interface is empty)"
    )
    if os.geteuid() == 0:
        reason = sampler.available(ctx(FakeSystem(files={"/sys/class/net/br-lan": MISSING})))
        assert reason == "LAN interface br-lan does not exist"
    else:
        assert sampler.available(ctx(FakeSystem())) == "the capture needs root (AF_PACKET)"


def test_classify_pcap_through_the_agent_cli(
    shared_testdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pcap = shared_testdata / "dpi" / "pcap" / "netflix.pcap"
    assert main(["classify-pcap", str(pcap)]) == 0
    flows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert flows and all({"l4", "src", "dst", "host", "app", "category"} <= set(f) for f in flows)
    assert any(f["app"] == "netflix" and f["category"] == "video" for f in flows)


@pytest.mark.skipif(os.geteuid() != 0, reason="the sampler only gets that far as root")
def test_a_bad_operator_table_makes_the_dpi_unavailable_naming_the_line() -> None:
    system = FakeSystem(
        files={
            "/sys/class/net/br-lan": "",
            "/etc/homescope/domains.tsv": "ok\tvideo\tok.example\nbad\tmovies\tx.example\n",
            "/proc/meminfo": "MemAvailable: 98304 kB\n",
        }
    )  # past the DPI memory gate
    reason = AppsSampler().available(ctx(system, dpi_extra_domains="/etc/homescope/domains.tsv"))
    assert reason == (
        "cannot load the operator's domain table: /etc/homescope/domains.tsv line 2: "
        "unknown category 'movies': 'bad\\tmovies\\tx.example'"
    )

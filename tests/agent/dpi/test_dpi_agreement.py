"""classify-pcap over every shared nDPI capture, scored against nDPI's own verdicts.

Hostname agreement must be at least 99% and category agreement at least 95% (see ndpi_reference.py for
the rules and the reviewed nDPI-application -> category table). Both are printed (``pytest -s`` or
``-rP`` shows them), for full inspection and for what the agent sees through its kernel filter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.dpi.classifier import Classifier
from agent.dpi.offline import iter_records, main
from tests.agent.dpi import ndpi_reference as ref

HOST_MIN = 0.99
CATEGORY_MIN = 0.97  # through the kernel filter as in full inspection (see also test_dpi_filter.py)
FULL_CATEGORY_MIN = 0.97
MORE_CATEGORY_MIN = 0.95


@pytest.fixture(scope="module")
def shared() -> Path:
    directory = ref.shared_dpi_dir()
    if not (directory / "expected_flows.jsonl").exists():
        pytest.fail(
            f"shared DPI test data not found at {directory}: set HOMESCOPE_SHARED to the shared/ folder"
        )
    return directory


@pytest.fixture(scope="module")
def captures(shared: Path) -> list[str]:
    files = sorted(str(p) for p in (shared / "pcap").iterdir() if p.is_file())
    assert len(files) >= 30
    return files


@pytest.fixture(scope="module")
def expected(shared: Path) -> list[dict[str, Any]]:
    return ref.load_expected(shared)


def test_classify_pcap_runs_on_every_capture(captures: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(captures) == 0
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert {r["pcap"] for r in records} == {Path(c).name for c in captures}
    for record in records:
        assert record["l4"] in ("TCP", "UDP")
        assert record.keys() >= {"src", "dst", "host", "app", "category"}
        assert record["category"] is not None
    assert any(r["src"].startswith("[") for r in records)  # IPv6 written [addr]:port
    assert "codm.pcap" in {r["pcap"] for r in records}  # raw-IP link type
    assert err == "" or "undecodable" in err


def test_agreement_on_more_captures() -> None:
    """The 60 further captures (games, calls, messengers, many without a hostname), full inspection.

    What the agent names through its kernel filter is held to the same goals in test_dpi_filter.py;
    bench/dpi.py prints both.
    """
    directory = ref.shared_dpi_dir().parent / "dpi-more"
    if not (directory / "expected_flows.jsonl").exists():
        pytest.fail(
            f"shared DPI test data not found at {directory}: set HOMESCOPE_SHARED to the shared/ folder"
        )
    files = sorted(str(p) for p in (directory / "pcap").iterdir() if p.is_file())
    assert len(files) == 60
    result = ref.compare(ref.load_expected(directory), iter_records(files, Classifier()))
    print(
        f"\nnDPI agreement (dpi-more): hostname {result.host_agree}/{result.host_total} = "
        f"{result.host_rate:.2%}, category {result.category_agree}/{result.category_total} = "
        f"{result.category_rate:.2%}"
    )
    for miss in result.host_misses + result.category_misses:
        print("  ", miss)
    assert not result.unmapped_apps, f"nDPI apps with no reviewed category: {dict(result.unmapped_apps)}"
    assert result.host_total > 150 and result.category_total > 500
    assert result.host_rate >= HOST_MIN, result.as_dict()
    assert result.category_rate >= MORE_CATEGORY_MIN, result.as_dict()


@pytest.mark.parametrize("kernel_filter", [False, True], ids=["full", "kernel-filter"])
def test_agreement_with_ndpi(
    captures: list[str], expected: list[dict[str, Any]], kernel_filter: bool
) -> None:
    ours = list(iter_records(captures, Classifier(), kernel_filter=kernel_filter))
    result = ref.compare(expected, ours)
    figures = result.as_dict()
    mode = "kernel filter" if kernel_filter else "full inspection"
    print(
        f"\nnDPI agreement ({mode}): hostname {result.host_agree}/{result.host_total} = "
        f"{result.host_rate:.2%}, category {result.category_agree}/{result.category_total} = "
        f"{result.category_rate:.2%}"
    )
    for miss in result.host_misses + result.category_misses:
        print("  ", miss)
    assert not result.unmapped_apps, f"nDPI apps with no reviewed category: {dict(result.unmapped_apps)}"
    assert result.host_total > 400 and result.category_total > 400
    assert result.host_rate >= HOST_MIN, figures
    assert result.category_rate >= (CATEGORY_MIN if kernel_filter else FULL_CATEGORY_MIN), figures

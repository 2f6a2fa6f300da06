"""2,000+ hostile payloads beside 1,000 valid reports: each quarantined with its reason,
no valid report touched, the collector never exits and its memory stays bounded."""

from __future__ import annotations

import collections
import random
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.runner import report_frame
from protocol.topics import topic_for
from tests.broker import Broker
from tests.faults.fleetproc import report_body, report_for
from tests.faults.harness import CollectorProc, publish_once, read_store, stored_count, wait_until
from tests.faults.hostile import blob_case, hostile_cases

PER_CATEGORY = 110  # x 19 categories + bad topics = 2,101 hostile payloads
BLOBS = 3  # of 10 MB each
VALID_GATEWAYS, VALID_SEQS = 50, 20
#: The collector process's peak RSS must stay under this (it is ~70 MB at rest).
RSS_LIMIT_KIB = 250 * 1024


@pytest.mark.timeout(150)
def test_hostile_payloads_are_quarantined_with_reasons_and_valid_reports_are_untouched(
    fault_broker: Broker, collector_proc: CollectorProc, figures: Callable[..., None]
) -> None:
    collector_proc.start()
    rest_rss = collector_proc.peak_rss_kib
    cases = list(hostile_cases(PER_CATEGORY))
    blobs = [blob_case(i) for i in range(BLOBS)]
    valid = [
        (topic_for(f"ok-{g:03d}", "report"), report_for(f"ok-{g:03d}", 900, 1_700_000_100, 6, 99, s))
        for g in range(VALID_GATEWAYS)
        for s in range(1, VALID_SEQS + 1)
    ]
    expected = {topic: reasons for _, (topic, _, reasons) in cases}
    expected.update({topic: reasons for topic, _, reasons in blobs})
    stream: list[tuple[str, bytes]] = (
        [(t, p) for _, (t, p, _) in cases] + [(t, p) for t, p, _ in blobs] + valid
    )
    random.Random(9).shuffle(stream)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hostile", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", fault_broker.port)
    client.loop_start()
    started = time.monotonic()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in stream]
        for info in infos:
            info.wait_for_publish(60)
            collector_proc.health()  # samples the collector's RSS while it works
            if not collector_proc.alive:
                break
    finally:
        client.disconnect()
        client.loop_stop()
    assert collector_proc.alive, collector_proc.log()[-3000:]
    wait_until(
        lambda: (
            stored_count(collector_proc.db, "ok-") == len(valid)
            and (collector_proc.health() or {}).get("quarantined", 0) >= len(expected)
        ),
        60,
        "every message handled",
    )
    took = time.monotonic() - started
    assert collector_proc.alive
    health = collector_proc.health() or {}
    view = read_store(collector_proc.db)

    rows = {q["topic"]: q for q in view.quarantine}
    wrong = {
        t: rows.get(t, {}).get("reason")
        for t, reasons in expected.items()
        if rows.get(t, {}).get("reason") not in reasons
    }
    by_reason = collections.Counter(q["reason"] for q in view.quarantine)
    valid_quarantined = [q for q in view.quarantine if q["topic"].split("/")[2].startswith("ok-")]
    figures(
        hostile=len(expected),
        valid=len(valid),
        stored_valid=len({k for k in view.report_keys if k[0].startswith("ok-")}),
        quarantined=len(view.quarantine),
        valid_quarantined=len(valid_quarantined),
        quarantined_and_acked=health.get("quarantined_acked"),
        wrong_reason=len(wrong),
        seconds=round(took, 1),
        collector_rss_rest_mib=round(rest_rss / 1024, 1),
        collector_rss_peak_mib=round(collector_proc.peak_rss_kib / 1024, 1),
        reasons=dict(sorted(by_reason.items())),
    )
    assert not wrong, dict(list(wrong.items())[:10])
    assert len(view.quarantine) == len(expected)  # one row each, nothing else
    assert not valid_quarantined
    assert {k for k in view.report_keys if k[0].startswith("ok-")} == {
        (f"ok-{g:03d}", 99, s) for g in range(VALID_GATEWAYS) for s in range(1, VALID_SEQS + 1)
    }
    assert collector_proc.peak_rss_kib < RSS_LIMIT_KIB


@pytest.mark.timeout(90)
def test_a_valid_report_past_the_store_s_64_bit_columns_is_quarantined_and_ingest_goes_on(
    fault_broker: Broker, collector_proc: CollectorProc
) -> None:
    # seq is U64 on the wire and 64-bit signed in the store: refused for good, tried record by
    # record, quarantined as store_rejected; the reports beside it are stored, nothing stalls
    collector_proc.start()
    valid = [
        (topic_for(f"ok-{g:02d}", "report"), report_for(f"ok-{g:02d}", 900, 1_700_000_100, 3, 5, 1))
        for g in range(20)
    ]
    window = (1_700_000_100, 1_700_001_000)
    huge = [
        (
            topic_for(f"big-{g}", "report"),
            report_frame(f"big-{g}", 5, 2**63 + g, window, 4500, report_body(f"big-{g}", 1, 900, 3), 0),
        )
        for g in range(3)
    ]
    stream = valid[:10] + huge + valid[10:]
    publish_once(fault_broker.port, stream)
    wait_until(
        lambda: (
            stored_count(collector_proc.db, "ok-") == 20
            and (collector_proc.health() or {}).get("quarantined", 0) >= 3
        ),
        60,
        "valid reports stored and the huge ones quarantined",
    )
    view = read_store(collector_proc.db)
    assert sorted((q["topic"], q["reason"]) for q in view.quarantine) == [
        (topic_for(f"big-{g}", "report"), "store_rejected") for g in range(3)
    ]
    assert collector_proc.alive

"""MQTT ingest: receive, triage, store in batches, then acknowledge.

``triage`` decides what a message becomes (pure); ``intake`` what a batch becomes before
its commit (quota, privacy rewrite, quarantine); ``commit`` stores it (retries); ``clock``
flags gateways whose clock disagrees with ours; ``client`` owns the MQTT session, the batches
and the acknowledgements (application ``ack`` first, then the MQTT PUBACK).
"""

from collector.ingest.client import ACK_RANGES_MAX, Ingest
from collector.ingest.clock import ClockWatch
from collector.ingest.commit import IngestStats
from collector.ingest.crash import crash_point
from collector.ingest.triage import (
    OVERSIZE_HEAD,
    Incoming,
    IngestReason,
    Key,
    Triage,
    ack_ranges,
    classify,
    triage,
)

__all__ = [
    "ACK_RANGES_MAX",
    "OVERSIZE_HEAD",
    "ClockWatch",
    "Incoming",
    "Ingest",
    "IngestReason",
    "IngestStats",
    "Key",
    "Triage",
    "ack_ranges",
    "classify",
    "crash_point",
    "triage",
]

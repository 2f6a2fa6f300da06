"""Delivery of campaign messages and audience pushes: a file drop and a signed webhook built in.

The SMS gateway, dialler or app-push service is the operator's: it picks up the CSV drop or
receives the webhook. A sender returns, per message, whether it was handed over; a webhook
retries connection errors and 5xx answers with backoff, never 4xx, and sends the same
``Idempotency-Key`` on every attempt so the receiver can drop repeats.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from collector.marketing import MarketingError
from collector.marketing.export import KEY_HEADER, SIGNATURE_HEADER, body_bytes, idempotency_key, sign

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """One message to deliver."""

    message_id: int
    campaign_id: int
    subscriber_id: str
    gateway_id: str
    channel: str
    step: str
    offer_id: str
    body: str


class Sender(Protocol):
    """Hands messages over to the operator's delivery system."""

    async def send(self, messages: Sequence[Outgoing]) -> list[bool]:
        """Per message, whether it was handed over."""
        ...


class FileSender:
    """Appends each batch as a CSV file in a drop directory (picked up by the SMS gateway...)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    async def send(self, messages: Sequence[Outgoing]) -> list[bool]:
        if not messages:
            return []

        def write() -> None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"campaign-{messages[0].campaign_id}-{time.time_ns()}.csv"
            tmp = self.directory / (name + ".part")
            at = f"{time.time():.3f}"  # when it was handed over: the pick-up's own contact log
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=[*asdict(messages[0]), "handed_at"])
                writer.writeheader()
                writer.writerows({**asdict(m), "handed_at": at} for m in messages)
            os.replace(tmp, self.directory / name)  # the pick-up never sees half a file

        await asyncio.to_thread(write)
        return [True] * len(messages)


def post_signed(url: str, payload: Mapping[str, Any], secret: bytes, key: str, attempts: int = 4,
                backoff_s: float = 0.5, timeout_s: float = 10.0) -> tuple[int, int]:  # fmt: skip
    """POST ``payload`` signed, retried on connection errors and 5xx: (HTTP status, attempts used)."""
    body = body_bytes(payload)
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body), KEY_HEADER: key}
    status = 0
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return int(response.status), attempt
        except urllib.error.HTTPError as exc:
            status = exc.code
            if status < 500:
                return status, attempt
        except OSError as exc:
            status = 0
            log.debug("webhook %s attempt %d: %s", url, attempt, exc)
        if attempt < attempts:
            time.sleep(backoff_s * 2 ** (attempt - 1))
    return status, attempts


class WebhookSender:
    """POSTs each batch as signed JSON; the idempotency key covers the batch's message ids."""

    def __init__(self, url: str, secret: bytes, attempts: int = 4, backoff_s: float = 0.5) -> None:
        if not url.startswith(("http://", "https://")):
            raise MarketingError(f"webhook url must be http(s): {url!r}")
        self.url, self.secret, self.attempts, self.backoff_s = url, secret, attempts, backoff_s

    async def send(self, messages: Sequence[Outgoing]) -> list[bool]:
        if not messages:
            return []
        payload = {"messages": [asdict(m) for m in messages]}
        key = idempotency_key("messages", ",".join(str(m.message_id) for m in messages), self.url,
                              body_bytes(payload))  # fmt: skip
        status, _ = await asyncio.to_thread(
            post_signed, self.url, payload, self.secret, key, self.attempts, self.backoff_s
        )
        ok = 200 <= status < 300
        if not ok:
            log.warning("webhook %s refused a batch of %d messages: HTTP %s", self.url, len(messages), status)
        return [ok] * len(messages)


def sender_from_url(spec: str, secret: bytes) -> Sender:
    """``file:/drop/dir`` or ``http(s)://...`` (``HOMESCOPE_SENDER``)."""
    if spec.startswith("file:"):
        return FileSender(spec[len("file:") :])
    return WebhookSender(spec, secret)

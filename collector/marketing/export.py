"""Audience exports: a CSV for spreadsheets and a signed JSON body for a CRM webhook.

The CSV is UTF-8 with a byte-order mark (so Excel reads accents right) and every cell that
starts with ``= + - @`` (or a tab or carriage return) is prefixed with ``'``, so a
spreadsheet never runs a subscriber-controlled value as a formula (OWASP CSV injection).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

CONTACT_FIELDS = ("name", "phone", "address")
FORMULA = ("=", "+", "-", "@", "\t", "\r")
SIGNATURE_HEADER = "X-Homescope-Signature"
KEY_HEADER = "Idempotency-Key"


def neutralise(value: Any) -> str:
    """A cell's text, defused if a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA) else text


def audience_csv(members: Iterable[Mapping[str, Any]], with_contacts: bool) -> str:
    """The CSV of an audience's members (``offer`` per member if given)."""
    columns = ["subscriber_id", "gateway_id", *(CONTACT_FIELDS if with_contacts else ()), "area",
               "community", "offer", "evidence"]  # fmt: skip
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for m in members:
        writer.writerow([neutralise(m.get(c)) for c in columns])
    return out.getvalue()


def body_bytes(payload: Mapping[str, Any]) -> bytes:
    """The canonical JSON of a webhook body (sorted keys: the same content signs the same)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: bytes, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the body, for the signature header."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is this body's (constant-time compare), for receivers and tests."""
    return hmac.compare_digest(sign(secret, body), signature)


def idempotency_key(kind: str, ident: object, url: str, body: bytes) -> str:
    """One key per content and destination: a retry or a repeated push reuses it."""
    return hashlib.sha256(f"{kind}:{ident}:{url}:".encode() + body).hexdigest()[:32]

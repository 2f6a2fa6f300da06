"""The per-deployment pseudonym key: 32 random bytes in a file of its own (mode 0600).

Kept out of the database on purpose: a copy of the store without the key cannot link a
pseudonym to a device. Default place: beside a SQLite store (``<db>.privacy-key``), else
``homescope-privacy.key`` in the working directory; ``HOMESCOPE_PRIVACY_KEY_FILE`` names it.
Losing it only makes every terminal look new; back it up apart from the database.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from collector.settings import Settings

KEY_BYTES = 32


class PrivacyKeyError(ValueError):
    """The key file exists but cannot be used; the message names it."""


def key_path(settings: Settings) -> Path | None:
    """Where the key lives (``None``: an in-memory store gets a key per process)."""
    if settings.privacy_key_file:
        return Path(settings.privacy_key_file)
    if settings.db.startswith("sqlite:"):
        path = settings.db.removeprefix("sqlite:///")
        if ":memory:" in path or not path:
            return None
        return Path(path).with_suffix(".privacy-key")
    return Path("homescope-privacy.key")


def load_key(settings: Settings) -> bytes:
    """The deployment's key, created on first use."""
    path = key_path(settings)
    if path is None:
        return secrets.token_bytes(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        data = path.read_bytes()
        if len(data) != KEY_BYTES:
            raise PrivacyKeyError(f"{path}: a privacy key is {KEY_BYTES} bytes, found {len(data)}") from None
        return data
    except OSError as exc:
        raise PrivacyKeyError(f"{path}: cannot create the privacy key: {exc}") from exc
    key = secrets.token_bytes(KEY_BYTES)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def home_pseudonym(key: bytes, gateway_id: str) -> str:
    """A home's pseudonym in aggregate-only tables (the unclassified domains' memberships): 128 bits of
    HMAC-SHA256(key, "home:" + gateway id). Distinct homes stay distinct; without the key nobody can
    tell which home a row is; with it, the erase finds a home's rows."""
    return hmac.new(key, f"home:{gateway_id}".encode(), hashlib.sha256).hexdigest()[:32]

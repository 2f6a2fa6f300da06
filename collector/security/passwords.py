"""Password hashes (scrypt) and the password policy (ASVS 2.1: length, common passwords).

Hashes are ``scrypt$N$r$p$salt$hash`` (hex), so the cost can be raised later and old
hashes still verify. scrypt is in the standard library; N=2**14, r=8, p=1 costs ~16 MiB
and ~40 ms on this project's machines, run off the event loop by the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache
from importlib import resources

from collector.security.errors import PolicyError

MIN_LENGTH = 12
#: scrypt's own limits are far above this; a cap keeps one sign-in from costing a megabyte of hashing input.
MAX_LENGTH = 256
N, R, P = 2**14, 8, 1
_SALT = 16


def hash_password(password: str, *, n: int = N) -> str:
    """A new salted scrypt hash of ``password``."""
    salt = secrets.token_bytes(_SALT)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=R, p=P, maxmem=64 * 1024 * 1024, dklen=32)
    return f"scrypt${n}${R}${P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant time in the digest comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        found = hashlib.scrypt(
            password.encode()[: MAX_LENGTH * 4],
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=64 * 1024 * 1024,
            dklen=len(digest) // 2,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found.hex(), digest)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """Verified against when a user name is unknown, so the time taken does not tell which names exist."""
    return hash_password(secrets.token_hex(16))


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of the 10,000 most common passwords (``common-passwords.tsv``)."""
    text = resources.files(__package__).joinpath("common-passwords.tsv").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check_policy(password: str, username: str = "") -> None:
    """Raise :class:`PolicyError` saying why ``password`` may not be used (ASVS 2.1.1-2.1.9).

    At least 12 characters, at most 256, any characters (spaces and Unicode allowed,
    nothing truncated); not one of the 10,000 most common passwords (case-insensitive,
    also with digits and symbols stripped from its end); not the user name.
    """
    if len(password) < MIN_LENGTH:
        raise PolicyError(f"password: at least {MIN_LENGTH} characters (got {len(password)})")
    if len(password) > MAX_LENGTH:
        raise PolicyError(f"password: at most {MAX_LENGTH} characters")
    lower = password.lower()
    common = common_passwords()
    if lower in common or lower.rstrip("0123456789!?.@#$%&*-_ ") in common:
        raise PolicyError("password: one of the 10,000 most common passwords; choose another")
    if len(username) >= 3 and username.lower() in lower:
        raise PolicyError("password: must not contain the user name")
    if len(set(password)) < 4:
        raise PolicyError("password: too few different characters")

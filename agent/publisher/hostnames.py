"""ASCII host names for ``socket`` and ``ssl`` on a Python without the ``idna`` codec.

CPython encodes every ``str`` host name with the ``idna`` codec: ``socket.getaddrinfo`` always,
and ``ssl`` for the server name (SNI and certificate matching). That codec imports ``stringprep``
and ``unicodedata``, which OpenWrt ships apart from ``python3-light`` (in ``python3-codecs``,
~0.7 MB of flash). Without it the lookup fails with ``LookupError: unknown encoding: idna`` and
the MQTT connection can never be made.

Broker host names are ASCII in practice, so when the real codec is missing the agent registers
a stand-in that passes ASCII names through (checking label lengths as IDNA's ToASCII does for
ASCII labels) and refuses anything else with a message naming the package that would help.
Where the real codec exists it is always found first and this module changes nothing.
"""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING

from agent.logger import Logger

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

log = Logger(__name__)

_MAX_LABEL = 63
_registered = False


def _labels_ok(name: str) -> bool:
    labels = name[:-1].split(".") if name.endswith(".") else name.split(".")
    return all(0 < len(label) <= _MAX_LABEL for label in labels)


def encode_ascii(name: str, errors: str = "strict", /) -> tuple[bytes, int]:
    """The ``idna`` encoding of an ASCII host name: the same bytes; non-ASCII is refused."""
    if not name:
        return b"", 0
    if not name.isascii():
        raise UnicodeError(
            f"host name {name!r} is not ASCII; internationalised names need the python3-codecs package"
        )
    if not _labels_ok(name):
        raise UnicodeError(f"host name {name!r} has an empty label or one longer than {_MAX_LABEL}")
    return name.encode("ascii"), len(name)


def decode_ascii(data: ReadableBuffer, errors: str = "strict", /) -> tuple[str, int]:
    """ASCII bytes back to text (``ssl`` decodes the names it reports)."""
    raw = bytes(data)
    return raw.decode("ascii", errors), len(raw)


def _search(name: str) -> codecs.CodecInfo | None:
    if name != "idna":
        return None
    return codecs.CodecInfo(encode_ascii, decode_ascii, name="idna")


def ensure_idna_codec() -> bool:
    """Make ``"idna"`` resolvable; True when the ASCII stand-in had to be registered."""
    global _registered
    if _registered:
        return True
    try:
        codecs.lookup("idna")
        return False
    except LookupError:
        pass
    codecs.register(_search)
    _registered = True
    log.info("the idna codec is missing (no python3-codecs): ASCII host names only")
    return True

"""The one exception of the wire layer, with an enumerated reason."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a payload was refused; stored with every quarantined message."""

    EMPTY = "empty"
    OVERSIZE = "oversize"
    BAD_FRAME = "bad_frame"
    BAD_COMPRESSION = "bad_compression"
    TRUNCATED = "truncated"
    MALFORMED = "malformed"
    NOT_A_MAP = "not_a_map"
    NON_STRING_KEY = "non_string_key"
    DUPLICATE_KEY = "duplicate_key"
    TOO_DEEP = "too_deep"
    BAD_UTF8 = "bad_utf8"
    UNKNOWN_MAJOR = "unknown_major"
    BAD_VERSION = "bad_version"
    BAD_TOPIC = "bad_topic"
    IDENTITY_MISMATCH = "identity_mismatch"
    KIND_MISMATCH = "kind_mismatch"
    INVALID = "invalid"
    UNKNOWN_DICTIONARY = "unknown_dictionary"  # a frame compressed with a preset dictionary this side lacks
    INTERNAL = "internal_error"  # decoding failed in a way none of the above names (a bug)


class ProtocolError(ValueError):
    """A payload or topic that does not follow the v1 contract."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)

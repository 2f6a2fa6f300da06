"""Protocol versioning.

``major.minor``: a receiver refuses a different major; a minor bump only adds optional
fields, so an older receiver ignores what it does not know and a newer one defaults
what an older sender leaves out.
"""

from __future__ import annotations

from protocol.errors import ProtocolError, Reason

PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 3  # 1.1: apps[].methods (optional); 1.2: compact reports, preset dictionaries, body.view,
# stations[].dhcp_vc and dhcp_prl (optional); 1.3: unclassified (optional)
PROTOCOL_VERSION = f"{PROTOCOL_MAJOR}.{PROTOCOL_MINOR}"


def check_version(value: object) -> tuple[int, int]:
    """Parse a ``"major.minor"`` string and refuse an unknown major version."""
    if not isinstance(value, str):
        raise ProtocolError(Reason.BAD_VERSION, f"version must be a string, not {type(value).__name__}")
    major_s, dot, minor_s = value.partition(".")
    if not dot or not major_s.isdigit() or not minor_s.isdigit() or len(value) > 11:
        raise ProtocolError(Reason.BAD_VERSION, f"version {value[:20]!r} is not major.minor")
    major, minor = int(major_s), int(minor_s)
    if major != PROTOCOL_MAJOR:
        raise ProtocolError(Reason.UNKNOWN_MAJOR, f"major version {major}, this side speaks {PROTOCOL_MAJOR}")
    return major, minor

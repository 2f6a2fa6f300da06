"""Small deep packet inspection for the gateway agent.

Looks only at the first packets of each flow (DNS, TLS ClientHello, QUIC Initial, HTTP request line),
names the service behind each flow from a domain table the project owns (``domains.tsv``) and leaves the
counting of volumes to conntrack where the gateway has it. See ``docs/dpi.md``.

This module holds only the package's exception so that every submodule can import it without cycles.
"""

from __future__ import annotations


class DpiError(ValueError):
    """Input that cannot be parsed: a truncated or malformed capture file, packet or handshake."""

"""The homescope wire contract: topics, envelope, codec and message shapes.

This package imports nothing of ours and, except for :mod:`protocol.models`, nothing
beyond the standard library and msgpack, so the gateway agent can use it as is.
"""

from protocol.codec import decode, encode
from protocol.errors import ProtocolError
from protocol.version import PROTOCOL_VERSION

__all__ = ["PROTOCOL_VERSION", "ProtocolError", "decode", "encode"]

"""The homescope wire contract: topics, envelope, codec and message shapes.

This package imports nothing of ours and, except for the server side (:mod:`protocol.models`
and :mod:`protocol.inbound`, the collector's one way in), nothing beyond the standard library
and msgpack, so the gateway agent can use it as is.
"""

from protocol.codec import decode, encode
from protocol.errors import ProtocolError
from protocol.version import PROTOCOL_VERSION

__all__ = ["PROTOCOL_VERSION", "ProtocolError", "decode", "encode"]

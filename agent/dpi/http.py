"""Plain HTTP/1.x request parsing: the method, the Host header that names the server, and the User-Agent.

Only the first segment of a request is looked at; a Host header beyond it (rare: huge cookies come after
Host in every browser) is not found.
"""

from __future__ import annotations

from dataclasses import dataclass

METHODS = (
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"CONNECT ",
    b"PATCH ",
    b"TRACE ",
    b"NOTIFY ",
    b"M-SEARCH ",
    b"SUBSCRIBE ",
)
_MAX_HEADER_SCAN = 8192


@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP request's method and Host header value (lower-cased, as sent: a port may follow)."""

    method: str
    host: str | None
    user_agent: str | None = None


def looks_like_request(payload: bytes) -> bool:
    """Whether a payload starts with an HTTP request method."""
    return payload[:10].startswith(METHODS)


def parse_request(payload: bytes) -> Request | None:
    """Parse the request head at the start of ``payload``; None if it is not an HTTP request."""
    if not looks_like_request(payload):
        return None
    head = payload[:_MAX_HEADER_SCAN]
    line_end = head.find(b"\r\n")
    if line_end < 0 or b" HTTP/" not in head[:line_end]:
        return None
    method = head[: head.index(b" ")].decode("ascii")
    host: str | None = None
    agent: str | None = None
    for line in head[line_end + 2 :].split(b"\r\n"):
        if not line:
            break
        name, sep, value = line.partition(b":")
        header = name.strip().lower()
        if sep and header == b"host":
            host = value.strip().decode("ascii", "replace").lower() or None
        elif sep and header == b"user-agent":
            agent = value.strip().decode("ascii", "replace") or None
    return Request(method, host, agent)


def strip_port(host: str) -> str:
    """``example.com:8080`` -> ``example.com``; IPv6 literals keep their brackets' content only."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    name, sep, port = host.rpartition(":")
    return name if sep and port.isdigit() and ":" not in name else host

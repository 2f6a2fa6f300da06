"""Commands (collector -> gateway) and their replies (gateway -> collector).

A command travels on ``homescope/v1/{gw}/cmd``; the broker ACL lets only collectors
write there and only that gateway read it. The gateway still trusts nothing: it runs a
command only if the envelope names it, the command is known, it has not expired (and
does not claim to live longer than :data:`MAX_TTL_S`), and its id was not seen before.
When the deployment sets a command key, the command must also carry a valid HMAC of
its fields (defence in depth for brokers without the generated ACL).

The answer goes up on ``homescope/v1/{gw}/reply``, never through the spool: a command is
interactive, and an answer nobody waits for any more is worth nothing. Stdlib + msgpack
only: the agent imports this module.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from protocol.codec import encode, envelope, open_envelope
from protocol.errors import ProtocolError, Reason
from protocol.topics import Kind

#: What a gateway may be asked to do.
COMMANDS = ("measure_now",)
#: A command that claims to stay valid longer than this is refused (a forged or replayed
#: command cannot live for days); the collector's default is 60 s.
MAX_TTL_S = 300
#: Command ids: 8-64 characters of [A-Za-z0-9_-].
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


class CommandRefused(Exception):
    """A command the gateway will not run; ``reason`` is one word for logs and replies."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class Command(NamedTuple):
    """A command as the agent received it (NamedTuple: dataclasses import inspect on the gateway)."""

    id: str
    command: str
    args: dict[str, Any]
    sent_at: int
    expires_at: int


class Reply(NamedTuple):
    """A gateway's reply as the collector received it."""

    gateway_id: str
    id: str
    ok: bool
    result: dict[str, Any]
    error: str
    sent_at: int


def _signature(key: bytes, gateway_id: str, cid: str, command: str, expires_at: int) -> str:
    # imported here: hashlib and hmac load OpenSSL (~2 MiB on a 32-bit gateway), which an agent
    # without a command key and without TLS never needs
    import hashlib
    import hmac

    text = f"{gateway_id}|{cid}|{command}|{expires_at}"
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _same(a: str, b: str) -> bool:
    import hmac  # loaded by _signature already

    return hmac.compare_digest(a, b)


def valid_id(cid: object) -> bool:
    return isinstance(cid, str) and 8 <= len(cid) <= 64 and set(cid) <= _ID_CHARS


def command_frame(
    gateway_id: str,
    cid: str,
    command: str,
    *,
    sent_at: int,
    expires_at: int,
    args: dict[str, Any] | None = None,
    key: bytes | None = None,
) -> bytes:
    """The frame of one command for ``gateway_id`` (signed when ``key`` is given)."""
    if command not in COMMANDS or not valid_id(cid):
        raise ValueError(f"unknown command {command!r} or bad id {cid!r}")
    fields: dict[str, Any] = {
        "sent_at": sent_at,
        "id": cid,
        "command": command,
        "args": args or {},
        "expires_at": expires_at,
    }
    if key:
        fields["sig"] = _signature(key, gateway_id, cid, command, expires_at)
    return encode(envelope(Kind.CMD, gateway_id, **fields))


def parse_command(frame: bytes, topic: str, gateway_id: str, now: float, key: bytes | None = None) -> Command:
    """The command in ``frame`` if ``gateway_id`` may run it now; else :class:`CommandRefused`."""
    try:
        message = open_envelope(frame, topic)
    except ProtocolError as exc:
        raise CommandRefused(str(exc.reason), exc.detail) from exc
    if message.get("gateway_id") != gateway_id:
        raise CommandRefused("not_mine", f"for {str(message.get('gateway_id'))[:70]!r}")
    cid, command, args = message.get("id"), message.get("command"), message.get("args", {})
    expires_at, sent_at = message.get("expires_at"), message.get("sent_at")
    if not valid_id(cid) or not isinstance(args, dict):
        raise CommandRefused("invalid", "id or args")
    if not isinstance(expires_at, int) or not isinstance(sent_at, int):
        raise CommandRefused("invalid", "expires_at and sent_at must be integers")
    if command not in COMMANDS:
        raise CommandRefused("unknown_command", str(command)[:40])
    if expires_at < now:
        raise CommandRefused("expired", f"{now - expires_at:.0f} s ago")
    if expires_at - now > MAX_TTL_S or expires_at - sent_at > MAX_TTL_S:
        raise CommandRefused("too_long", f"valid for more than {MAX_TTL_S} s")
    if key:
        sig = message.get("sig")
        expected = _signature(key, gateway_id, str(cid), str(command), expires_at)
        if not isinstance(sig, str) or not _same(sig, expected):
            raise CommandRefused("bad_signature")
    return Command(str(cid), str(command), args, sent_at, expires_at)


def reply_frame(
    gateway_id: str, cid: str, *, sent_at: int, result: dict[str, Any] | None = None, error: str = ""
) -> bytes:
    """The answer to command ``cid``: its result, or why it was not run."""
    fields: dict[str, Any] = {"sent_at": sent_at, "id": cid, "ok": not error}
    if error:
        fields["error"] = error[:200]
    else:
        fields["result"] = result or {}
    return encode(envelope(Kind.REPLY, gateway_id, **fields))


def parse_reply(frame: bytes, topic: str) -> Reply:
    """A reply as received by the collector (gateway id from the topic, which the ACL binds)."""
    message = open_envelope(frame, topic)
    cid, ok, result = message.get("id"), message.get("ok"), message.get("result", {})
    if not valid_id(cid) or not isinstance(ok, bool) or not isinstance(result, dict):
        raise ProtocolError(Reason.INVALID, "reply needs an id, a boolean ok and a map result")
    return Reply(
        gateway_id=str(message["gateway_id"]),
        id=str(cid),
        ok=ok,
        result=result,
        error=str(message.get("error", ""))[:200],
        sent_at=int(message.get("sent_at") or 0),
    )

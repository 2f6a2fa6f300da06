"""The msgspec mirror (``check``) and the pydantic models (``validate``) give the same verdicts."""

from __future__ import annotations

import copy
import math
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.home import VirtualHome
from protocol.codec import decode_body
from protocol.errors import ProtocolError
from protocol.inbound import _canonical as canonical
from protocol.models import check, closed_message, validate
from tests.protocol.messages import ack, cmd, event, report, status

NASTY: list[Any] = [
    None, True, False, 0, -1, 1, 5.0, 0.5, 2**32, 2**63 - 1, 2**64 - 1, -(2**63),
    math.nan, math.inf, -math.inf, 1e308, "", "5", "x" * 129, "x" * 501, "aa:bb:cc:dd:ee:ff",
    "aa:bb:cc:dd:ee:ff\n", "AA:BB:CC:DD:EE:FF", [], [1, 2], ["a"] * 17, {}, {"a": 1}, b"bytes",
    "report", "event", "status", "ack", "cmd", "online", "2.4GHz", "wired", "wan",
]  # fmt: skip


def verdict(fn: Any, message: dict[str, Any]) -> bool:
    try:
        fn(message)
    except ProtocolError:
        return False
    return True


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``node`` (map keys and list positions)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


def full_report() -> dict[str, Any]:
    home = VirtualHome("mirror-gw", 11)
    message = report("mirror-gw")
    message["body"] = home.report_body(900, 1_700_000_900)
    return message


BASES = [full_report(), report(), event(), status(), ack(), cmd()]


@pytest.mark.parametrize("message", BASES, ids=lambda m: str(m["kind"]))
def test_valid_messages_pass_both(message: dict[str, Any]) -> None:
    assert verdict(validate, message) and verdict(check, message)
    assert check(message) == message["kind"]


def draw_change(data: st.DataObject) -> tuple[dict[str, Any], Any, Any]:
    """A copy of one base message, a map or list inside it, and one of its keys or positions."""
    message = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    path = data.draw(st.sampled_from(paths(message)))
    node = message
    for step in path[:-1]:
        node = node[step]
    return message, node, path[-1]


@settings(max_examples=600, deadline=None)
@given(st.data())
def test_any_one_changed_value_gets_the_same_verdict(data: st.DataObject) -> None:
    message, node, key = draw_change(data)
    if data.draw(st.booleans(), label="delete") and isinstance(node, dict):
        del node[key]
    else:
        node[key] = data.draw(st.sampled_from(NASTY))
    assert verdict(check, message) == verdict(validate, message), key


@pytest.mark.parametrize("extra", [{"new_field": [1, {"x": 2}]}, {"kind": "nope"}, {"v": 1}])
def test_unknown_fields_are_ignored_and_wrong_tags_refused_alike(extra: dict[str, Any]) -> None:
    message = {**report(), **extra}
    assert verdict(check, message) == verdict(validate, message)


def test_the_mirror_names_the_field() -> None:
    message = report()
    message["body"]["stations"] = [{"mac": "AA:BB:CC:DD:EE:FF"}]
    with pytest.raises(ProtocolError, match=r"stations\[0\]\.mac"):
        check(message)


@pytest.mark.parametrize("mac", ["aa:bb:cc:dd:ee:ff\n", "aa:bb:cc:dd:ee:fff", "AA:BB:CC:DD:EE:FF"])
def test_patterns_anchor_at_the_very_end_in_both(mac: str) -> None:
    message = report()
    message["body"]["stations"] = [{"mac": mac}]
    assert not verdict(validate, message) and not verdict(check, message)
    # the closed mirror checks station MACs after decoding (cheaper than per field): same verdict
    message["body"]["stations"] = [{"mac": "aa:bb:cc:dd:ee:01"}, {"mac": mac}]
    assert closed_message(msgpack.packb(message, use_bin_type=True)) is None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.from_regex(r"\A[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z"),
            st.text(alphabet="0123456789abcdefABF:-\n", min_size=15, max_size=19),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_the_closed_mirror_judges_station_macs_as_the_full_way_does(macs: list[str]) -> None:
    message = report()
    message["body"]["stations"] = [{"mac": mac} for mac in macs]
    assert (closed_verdict(message) is not None) == verdict(validate, message)


# -- the closed mirror (closed_message): the collector's fast way ---------------------------------
def closed_verdict(message: dict[str, Any]) -> str | None:
    body = msgpack.packb(message, use_bin_type=True)
    found = closed_message(body)
    kind = None if found is None else str(type(found).__struct_config__.tag)
    if kind is not None:
        # whatever the fast way vouches for, the full way accepts as the same message
        assert decode_body(body) == message
        assert validate(message).kind == kind
    return kind


@pytest.mark.parametrize("message", BASES, ids=lambda m: str(m["kind"]))
def test_the_closed_mirror_vouches_for_every_valid_message_but_commands(message: dict[str, Any]) -> None:
    assert closed_verdict(message) == (None if message["kind"] == "cmd" else message["kind"])


@settings(max_examples=600, deadline=None)
@given(st.data())
def test_the_closed_mirror_never_vouches_for_what_the_full_way_refuses(data: st.DataObject) -> None:
    message, node, key = draw_change(data)
    action = data.draw(st.sampled_from(["delete", "set", "add"]))
    if action == "delete" and isinstance(node, dict):
        del node[key]
    elif action == "add" and isinstance(node, dict):
        node[data.draw(st.sampled_from(["extra", 1, b"k", "mac"]))] = data.draw(st.sampled_from(NASTY_KEYS))
    else:
        node[key] = data.draw(st.sampled_from(NASTY_KEYS))
    if closed_verdict(message) is None:
        return
    assert verdict(validate, message)


def nested(depth: int) -> list[Any]:
    node: list[Any] = [1]
    for _ in range(depth - 1):
        node = [node]
    return node


NASTY_KEYS: list[Any] = [*NASTY, {1: "x"}, {"a": {2: 3}}, nested(18)]


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.update(new_field=1),  # a newer minor's field: the full way keeps it
        lambda m: m["body"]["stations"][0].update({7: "x"}),  # a non-string key
        lambda m: m["body"].update(deep=nested(18)),  # deeper than 16
    ],
    ids=["unknown-field", "int-key", "too-deep"],
)
def test_the_closed_mirror_leaves_unknown_shapes_to_the_full_way(change: Any) -> None:
    message = full_report()
    change(message)
    assert closed_message(msgpack.packb(message, use_bin_type=True)) is None


def test_a_repeated_key_is_not_canonical_so_the_full_way_refuses_it() -> None:
    body = b"\x82\xa1v\xa31.0\xa1v\xa31.1"  # {"v": "1.0", "v": "1.1"}
    assert not canonical(body)
    with pytest.raises(ProtocolError, match="repeats a key"):
        decode_body(body)

"""Compact reports (protocol 1.2): the same report in fewer bytes, and back again.

A compact report is a report envelope sent in a frame flagged ``FLAG_COMPACT`` (``codec``),
whose body is rewritten three ways. :func:`expand` undoes the first two without any state;
the third needs the *static view* the body names (:func:`merge`, by the collector):

1. **Columns.** Each list section (``stations``, ``interfaces``, ``radios``, ``quality``,
   ``neighbours``, ``apps``, ``topology``) becomes a map ``{"c": {field: [value per row]}}``:
   a field's values side by side, where zlib finds their repeats. ``"f": {field: d}`` marks
   float columns sent as integers scaled by ``10**d`` (only when every value is an exact
   ``d``-decimal float: float64 costs 9 bytes, a small integer 1-3); ``"m": [field, ...]``
   marks MAC columns sent as 6 raw bytes; ``"d": [field, ...]`` lists derived fields left out
   (below). A row's absent field is nil in its column; rows keep their order. A sampler
   status ``{"state": "ok"}`` is sent as ``true``.
2. **Derived fields left out.** ``stations[].vendor`` (the OUI table, :mod:`protocol.oui`),
   ``randomized_mac`` (the MAC's locally administered bit) and ``snr_db`` (signal - noise) are
   left out only when every row's value is exactly what the derivation gives, and restored
   by the same functions: nothing is approximated.
3. **Static fields by reference.** The fields that rarely change (:data:`STATIC_FIELDS`: a
   station's hostname and address, an interface's role and MAC, a radio's band and channel,
   the board, the WAN's addressing) move into a *view* identified by a 64-bit digest of its
   content (:func:`view_id`). The body says ``"view": {"id": N}``, and carries the view's
   sections beside the id only when the collector may not have it yet (the agent's rules:
   ``agent/publisher/compaction.py``). The collector keeps every view it was given per gateway
   (``collector/ingest/views.py``) and merges; a report naming a view it does not have, or a
   station its view does not hold, is refused with that reason, never guessed.

Stdlib and msgpack only: the agent compacts, the collector expands and merges.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

import msgpack

from protocol.errors import ProtocolError, Reason
from protocol.oui import is_randomized, vendor_of

# The builtin SHA-256: hashlib would load OpenSSL's libcrypto (~4.5 MiB on a 32-bit gateway without TLS).
_sha256: Callable[[bytes], Any] = importlib.import_module(
    "_sha2" if sys.version_info >= (3, 12) else "_sha256"
).sha256

#: List sections sent as columns.
LIST_SECTIONS: Final = ("stations", "interfaces", "radios", "quality", "neighbours", "apps", "topology")
#: Per section, the fields that move into the static view (a list section's rows there keep
#: their key field too: :data:`ROW_KEYS`). ``board`` is ``system.board`` as a whole.
STATIC_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "stations": ("hostname", "ip", "ap", "interface", "medium", "standard"),
    "interfaces": ("role", "mac", "speed_mbps"),
    "radios": ("band", "channel", "width_mhz", "standard", "tx_power_dbm"),
    "wan": ("interface", "protocol", "ipv4", "gateway", "dns"),
}
#: What identifies a row of a list section in the view.
ROW_KEYS: Final = {"stations": "mac", "interfaces": "name", "radios": "name"}
_MAC_TEXT = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}").fullmatch
_OK: Final = {"state": "ok"}
#: Floats are sent scaled when exact with at most this many decimals.
_MAX_DECIMALS = 4


def _snr(row: dict[str, Any]) -> Any:
    # the agent's rule (agent/samplers/stations.py wifi_row): signal - noise when both are known
    signal, noise = row.get("signal_dbm"), row.get("noise_dbm")
    return signal - noise if signal is not None and noise else None


@lru_cache(maxsize=4096)
def _prefix_facts(prefix: str) -> tuple[str | None, bool]:
    # both derive from the first three octets only: one lookup per vendor prefix, not per row
    mac = prefix + ":00:00:00"
    return vendor_of(mac), is_randomized(mac)


def _vendor(row: dict[str, Any]) -> Any:
    mac = row.get("mac")
    return _prefix_facts(mac[:8])[0] if isinstance(mac, str) and len(mac) == 17 else None


def _randomized(row: dict[str, Any]) -> Any:
    mac = row.get("mac")
    return _prefix_facts(mac[:8])[1] if isinstance(mac, str) and len(mac) == 17 else None


#: Fields a list section's rows may leave out, and how each is derived from the row.
DERIVED: Final[dict[str, dict[str, Callable[[dict[str, Any]], Any]]]] = {
    "stations": {"vendor": _vendor, "randomized_mac": _randomized, "snr_db": _snr},
}


# -- the agent's side -----------------------------------------------------------------------


def take_statics(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``body`` without its static fields (a copy; ``body`` is not changed), and those fields.

    The second value has the view's shape: list sections as rows holding the key field and
    the static fields present, sorted by key; ``board`` and ``wan`` as maps.
    """
    out = dict(body)
    statics: dict[str, Any] = {}
    for section, key in ROW_KEYS.items():
        rows = body.get(section)
        if not isinstance(rows, list):
            continue
        kept, taken = [], []
        seen: dict[Any, int] = {}
        for row in rows:
            if isinstance(row, dict) and key in row:
                seen[row[key]] = seen.get(row[key], 0) + 1
        for row in rows:
            if not isinstance(row, dict) or key not in row or seen[row[key]] > 1:
                kept.append(row)  # nothing to find it by (or twice the same key): it keeps its fields
                continue
            fields = {f: row[f] for f in STATIC_FIELDS[section] if f in row}
            kept.append({k: v for k, v in row.items() if k not in fields})
            taken.append({key: row[key], **fields})
        out[section] = kept
        statics[section] = sorted(taken, key=lambda r: str(r[key]))
    system = body.get("system")
    if isinstance(system, dict) and isinstance(system.get("board"), dict):
        statics["board"] = system["board"]
        out["system"] = {k: v for k, v in system.items() if k != "board"}
    wan = body.get("wan")
    if isinstance(wan, dict):
        fields = {f: wan[f] for f in STATIC_FIELDS["wan"] if f in wan}
        if fields:
            statics["wan"] = fields
            out["wan"] = {k: v for k, v in wan.items() if k not in fields}
    return out, statics


def view_id(view: dict[str, Any]) -> int:
    """The 64-bit id of a view's content (SHA-256 of its msgpack, first 8 bytes)."""
    digest = _sha256(msgpack.packb(view, use_bin_type=True)).digest()
    return int.from_bytes(digest[:8], "big")


def _decimals(values: list[Any]) -> int | None:
    present = [v for v in values if v is not None]
    if not present or any(type(v) is not float for v in present):
        return None
    for d in range(_MAX_DECIMALS + 1):
        scale = 10**d
        try:
            if all(round(v * scale) / scale == v for v in present):
                return d
        except (OverflowError, ValueError):  # inf, nan: sent as they are (and refused later)
            return None
    return None


def columns(section: str, rows: list[Any]) -> dict[str, Any] | list[Any]:
    """One list section as columns (``rows`` itself when it cannot be: empty rows, non-maps)."""
    if not rows or not all(type(r) is dict and r for r in rows):
        return rows
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    derived = [
        name
        for name, derive in DERIVED.get(section, {}).items()
        if name in names and all(row.get(name) == derive(row) for row in rows)
    ]
    cols: dict[str, list[Any]] = {}
    fixed: dict[str, int] = {}
    macs: list[str] = []
    for name in names:
        if name in derived:
            continue
        values = [row.get(name) for row in rows]
        d = _decimals(values)
        if d is not None:
            scale = 10**d
            values = [None if v is None else round(v * scale) for v in values]
            fixed[name] = d
        elif all(v is None or (type(v) is str and _MAC_TEXT(v)) for v in values):
            values = [None if v is None else bytes.fromhex(v.replace(":", "")) for v in values]
            macs.append(name)
        cols[name] = values
    out: dict[str, Any] = {"c": cols}
    if fixed:
        out["f"] = fixed
    if macs:
        out["m"] = macs
    if derived:
        out["d"] = derived
    return out


def compact_body(body: dict[str, Any]) -> dict[str, Any]:
    """A report body (with its ``view`` already set, if any) in the compact form."""
    out = dict(body)
    for section in LIST_SECTIONS:
        if isinstance(out.get(section), list):
            out[section] = columns(section, out[section])
    view = out.get("view")
    if isinstance(view, dict):
        out["view"] = {k: columns(k, v) if isinstance(v, list) else v for k, v in view.items()}
    samplers = out.get("samplers")
    if isinstance(samplers, dict):  # nearly always all "ok": true says it in one byte
        out["samplers"] = {k: True if v == _OK else v for k, v in samplers.items()}
    return out


# -- the collector's side -------------------------------------------------------------------


def _bad(where: str, why: str) -> ProtocolError:
    return ProtocolError(Reason.INVALID, f"compact {where}: {why}"[:500])


def _rows(section: str, value: dict[str, Any], where: str) -> list[dict[str, Any]]:
    cols, fixed, macs, derived = value.get("c"), value.get("f", {}), value.get("m", []), value.get("d", [])
    if set(value) - {"c", "f", "m", "d"}:
        raise _bad(where, f"unknown keys {sorted(set(value) - {'c', 'f', 'm', 'd'})[:4]}")
    if type(cols) is not dict or not cols or type(fixed) is not dict or type(macs) is not list:
        raise _bad(where, "needs a non-empty map 'c' of columns ('f' a map, 'm' a list)")
    if type(derived) is not list or any(d not in DERIVED.get(section, {}) for d in derived):
        raise _bad(where, f"'d' names fields {section} cannot derive")
    n = -1
    for name, column in cols.items():
        if type(column) is not list:
            raise _bad(f"{where}.{name}", "a column must be a list")
        if n < 0:
            n = len(column)
        elif len(column) != n:
            raise _bad(f"{where}.{name}", f"{len(column)} values for {n} rows")
    names = list(cols)
    values: list[list[Any]] = []
    for name, given in cols.items():
        column = given
        if name in fixed:
            d = fixed[name]
            if type(d) is not int or not 0 <= d <= 9:
                raise _bad(f"{where}.{name}", f"decimals must be 0-9, not {d!r}")
            if not all(type(v) is int for v in column if v is not None):
                raise _bad(f"{where}.{name}", "a scaled column holds integers")
            scale = 10**d
            column = [None if v is None else v / scale for v in given]
        elif name in macs:
            if not all(type(v) is bytes and len(v) == 6 for v in column if v is not None):
                raise _bad(f"{where}.{name}", "a MAC column holds 6-byte values")
            column = [None if v is None else v.hex(":") for v in given]
        values.append(column)
    # one comprehension per row: ~3x faster than filling the rows cell by cell (ingest's hot path)
    rows = [
        {k: v for k, v in zip(names, cells, strict=True) if v is not None}
        for cells in zip(*values, strict=True)
    ]
    for name in derived:
        derive = DERIVED[section][name]
        for row in rows:
            value_of = derive(row)
            if value_of is not None:
                row[name] = value_of
    return rows


def expand(message: dict[str, Any]) -> dict[str, Any]:
    """A compact report envelope in the ordinary form, in place (the view stays, expanded too).

    Raises :class:`ProtocolError` (``invalid``) naming the section and column at fault.
    """
    body = message.get("body")
    if message.get("kind") != "report" or type(body) is not dict:
        raise _bad("frame", "only a report with a body map can be compact")
    for section in LIST_SECTIONS:
        value = body.get(section)
        if type(value) is dict:
            body[section] = _rows(section, value, f"body.{section}")
    samplers = body.get("samplers")
    if type(samplers) is dict:
        body["samplers"] = {k: dict(_OK) if v is True else v for k, v in samplers.items()}
    view = body.get("view")
    if view is not None:
        if type(view) is not dict:
            raise _bad("body.view", "must be a map")
        for section in ROW_KEYS:
            if type(view.get(section)) is dict:
                view[section] = _rows(section, view[section], f"body.view.{section}")
    return message


def merge(body: dict[str, Any], view: dict[str, Any]) -> str | None:
    """Put the static fields of ``view`` back into ``body`` and drop ``body["view"]``.

    Returns why it cannot (a station or interface the view does not hold), leaving ``body``
    unchanged; ``None`` when merged.
    """
    found: dict[str, dict[Any, dict[str, Any]]] = {}
    for section, key in ROW_KEYS.items():
        found[section] = {r.get(key): r for r in view.get(section) or () if isinstance(r, dict)}
        for row in body.get(section) or ():
            if isinstance(row, dict) and key in row and row[key] not in found[section]:
                return f"{section} {str(row.get(key))[:40]!r} is not in static view {view.get('id', 0):016x}"
    for section, key in ROW_KEYS.items():
        rows = body.get(section)
        if not rows:
            continue
        body[section] = [
            {**row, **found[section][row[key]]} if isinstance(row, dict) and key in row else row
            for row in rows
        ]
    if isinstance(view.get("board"), dict):
        body["system"] = {**(body.get("system") or {}), "board": view["board"]}
    if isinstance(view.get("wan"), dict):
        body["wan"] = {**(body.get("wan") or {}), **view["wan"]}
    body.pop("view", None)
    return None


def resolve_carried(message: dict[str, Any]) -> dict[str, Any]:
    """A decoded report with the view it carries merged in (for readers that keep no views:
    tests and tools); a report that only names its view is returned as it is."""
    body = message.get("body")
    view = body.get("view") if isinstance(body, dict) else None
    if isinstance(view, dict) and len(view) > 1:
        problem = merge(body, view)  # type: ignore[arg-type]
        if problem is not None:
            raise ProtocolError(Reason.INVALID, problem)
    return message

"""Merging day rollups: N at a time, associative and commutative, nothing modified in place.

Each key has one way to combine its values: sums, minima, maxima, bitmap unions,
element-wise vector sums, keyed sums, and "the newest window wins" for a terminal's
identity (ties broken on the values themselves, so the result does not depend on order).
Merging N parts at once (a week of days for a profile) is much cheaper than N-1 pairwise
merges; :func:`merge_day` is the pairwise case. Results may share unmodified parts with
the inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import zip_longest
from operator import add
from typing import Any

#: At most this many applications per category are kept (the least used go). Below it the
#: merge is exactly associative; home DPI reports far fewer per category and day.
MAX_APPS = 64

Merger = Callable[[list[Any]], Any]


def slot_hex(bits: int) -> str:
    """A 96-slot day bitmap as fixed-width hex (slot 0 is the lowest bit)."""
    return f"{bits:024x}"


def _or(values: list[str]) -> str:
    bits = 0
    for v in values:
        bits |= int(v, 16)
    return slot_hex(bits)


def _vec(vectors: list[list[int]]) -> list[int]:
    if len(vectors) == 1:
        return vectors[0]
    if len(set(map(len, vectors))) == 1:
        return list(map(sum, zip(*vectors)))  # noqa: B905 (equal lengths, just checked)
    # a longer vector comes from a newer layout: missing positions read as zeros
    return list(map(sum, zip_longest(*vectors, fillvalue=0)))


def _numbers(dicts: list[dict[str, int]]) -> dict[str, int]:
    if len(dicts) == 1:
        return dicts[0]
    out = dict(dicts[0])
    for d in dicts[1:]:
        for k, n in d.items():
            out[k] = out[k] + n if k in out else n
    return out


def _grouped(dicts: list[dict[str, Any]]) -> dict[str, list[Any]]:
    # each key's values in input order (keys in order of first appearance)
    groups: dict[str, list[Any]] = {}
    for d in dicts:
        for k, value in d.items():
            found = groups.get(k)
            if found is None:
                groups[k] = [value]
            else:
                found.append(value)
    return groups


def _keyed(inner: Merger) -> Merger:
    def merge(dicts: list[dict[str, Any]]) -> dict[str, Any]:
        if len(dicts) == 1:
            return dicts[0]
        return {k: values[0] if len(values) == 1 else inner(values) for k, values in _grouped(dicts).items()}

    return merge


def _apps(dicts: list[dict[str, int]]) -> dict[str, int]:
    out = _numbers(dicts)
    if len(out) > MAX_APPS:
        out = dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_APPS])
    return out


def _terminals(dicts: list[dict[str, list[Any]]]) -> dict[str, list[Any]]:
    # the hottest merge of an evaluation (a dozen terminals a day): one pass keeps each
    # terminal's newest entry and its window count; entries are built once at the end
    newest: dict[str, list[Any]] = {}
    windows: dict[str, int] = {}
    dhcp: dict[str, tuple[Any, list[Any]]] = {}
    for d in dicts:
        for mac, entry in d.items():
            if len(entry) > 5:
                _newest_dhcp(dhcp, mac, entry)
            have = newest.get(mac)
            if have is None:
                newest[mac] = entry
                windows[mac] = entry[4]
                continue
            windows[mac] += entry[4]
            # names as of the newest window; equal times compare the names, as a list would
            t, t_have = entry[0], have[0]
            if t > t_have or (t == t_have and entry[:4] > have[:4]):
                newest[mac] = entry
    return {mac: [*entry[:4], windows[mac], *dhcp.get(mac, ((), []))[1]] for mac, entry in newest.items()}


def _dhcp_key(entry: list[Any]) -> tuple[Any, ...]:
    # the DHCP tail [vendor class, request list, window] is ordered by its own window, then its values
    return entry[7], entry[5], entry[6]


def _newest_dhcp(dhcp: dict[str, tuple[Any, list[Any]]], mac: str, entry: list[Any]) -> None:
    """Keep the newest DHCP tail (vendor class, request list, its window) of a terminal's entries: it
    keeps its fingerprint through windows whose reports lack one (an agent restarted since the request)."""
    found = (_dhcp_key(entry), list(entry[5:8]))
    have = dhcp.get(mac)
    if have is None or found[0] > have[0]:
        dhcp[mac] = found


def _station(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"x": _vec([e["x"] for e in entries]), "c": _numbers([e["c"] for e in entries])}


def _competitor(entries: list[list[Any]]) -> list[Any]:
    # [strongest dBm, its SSID, scans per signal bucket]; the first of equals is kept, as max() would
    strongest = entries[0]
    for e in entries[1:]:
        if e[0] > strongest[0] or (e[0] == strongest[0] and e[1] > strongest[1]):
            strongest = e
    return [strongest[0], strongest[1], _vec([e[2] for e in entries])]


def _maxima(dicts: list[dict[str, Any]]) -> dict[str, Any]:
    # _keyed(max) in one pass (a home's worst delays)
    if len(dicts) == 1:
        return dicts[0]
    out = dict(dicts[0])
    for d in dicts[1:]:
        for k, x in d.items():
            if k not in out or x > out[k]:
                out[k] = x
    return out


def _unknown(values: list[Any]) -> Any:
    # a key from a newer rollup: numbers add up, anything else keeps one value deterministically
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return sum(values)
    return max(values, key=repr)


MERGERS: dict[str, Merger] = {
    "v": _vec,
    "first": min,
    "last": max,
    "mesh": max,
    "plan": max,
    "slots": _or,
    "off": _or,
    "qmax": _maxima,
    "tm": _terminals,
    "comp": _keyed(_competitor),
    "hb": _vec,
    "apps": _keyed(_apps),
    "sx": _keyed(_station),
}


def merge_many(parts: Iterable[dict[str, Any]], keys: Iterable[str] | None = None) -> dict[str, Any]:
    """Merge any number of contributions or days into one (only ``keys``, when given)."""
    return _merge_top(list(parts), keys)


def _merge_top(parts: list[dict[str, Any]], keys: Iterable[str] | None = None) -> dict[str, Any]:
    if len(parts) == 1 and keys is None:
        return dict(parts[0])
    out: dict[str, Any] = {}
    if keys is None:
        for k, values in _grouped(parts).items():
            out[k] = values[0] if len(values) == 1 else MERGERS.get(k, _unknown)(values)
        return out
    for k in keys:
        values = [p[k] for p in parts if k in p]
        if values:
            out[k] = values[0] if len(values) == 1 else MERGERS.get(k, _unknown)(values)
    return out


def merge_day(day: dict[str, Any] | None, contribution: dict[str, Any]) -> dict[str, Any]:
    """Merge a window's contribution (or another partial day) into a day; returns the merged day."""
    if day is None:
        return dict(contribution)
    return merge_many((day, contribution))


def fold_into(day: dict[str, Any], contribution: dict[str, Any], owned: bool = False) -> dict[str, Any]:
    """Add a contribution to ``day`` in place (same result as :func:`merge_day`); returns ``day``.

    The ingest path folds one window at a time into a freshly parsed (or cached) day, so
    it may mutate it; the contribution is not modified and nothing of it is shared, unless
    ``owned`` (a contribution built for this fold alone: its parts are taken, not copied).
    """
    for key, value in contribution.items():
        if key not in day:
            day[key] = value if owned else _copy(value)
            continue
        mine = day[key]
        if key in ("v", "hb"):
            if len(mine) < len(value):  # stored under an older, shorter layout: zeros past its end
                mine.extend([0] * (len(value) - len(mine)))
            if len(mine) == len(value):
                mine[:] = map(add, mine, value)
            else:
                for i, x in enumerate(value):
                    if x:
                        mine[i] += x
        elif key == "tm":
            for mac, entry in value.items():
                have = mine.get(mac)
                if have is None:
                    mine[mac] = list(entry)
                    continue
                windows = have[4] + entry[4]
                if len(entry) > 5 and (len(have) <= 5 or _dhcp_key(entry) > _dhcp_key(have)):
                    have[5:] = entry[5:8]  # the newest DHCP fingerprint, as _terminals keeps it
                # max(have[:4], entry[:4]) without the slices: the newest window's names
                t, t_have = entry[0], have[0]
                if t > t_have or (t == t_have and entry[:4] > have[:4]):
                    have[:4] = entry[:4]
                have[4] = windows
        elif key == "sx":
            for mac, link in value.items():
                have = mine.get(mac)
                if have is None:
                    mine[mac] = {"x": list(link["x"]), "c": dict(link["c"])}
                    continue
                hx, lx = have["x"], link["x"]
                if len(hx) == len(lx):
                    hx[:] = map(add, hx, lx)
                else:
                    for i, x in enumerate(lx):
                        hx[i] += x
                if link["c"]:
                    hc = have["c"]
                    for cat, minutes in link["c"].items():
                        hc[cat] = hc.get(cat, 0) + minutes
        elif key == "apps":
            for cat, apps in value.items():
                have = mine.get(cat)
                if have is None:
                    mine[cat] = dict(apps)
                    continue
                for app, minutes in apps.items():  # _apps([have, apps]), in place
                    have[app] = have[app] + minutes if app in have else minutes
                if len(have) > MAX_APPS:
                    mine[cat] = most_used(have)
        else:
            day[key] = merge_two(key, mine, value)
    return day


def merge_two(key: str, mine: Any, value: Any) -> Any:
    """``key``'s two values merged (what :func:`fold_into` does for the keys it does not add in place)."""
    return MERGERS.get(key, _unknown)([mine, value])


def most_used(apps: dict[str, int]) -> dict[str, int]:
    """The :data:`MAX_APPS` most used applications (ties by name)."""
    return dict(sorted(apps.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_APPS])


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value

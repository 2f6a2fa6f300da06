"""MAC vendor (from the OUI) and the randomised-MAC flag, for the terminal inventory.

Shared by both sides: the agent fills `stations[].vendor` from it, and the collector restores
the field from it for compact reports, which leave it out (docs/protocol.md, "Compact reports").

The table (``oui.tsv`` beside this module) holds only vendors common in homes. It is loaded on
first use into two compact arrays (a few tens of KiB) rather than a dict of thousands of strings.
"""

from __future__ import annotations

import os
from array import array
from bisect import bisect_left

_TABLE: tuple[array[int], bytes, list[str]] | None = None


def is_randomized(mac: str) -> bool:
    """Whether the locally administered bit (0x02 of the first octet) is set.

    Phones and laptops set it when they randomise their MAC per network; such a MAC says
    nothing about the vendor.
    """
    try:
        return bool(int(mac[:2], 16) & 0x02)
    except ValueError:
        return False


def parse_oui_table(text: str) -> tuple[array[int], bytes, list[str]]:
    """``prefix<TAB>vendor`` lines into sorted prefixes, a vendor index per prefix, vendor names."""
    names: list[str] = []
    index: dict[str, int] = {}
    pairs: list[tuple[int, int]] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        prefix, _, vendor = line.partition("\t")
        if vendor not in index:
            index[vendor] = len(names)
            names.append(vendor)
        pairs.append((int(prefix, 16), index[vendor]))
    if len(names) > 255:
        raise ValueError("oui table: more than 255 vendors do not fit one byte each")
    pairs.sort()
    return array("I", (p for p, _ in pairs)), bytes(v for _, v in pairs), names


def _table() -> tuple[array[int], bytes, list[str]]:
    global _TABLE
    if _TABLE is None:
        # opened beside this module, not through importlib.resources, which imports tempfile,
        # shutil and zipfile (RSS on a gateway) to serve a plain file of an installed package
        with open(os.path.join(os.path.dirname(__file__), "oui.tsv"), encoding="utf-8") as handle:
            _TABLE = parse_oui_table(handle.read())
    return _TABLE


def vendor_of(mac: str) -> str | None:
    """The vendor of a globally administered MAC, when the table knows its OUI."""
    if len(mac) < 8 or is_randomized(mac):
        return None
    try:
        prefix = int(mac[0:2] + mac[3:5] + mac[6:8], 16)
    except ValueError:
        return None
    prefixes, vendors, names = _table()
    at = bisect_left(prefixes, prefix)
    if at < len(prefixes) and prefixes[at] == prefix:
        return names[vendors[at]]
    return None

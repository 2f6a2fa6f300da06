"""Print a preset zlib dictionary for compact reports, made from emulator homes (protocol/dictionaries.py).

Run once per new dictionary; the bytes it printed for an id are frozen in
``protocol/dictionaries.py`` for good (frames must stay decodable). Dictionary 1:

    python scripts/report_dictionary.py --seeds 11 12
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulator.home import VirtualHome
from protocol.codec import envelope
from protocol.compact import compact_body, take_statics, view_id
from protocol.topics import Kind


def sample(seed: int, carry: bool) -> bytes:
    """The msgpack of one compact report envelope of an emulator home, a day into its life."""
    home = VirtualHome(f"gw-{seed:04d}", seed)
    start = 1_700_000_000 - 1_700_000_000 % 900 + 43_200  # noon: people at home, apps running
    body: dict[str, object] = {}
    for step in range(4):
        body = home.report_body(900, start + 900 * (step + 1))
    rest, statics = take_statics(body)
    vid = view_id(statics)
    rest["view"] = {"id": vid, **statics} if carry else {"id": vid}
    message = envelope(
        Kind.REPORT,
        "gw-0000000000",
        epoch=1,
        seq=100,
        window_start=start,
        window_end=start + 900,
        uptime_s=86_400,
        sent_at=start + 900,
        body=compact_body(rest),
    )
    return bytes(msgpack.packb(message, use_bin_type=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, nargs=2, default=(11, 12))
    args = parser.parse_args()
    # zlib prefers the dictionary's end (the nearest history): the everyday report, without
    # its view, goes last
    data = sample(args.seeds[0], True) + sample(args.seeds[1], False)
    print(len(data), file=sys.stderr)
    for i in range(0, len(data), 96):
        print(f"    {data[i : i + 96]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

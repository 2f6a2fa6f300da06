"""When a report carries its static view: the agent's half of compact reports (protocol 1.2).

It also builds the envelope of every report, compact or not, and of every event batch
(:func:`window_envelope`), so the forms cannot drift apart.

:mod:`protocol.compact` says how a report is compacted; this says when its static view goes
with it. Every compact report names its view by id; the view itself goes along whenever the
collector may not have it:

- in the first report after the agent starts (nothing is known of what the collector has)
  and in the first of a new epoch;
- when the view changed (a new station, a new address, another channel);
- while no report that carried this view has been acknowledged: the collector acknowledges
  a report only after committing it (the view with it) or quarantining it for good;
- in every ``refresh_every``-th report anyway (16: every four hours at 15-minute windows),
  so a collector that lost a view (its carrier quarantined, a database restored from a
  backup) is whole again within that, and the reports in between are refused, not guessed.

A station keeps its entry in the view for ``forget_after_s`` (a day) after it was last seen,
so a phone that leaves and comes back does not change the view each time.
"""

from __future__ import annotations

import threading
from typing import Any

from protocol.codec import encode, envelope
from protocol.compact import compact_body, take_statics, view_id
from protocol.dictionaries import CURRENT
from protocol.topics import Kind

#: Acknowledged views remembered (a station roaming back and forth switches between a few).
_CONFIRMED_MAX = 8
#: Stations a view holds at most (a report holds at most 512; the view's bound is 1,024).
MAX_VIEW_STATIONS = 768


def window_envelope(
    kind: Kind,
    gateway_id: str,
    epoch: int,
    seq: int,
    window: tuple[int, int],
    uptime_s: int,
    now: int,
    body: dict[str, Any],
) -> dict[str, Any]:
    """The envelope of a window's message (a report, compact or not, or an event batch) around ``body``."""
    return envelope(
        kind,
        gateway_id,
        epoch=epoch,
        seq=seq,
        window_start=window[0],
        window_end=window[1],
        uptime_s=uptime_s,
        sent_at=now,
        body=body,
    )


class Compactor:
    """Frames one gateway's reports in the compact form; told of acks by the publisher."""

    def __init__(
        self, *, refresh_every: int = 16, forget_after_s: int = 86_400, dictionary_id: int = CURRENT
    ) -> None:
        self.refresh_every = refresh_every
        self.forget_after_s = forget_after_s
        self.dictionary_id = dictionary_id
        self._lock = threading.Lock()  # frames are made on the main thread, acks arrive on paho's
        self._epoch: int | None = None
        self._stations: dict[str, tuple[dict[str, Any], int]] = {}  # mac -> (static row, last seen)
        self._confirmed: dict[int, None] = {}  # view ids the collector has, oldest first
        self._carried: dict[tuple[int, int], int] = {}  # (epoch, seq) -> view id, not yet acked
        self._since_carry = 0
        #: Reports framed, and how many carried their view (for the footprint bench).
        self.framed = self.carried = 0

    def frame(
        self,
        gateway_id: str,
        epoch: int,
        seq: int,
        window: tuple[int, int],
        uptime_s: int,
        body: dict[str, Any],
        now: int,
    ) -> bytes:
        """The compact frame of one report (``body`` is not changed)."""
        rest, statics = take_statics(body)
        with self._lock:
            if epoch != self._epoch:  # a new outbox: what was acked in the old one proves nothing here
                self._epoch = epoch
                self._confirmed.clear()
                self._carried.clear()
            view = self._view(statics, window[1])
            vid = view_id(view)
            carry = vid not in self._confirmed or self._since_carry + 1 >= self.refresh_every
            # the outbox calls us again with the same seq if its first transaction failed
            self._carried.pop((epoch, seq), None)
            if carry:
                self._carried[(epoch, seq)] = vid
                self._since_carry = 0
                self.carried += 1
            else:
                self._since_carry += 1
            self.framed += 1
        rest["view"] = {"id": vid, **view} if carry else {"id": vid}
        message = window_envelope(
            Kind.REPORT, gateway_id, epoch, seq, window, uptime_s, now, compact_body(rest)
        )
        return encode(message, compact=True, dictionary_id=self.dictionary_id)

    def _view(self, statics: dict[str, Any], seen_at: int) -> dict[str, Any]:
        for row in statics.get("stations", ()):
            self._stations[row["mac"]] = (row, seen_at)
        cutoff = seen_at - self.forget_after_s
        for mac in [m for m, (_, at) in self._stations.items() if at < cutoff]:
            del self._stations[mac]
        if len(self._stations) > MAX_VIEW_STATIONS:  # a day of rotating MACs: the least recently seen go
            now = {row["mac"] for row in statics.get("stations", ())}  # this report's: always kept
            by_age = sorted(self._stations, key=lambda m: (m in now, self._stations[m][1]))
            for mac in by_age[: len(self._stations) - MAX_VIEW_STATIONS]:
                del self._stations[mac]
        view = dict(statics)
        view["stations"] = [self._stations[mac][0] for mac in sorted(self._stations)]
        return view

    def acked(self, epoch: int, ranges: list[tuple[int, int]]) -> None:
        """The collector acknowledged ``ranges`` of ``epoch`` (called by the publisher)."""
        with self._lock:
            for key, vid in list(self._carried.items()):
                if key[0] == epoch and any(low <= key[1] <= high for low, high in ranges):
                    del self._carried[key]
                    self._confirmed.pop(vid, None)
                    self._confirmed[vid] = None
                    while len(self._confirmed) > _CONFIRMED_MAX:
                        del self._confirmed[next(iter(self._confirmed))]

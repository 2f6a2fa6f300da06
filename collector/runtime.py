"""Process-wide settings for the collector's long-running processes (serve, store writer)."""

from __future__ import annotations

import gc

#: Decoded reports are trees of dicts and lists without cycles, freed by reference counting.
#: With CPython's default thresholds (700, 10, 10) the cyclic collector walked every batch's
#: ~100k live objects again and again: 15% of the ingest's CPU (measured with bench/ingest.py).
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Move what exists now (modules, models, settings) out of collections and collect rarely."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)

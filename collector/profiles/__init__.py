"""Home profiles: per-day rollups folded at ingest, profiles over rolling windows, rules.

``rollup`` turns each new report into a per-home per-UTC-day summary (so profiles never
re-read raw reports); ``profile`` builds the six dimensions over a window of days;
``rules`` is the ``@rule`` registry and ``builtin`` the rules homescope ships;
``evaluate`` runs them on schedule or on demand and stores results with history.
"""

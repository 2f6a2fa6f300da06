"""Privacy: pseudonyms and minimisation at ingest (``scrub``), the deployment key (``keys``),
erasure of one home everywhere (``erase``)."""

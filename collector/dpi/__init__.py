"""The fleet's unclassified domains and the operator's categories for them (docs/dpi.md,
"Unclassified domains"): ``unclassified`` (weeks, what a report adds, the view, erase),
``rules`` (the operator's domain rules: page, TOML file, the fold's snapshot), ``recount``
(a report's bytes of a categorised domain counted under its category)."""

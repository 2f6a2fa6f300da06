"""Operator reports: periodic fleet, Wi-Fi, usage and area reports as HTML, PDF and CSV.

``period`` (which days), ``figures`` (what the store says about them), ``document``
(HTML with SVG charts), ``pdf`` (headless Chromium prints it), ``export`` (CSV and JSON
tables), ``archive`` and ``lease`` (store concerns), ``schedule`` (weekly and monthly,
one collector each), ``mail`` (SMTP), ``build`` (one report end to end). See
docs/operator.md.
"""

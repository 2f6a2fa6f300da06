"""Security and privacy concerns of the collector (docs/security.md).

``passwords`` (scrypt, policy), ``accounts`` (users and roles), ``sessions`` (server-side),
``tokens`` (API tokens), ``throttle`` (sign-in delays and lockouts), ``events`` (the
security log); each writes through ``store.db`` with SQL written once for both backends.
"""

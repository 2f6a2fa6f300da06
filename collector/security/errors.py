"""The security package's one exception base."""

from __future__ import annotations


class SecurityError(Exception):
    """A security operation was refused; the message says why (never containing a secret)."""


class PolicyError(SecurityError):
    """A password, user name, role or token request does not meet the policy."""

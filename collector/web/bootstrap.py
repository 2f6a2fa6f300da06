"""From settings to a running web security set-up: seeded accounts, the first admin, TLS.

Settings are checked here, at start-up, so a weak password or a half TLS configuration
stops the collector with a message naming the setting instead of running open.
"""

from __future__ import annotations

import secrets
import ssl
import sys

from collector.security import accounts
from collector.security.errors import PolicyError
from collector.security.passwords import check_policy
from collector.security.sessions import SessionPolicy
from collector.settings import Settings
from collector.store.sql import Database
from collector.web.auth import Auth


def auth_from_settings(settings: Settings) -> Auth:
    """The app's :class:`Auth`; raises :class:`PolicyError` naming the setting that fails the policy."""
    try:
        auth = Auth.from_settings(settings.users, settings.api_tokens, "", settings.roles)
    except ValueError as exc:
        raise PolicyError(f"HOMESCOPE_USERS/HOMESCOPE_ROLES: {exc}") from exc
    for name, password in auth.users.items():
        try:
            accounts.check_username(name)
            check_policy(password, name)
        except PolicyError as exc:
            raise PolicyError(f"HOMESCOPE_USERS: user {name}: {exc}") from exc
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise PolicyError("HOMESCOPE_TLS_CERT and HOMESCOPE_TLS_KEY go together")
    if settings.public_origin and not settings.public_origin.startswith(("https://", "http://")):
        raise PolicyError("HOMESCOPE_PUBLIC_ORIGIN: scheme://host[:port], e.g. https://homescope.example")
    auth.enforce_policy = True
    auth.secure = bool(settings.tls_cert) or settings.behind_tls_proxy
    auth.public_origin = settings.public_origin
    auth.policy = SessionPolicy(idle_s=settings.session_idle_s, absolute_s=settings.session_absolute_s)
    return auth


def web_tls(settings: Settings) -> ssl.SSLContext | None:
    """The HTTPS server context (TLS 1.2+, the ssl module's secure defaults), or ``None`` for HTTP."""
    if not settings.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise PolicyError(f"HOMESCOPE_TLS_CERT/HOMESCOPE_TLS_KEY: {exc}") from exc
    return context


async def first_admin(db: Database, username: str = "admin") -> str | None:
    """Create an admin with a random password when the store has none; print it once to the terminal.

    The password goes to stderr only, never through logging (log files are shipped and kept);
    change it with ``homescope-collector user set-password admin``.
    """
    if await accounts.has_admin(db):
        return None
    if await accounts.user(db, username) is not None:
        username = f"admin-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(18)
    await accounts.add_user(db, username, "admin", password, actor="first start")
    sys.stderr.write(
        f"\n  homescope: no admin account existed; created user {username!r} with password:\n"
        f"      {password}\n"
        "  It is shown this once and stored only as a hash. Change it with\n"
        f"  `homescope-collector user set-password {username}`.\n\n"
    )
    sys.stderr.flush()
    return password

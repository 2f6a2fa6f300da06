"""Authentication for every operator page and API: store-backed sessions and bearer tokens.

Accounts, sessions and tokens live in the store (``collector/security/``). A browser
holds a random session id in an HttpOnly, SameSite=Strict cookie (``Secure`` and
``__Host-`` prefixed under TLS); API clients send ``Authorization: Bearer <token>``,
which opens ``/api/`` routes only. Every state-changing request that is not a bearer
call must come from our own origin (``Origin``, else ``Referer``): that refuses
cross-site form posts, login included. Handlers read ``request[USER]`` and
``request[ROLE]``; routes declare what they need with ``@requires``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from collector.security import accounts, events, sessions
from collector.security import tokens as api_tokens
from collector.security.errors import SecurityError
from collector.security.sessions import SessionPolicy
from collector.web.access import ROLE, ROLES, Permission, allowed, request_permission

if TYPE_CHECKING:
    from collector.store import Store

COOKIE = "homescope_session"
#: The cookie's name under TLS: the ``__Host-`` prefix makes browsers insist on Secure, Path=/ and no Domain.
SECURE_COOKIE = "__Host-homescope_session"
log = logging.getLogger(__name__)
USER: web.RequestKey[str] = web.RequestKey("user", str)
SESSION_S = sessions.ABSOLUTE_S
OPEN_PATHS = ("/login", "/healthz", "/static/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Days a token given in settings (HOMESCOPE_API_TOKENS) lives from each start.
SETTINGS_TOKEN_DAYS = 30
#: A token's use is logged (and its last_used written) at most once a minute.
TOKEN_LOG_S = 60.0


@dataclass
class Auth:
    """How the web app authenticates; accounts named here are created at start if missing."""

    #: Accounts to create at start when absent (user -> password): the bootstrap admin, test fixtures.
    users: dict[str, str] = field(default_factory=dict)
    #: Bearer tokens to register at start (role ``token_role``, ``SETTINGS_TOKEN_DAYS`` from each start).
    tokens: frozenset[str] = frozenset()
    #: Role of each seeded user; users not named are admins.
    roles: dict[str, str] = field(default_factory=dict)
    token_role: str = "admin"
    #: TLS in front of the browser (served by us or by a proxy): Secure cookies and HSTS.
    secure: bool = False
    #: ``https://host[:port]`` browsers use to reach us (behind a proxy); empty: the request's own.
    public_origin: str = ""
    policy: SessionPolicy = field(default_factory=SessionPolicy)
    #: Whether seeded passwords must pass the password policy (settings: yes; test fixtures: no).
    enforce_policy: bool = False
    _token_logged: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, users: str, tokens: str, secret: str = "", roles: str = "") -> Auth:
        """Seeded accounts from ``user:password`` and ``user:role`` pairs (``secret`` is no longer used)."""
        pairs = [u.split(":", 1) for u in users.split(",") if u.strip()]
        if any(len(p) != 2 or not p[0] or not p[1] for p in pairs):
            raise ValueError("users must be user:password pairs separated by commas")
        named = [r.split(":", 1) for r in roles.split(",") if r.strip()]
        if any(len(r) != 2 or r[1].strip() not in ROLES for r in named):
            raise ValueError(
                f"roles must be user:role pairs separated by commas, roles one of {sorted(ROLES)}"
            )
        return cls(
            users={p[0].strip(): p[1] for p in pairs},
            tokens=frozenset(t.strip() for t in tokens.split(",") if t.strip()),
            roles={r[0].strip(): r[1].strip() for r in named},
        )

    @property
    def cookie(self) -> str:
        return SECURE_COOKIE if self.secure else COOKIE

    async def seed(self, store: Store) -> None:
        """Create the accounts and register the tokens named in settings (existing accounts are kept)."""
        db = store.db
        for name, password in self.users.items():
            if await accounts.user(db, name) is None:
                role = self.roles.get(name, "admin")
                await accounts.add_user(
                    db, name, role, password, actor="settings", policy=self.enforce_policy
                )
        for token in self.tokens:
            minimum = api_tokens.MIN_SETTINGS_LENGTH if self.enforce_policy else 1
            await api_tokens.register(
                db, token, "settings", self.token_role, SETTINGS_TOKEN_DAYS, min_length=minimum
            )

    async def bearer(self, store: Store, request: web.Request, presented: str) -> api_tokens.Token | None:
        """The token a request presents, if live; its use (or refusal) is logged at most once a minute."""
        found = await api_tokens.check(store.db, presented)
        key = found.token_id if found else f"refused:{request.remote}"
        now = time.monotonic()
        if now - self._token_logged.get(key, -TOKEN_LOG_S) >= TOKEN_LOG_S:
            self._token_logged[key] = now
            if len(self._token_logged) > 10_000:
                self._token_logged.clear()
            if found:
                await api_tokens.used(
                    store.db, found, request.remote or "", f"{request.method} {request.path}"[:200]
                )
            else:
                await events.record(store.db, "token.refused", "", request.remote or "", request.path[:200])
        return found

    def same_origin(self, request: web.Request) -> bool:
        """Whether a state-changing request comes from a page of ours (ASVS 4.2.2, 13.2.3)."""
        expected = (self.public_origin or f"{request.scheme}://{request.host}").rstrip("/").lower()
        origin = request.headers.get("Origin")
        if origin is not None:
            return origin.rstrip("/").lower() == expected
        referer = request.headers.get("Referer")
        if referer is not None:
            parts = urlsplit(referer)
            return f"{parts.scheme}://{parts.netloc}".lower() == expected
        # Browsers send Origin on every POST; a request with neither header is not a
        # browser's, so it carries no ambient credentials an attacker could borrow.
        return request.cookies.get(self.cookie) is None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STORE_KEY: web.AppKey[Store] = web.AppKey("auth_store")
AUTH_KEY: web.AppKey[Auth] = web.AppKey("auth_settings", Auth)


async def identify(request: web.Request, auth: Auth) -> tuple[str, str] | None:
    """(user, role) of the request's session, or of its bearer token on an API path; else ``None``."""
    store = request.app[STORE_KEY]
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and _api(request.path):
        token = await auth.bearer(store, request, header[7:].strip())
        return (f"token:{token.token_id}", token.role) if token else None
    cookie = request.cookies.get(auth.cookie)
    if not cookie or len(cookie) > 200:
        return None
    try:
        session = await sessions.lookup(store.db, cookie, auth.policy, request.remote or "")
    except SecurityError:
        return None
    return (session.username, session.role) if session else None


def _api(path: str) -> bool:
    # where a bearer token counts: the API and the health detail, never an HTML page
    return path.startswith("/api/") or path == "/healthz"


def middleware(auth: Auth) -> Middleware:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/static/"):
            return await handler(request)
        permission = request_permission(request)
        if permission is None:
            # a route that declares nothing is a bug, and stays closed
            log.error("route %s declares no permission; refused", request.path)
            return web.json_response({"error": "route declares no permission"}, status=500)
        bearer = request.headers.get("Authorization", "").startswith("Bearer ") and request.path.startswith(
            "/api/"
        )
        if request.method not in SAFE_METHODS and not bearer and not auth.same_origin(request):
            await events.record(
                request.app[STORE_KEY].db,
                "csrf.refused",
                "",
                request.remote or "",
                f"{request.method} {request.path}",
            )
            return web.json_response({"error": "cross-site request refused (Origin)"}, status=403)
        if permission is Permission.PUBLIC:
            return await handler(request)
        who = await identify(request, auth)
        if who is None:
            if request.path.startswith("/api/"):
                return web.json_response(
                    {"error": "authentication required"}, status=401, headers={"WWW-Authenticate": "Bearer"}
                )
            raise web.HTTPFound(f"/login?next={request.path_qs}" if request.method == "GET" else "/login")
        user, role = who
        if not allowed(role, permission):
            return web.json_response({"error": f"role {role} lacks {permission.value}"}, status=403)
        request[USER] = user
        request[ROLE] = role
        return await handler(request)

    return check

"""Authentication for every operator page and API: login sessions and bearer tokens.

Sessions are HMAC-signed cookies (``user|expiry|signature``); API clients send
``Authorization: Bearer <token>``. Only ``/login``, ``/healthz`` and static assets are open.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware

from collector.web.access import ROLE, ROLES, Permission, allowed, request_permission

COOKIE = "homescope_session"
log = logging.getLogger(__name__)
USER: web.RequestKey[str] = web.RequestKey("user", str)
SESSION_S = 12 * 3600
OPEN_PATHS = ("/login", "/healthz", "/static/")


@dataclass
class Auth:
    users: dict[str, str]
    tokens: frozenset[str]
    secret: bytes
    #: Role of each user (``collector.web.access.ROLES``); users not named are admins.
    roles: dict[str, str] = field(default_factory=dict)
    #: Role of bearer-token clients.
    token_role: str = "admin"

    @classmethod
    def from_settings(cls, users: str, tokens: str, secret: str, roles: str = "") -> Auth:
        pairs = [u.split(":", 1) for u in users.split(",") if u.strip()]
        if any(len(p) != 2 or not p[0] or not p[1] for p in pairs):
            raise ValueError("users must be user:password pairs separated by commas")
        named = [r.split(":", 1) for r in roles.split(",") if r.strip()]
        if any(len(r) != 2 or r[1].strip() not in ROLES for r in named):
            raise ValueError(f"roles must be user:role pairs separated by commas, roles one of {sorted(ROLES)}")
        return cls(
            users={p[0].strip(): p[1] for p in pairs},
            tokens=frozenset(t.strip() for t in tokens.split(",") if t.strip()),
            secret=secret.encode() if secret else secrets.token_bytes(32),
            roles={r[0].strip(): r[1].strip() for r in named},
        )

    def role_of(self, user: str) -> str:
        """The role a signed-in user (or ``api`` for a bearer token) acts in."""
        return self.token_role if user == "api" else self.roles.get(user, "admin")

    def check_password(self, user: str, password: str) -> bool:
        expected = self.users.get(user)
        # compare even for unknown users, so timing does not reveal which names exist
        return hmac.compare_digest((expected or "\0").encode(), password.encode()) and expected is not None

    def _sign(self, text: str) -> str:
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()

    def session_cookie(self, user: str, now: float | None = None) -> str:
        expiry = int((now or time.time()) + SESSION_S)
        text = f"{user}|{expiry}"
        return f"{text}|{self._sign(text)}"

    def session_user(self, cookie: str | None, now: float | None = None) -> str | None:
        if not cookie or cookie.count("|") != 2:
            return None
        user, expiry, signature = cookie.split("|")
        if not hmac.compare_digest(signature, self._sign(f"{user}|{expiry}")):
            return None
        if not expiry.isdigit() or int(expiry) < (now or time.time()) or user not in self.users:
            return None
        return user

    def request_user(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header[7:].strip()
            if any(hmac.compare_digest(token, t) for t in self.tokens):
                return "api"
            return None
        return self.session_user(request.cookies.get(COOKIE))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
        if permission is Permission.PUBLIC:
            return await handler(request)
        user = auth.request_user(request)
        if user is None:
            if request.path.startswith("/api/"):
                return web.json_response(
                    {"error": "authentication required"}, status=401, headers={"WWW-Authenticate": "Bearer"}
                )
            raise web.HTTPFound(f"/login?next={request.path_qs}")
        role = auth.role_of(user)
        if not allowed(role, permission):
            return web.json_response({"error": f"role {role} lacks {permission.value}"}, status=403)
        request[USER] = user
        request[ROLE] = role
        return await handler(request)

    return check

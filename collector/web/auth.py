"""Authentication for every operator page and API: login sessions and bearer tokens.

Sessions are HMAC-signed cookies (``user|expiry|signature``); API clients send
``Authorization: Bearer <token>``. Only ``/login``, ``/healthz`` and static assets are open.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

COOKIE = "homescope_session"
USER: web.RequestKey[str] = web.RequestKey("user", str)
SESSION_S = 12 * 3600
OPEN_PATHS = ("/login", "/healthz", "/static/")


@dataclass
class Auth:
    users: dict[str, str]
    tokens: frozenset[str]
    secret: bytes

    @classmethod
    def from_settings(cls, users: str, tokens: str, secret: str) -> Auth:
        pairs = [u.split(":", 1) for u in users.split(",") if u.strip()]
        if any(len(p) != 2 or not p[0] or not p[1] for p in pairs):
            raise ValueError("users must be user:password pairs separated by commas")
        return cls(
            users={p[0].strip(): p[1] for p in pairs},
            tokens=frozenset(t.strip() for t in tokens.split(",") if t.strip()),
            secret=secret.encode() if secret else secrets.token_bytes(32),
        )

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
        if request.path.startswith(OPEN_PATHS):
            return await handler(request)
        user = auth.request_user(request)
        if user is None:
            if request.path.startswith("/api/"):
                return web.json_response(
                    {"error": "authentication required"}, status=401, headers={"WWW-Authenticate": "Bearer"}
                )
            raise web.HTTPFound(f"/login?next={request.path_qs}")
        request[USER] = user
        return await handler(request)

    return check

"""Sign-in and sign-out: throttled password checks that start and end server-side sessions.

Attempts for one account or from one address are taken one at a time in this process
(a burst of parallel guesses must not slip in before the first failure is counted);
while a key is blocked, attempts are refused with 429 and ``Retry-After`` before any
password is checked.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from aiohttp import web

from collector.security import accounts, events, sessions, throttle
from collector.web import pages
from collector.web.auth import Auth

if TYPE_CHECKING:
    from collector.store import Store

_locks: dict[str, asyncio.Lock] = {}
#: A blocked key's refusals are logged at most once per this many seconds (a flood writes no flood of rows).
THROTTLE_LOG_S = 60.0
_throttle_logged: dict[str, float] = {}


@asynccontextmanager
async def _one_at_a_time(*keys: str) -> AsyncIterator[None]:
    if len(_locks) > 10_000:
        for key in [k for k, lock in _locks.items() if not lock.locked()]:
            del _locks[key]
    held = [_locks.setdefault(k, asyncio.Lock()) for k in sorted(set(keys))]
    for lock in held:
        await lock.acquire()
    try:
        yield
    finally:
        for lock in reversed(held):
            lock.release()


def _named(username: str, known: bool) -> str:
    # an unknown name may be a password typed into the wrong field: log only a short hash of it
    return username if known else "?" + hashlib.sha256(username.encode()).hexdigest()[:8]


def _refuse(target: str, message: str, status: int, retry_after: float = 0.0) -> web.Response:
    headers = {"Cache-Control": "no-store"}
    if retry_after:
        headers["Retry-After"] = str(math.ceil(retry_after))
    return web.Response(
        text=pages.login_page(target, message), content_type="text/html", status=status, headers=headers
    )


async def check_password_and_start(
    request: web.Request, auth: Auth, store: Store, username: str, password: str, target: str
) -> web.Response:
    """The answer to a sign-in form: a redirect with a new session cookie, 401, or 429."""
    db = store.db
    source = request.remote or ""
    username = username.strip()[:64]
    async with _one_at_a_time(throttle.account_key(username), throttle.address_key(source)):
        verdict = await throttle.verdict(db, username, source)
        if not verdict.allowed:
            now = time.monotonic()
            key = f"{username}|{source}"
            if now - _throttle_logged.get(key, -THROTTLE_LOG_S) >= THROTTLE_LOG_S:
                _throttle_logged[key] = now
                if len(_throttle_logged) > 10_000:
                    _throttle_logged.clear()
                known = await accounts.user(db, username) is not None
                detail = f"locked; retry in {verdict.retry_after_s:.0f} s" if verdict.locked else "delayed"
                await events.record(db, "login.throttled", _named(username, known), source, detail)
            message = "Too many failed sign-ins. Try again later."
            return _refuse(target, message, 429, verdict.retry_after_s)
        account = await accounts.authenticate(db, username, password) if password else None
        if account is None:
            known = await accounts.user(db, username) is not None
            after = await throttle.failed(db, username, source)
            detail = f"next attempt in {after.retry_after_s:.0f} s" if after.retry_after_s else ""
            await events.record(db, "login.failure", _named(username, known), source, detail)
            return _refuse(target, "Wrong user or password.", 401)
        await throttle.succeeded(db, username)
    old = request.cookies.get(auth.cookie)
    if old:  # a session id planted before sign-in is never reused (session fixation)
        await sessions.logout(db, old, account.username, source)
    secret = await sessions.create(db, account.username, source, f"role={account.role}")
    response = web.HTTPFound(target)
    response.set_cookie(
        auth.cookie,
        secret,
        max_age=int(auth.policy.absolute_s),
        path="/",
        httponly=True,
        secure=auth.secure,
        samesite="Strict",
    )
    raise response


async def end_session(request: web.Request, auth: Auth, store: Store) -> web.Response:
    """Sign out: the session is revoked in the store, not only forgotten by the browser."""
    secret = request.cookies.get(auth.cookie)
    if secret and len(secret) <= 200:
        found = await sessions.lookup(store.db, secret, auth.policy, request.remote or "")
        if found is not None:
            await sessions.logout(store.db, secret, found.username, request.remote or "")
    response = web.HTTPFound("/login")
    # a __Host- cookie is only replaced by one with the same attributes (Secure included)
    response.del_cookie(auth.cookie, path="/", secure=auth.secure or None, httponly=True, samesite="Strict")
    raise response

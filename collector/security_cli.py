"""``homescope-collector user|token|session|security-events``: accounts, tokens and sessions from the shell.

Passwords are read from the terminal without echo (or one line of standard input when
it is not a terminal), never from the command line, where ``ps`` and shell history see
them. New tokens are printed once.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from collector.security import accounts, events, sessions, throttle, tokens
from collector.security.errors import SecurityError
from collector.settings import Settings
from collector.store import StoreError, opened
from collector.store.sql import Database
from collector.web.access import ROLES

ACTOR = "cli"


def _read_password(prompt: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("again: ") != first:
            raise SecurityError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def _run(db_url: str | None, work: Callable[[Database], Awaitable[int]]) -> int:
    async def run() -> int:
        async with opened(db_url or Settings().db) as store:
            return await work(store.db)

    try:
        return asyncio.run(run())
    except (SecurityError, StoreError) as exc:
        print(f"homescope-collector: {exc}", file=sys.stderr)
        return 2


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts)) if ts else "-"


def cmd_user(args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        if args.action == "add":
            password = _read_password(f"password for {args.name}: ")
            await accounts.add_user(db, args.name, args.role, password, actor=ACTOR)
            print(f"user {args.name} added as {args.role}")
        elif args.action == "set-password":
            await accounts.set_password(
                db, args.name, _read_password(f"new password for {args.name}: "), actor=ACTOR
            )
            print(f"password of {args.name} set; their sessions ended")
        elif args.action == "role":
            await accounts.set_role(db, args.name, args.role, actor=ACTOR)
            print(f"{args.name} is now {args.role}")
        elif args.action == "unlock":
            n = await throttle.unlock(db, args.name or "", args.address or "", actor=ACTOR)
            print(f"cleared {n} sign-in delay(s) or lockout(s)")
        elif args.action in ("disable", "enable"):
            await accounts.set_disabled(db, args.name, args.action == "disable", actor=ACTOR)
            print(f"{args.name} {args.action}d")
        elif args.action == "sign-out":
            print(f"ended {await sessions.revoke_user(db, args.name, ACTOR)} session(s) of {args.name}")
        else:
            blocked = {str(r["key"]) for r in await throttle.locked_keys(db)}
            for a in await accounts.users(db):
                state = (
                    "disabled" if a.disabled else ("locked" if f"user:{a.username}" in blocked else "active")
                )
                print(f"{a.username:24} {a.role:10} {state:9} password set {_when(a.password_set_at)}")
        return 0

    if args.action in ("add", "role") and not args.role:
        print("homescope-collector: --role is required", file=sys.stderr)
        return 2
    if args.action not in {"list", "unlock"} and not args.name:
        print("homescope-collector: a user name is required", file=sys.stderr)
        return 2
    return _run(args.db, work)


def cmd_token(args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        if args.action == "create":
            full, token = await tokens.create(db, args.name, args.role, args.days, actor=ACTOR)
            print(full)
            print(
                f"token {token.token_id} ({token.role}) expires {_when(token.expires_at)} UTC",
                file=sys.stderr,
            )
        elif args.action == "revoke":
            await tokens.revoke(db, args.name, actor=ACTOR)
            print(f"token {args.name} revoked")
        else:
            for t in await tokens.listing(db):
                state = (
                    "revoked" if t["revoked_at"] else ("expired" if t["expires_at"] < time.time() else "live")
                )
                print(
                    f"{t['token_id']:12} {t['role']:10} {state:8} expires {_when(t['expires_at'])} {t['name']}"
                )
        return 0

    if args.action in ("create", "revoke") and not args.name:
        print("homescope-collector: token create needs --name, token revoke a token id", file=sys.stderr)
        return 2
    return _run(args.db, work)


def cmd_sessions(args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        if args.revoke:
            found = await sessions.revoke(db, args.revoke, ACTOR)
            print("revoked" if found else "no live session with that id")
            return 0 if found else 1
        for s in await sessions.live(db, sessions.SessionPolicy()):
            print(f"{s['id_hash'][:16]} {s['username']:24} since {_when(s['created_at'])} from {s['source']}")
        return 0

    return _run(args.db, work)


def cmd_events(args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        rows: list[dict[str, Any]] = await events.recent(db, args.limit, args.event)
        for row in rows:
            print(json.dumps(row))
        return 0

    return _run(args.db, work)


def cmd_erase(args: argparse.Namespace) -> int:
    from collector.privacy.erase import erase
    from collector.privacy.files import drop_folder
    from collector.privacy.keys import load_key
    from collector.reports.pdf import chromium, html_to_pdf

    kind, identifier = ("subscriber", args.subscriber) if args.subscriber else ("gateway", args.gateway)
    settings = Settings(db=args.db) if args.db else Settings()

    async def work(db: Database) -> int:
        done = await erase(db, kind, identifier, key=load_key(settings), actor=ACTOR,
                           print_pdf=html_to_pdf if chromium() else None, drop_folder=drop_folder())  # fmt: skip
        print(f"erased {kind} ({len(done.gateways)} gateway(s)): {done.total} rows")
        for table, n in sorted(done.rows.items()):
            print(f"  {table:28} {n}")
        for name, n in sorted(done.files.rows.items()):
            print(f"  file {name}: {n} rows dropped")
        for name in done.files.removed + done.files.reprinted:
            print(f"  file {name}: {'removed' if name in done.files.removed else 'printed again'}")
        return 0

    return _run(args.db, work)


def add_security_commands(sub: Any) -> None:
    """The ``user``, ``token``, ``sessions`` and ``security-events`` subcommands."""
    user = sub.add_parser("user", help="operator accounts: add, set-password, role, unlock, disable, list")
    user.add_argument(
        "action", choices=["add", "set-password", "role", "unlock", "disable", "enable", "sign-out", "list"]
    )
    user.add_argument("name", nargs="?", help="user name")
    user.add_argument("--role", choices=sorted(ROLES))
    user.add_argument("--address", help="unlock: also lift the delay on this source address")
    user.add_argument("--db", help="store URL (default: HOMESCOPE_DB or sqlite:///homescope.db)")
    user.set_defaults(func=cmd_user)

    token = sub.add_parser("token", help="API tokens: create (printed once), revoke, list")
    token.add_argument("action", choices=["create", "revoke", "list"])
    token.add_argument("name", nargs="?", help="create: what the token is for; revoke: its id")
    token.add_argument("--role", choices=sorted(ROLES), default="analyst")
    token.add_argument("--days", type=float, default=90.0, help=f"expiry in days (at most {tokens.MAX_DAYS})")
    token.add_argument("--db", help="store URL")
    token.set_defaults(func=cmd_token)

    sess = sub.add_parser("sessions", help="live operator sessions; --revoke ID ends one")
    sess.add_argument(
        "--revoke", metavar="ID", help="the session id hash the list shows (at least its start)"
    )
    sess.add_argument("--db", help="store URL")
    sess.set_defaults(func=cmd_sessions)

    ev = sub.add_parser("security-events", help="the security event log, newest first (JSON lines)")
    ev.add_argument("--limit", type=int, default=100)
    ev.add_argument("--event", choices=events.KINDS)
    ev.add_argument("--db", help="store URL")
    ev.set_defaults(func=cmd_events)

    er = sub.add_parser("erase", help="remove one home everywhere (every table), with an audit record")
    which = er.add_mutually_exclusive_group(required=True)
    which.add_argument("--subscriber", metavar="ID", help="the CRM subscriber id (all its gateways)")
    which.add_argument("--gateway", metavar="ID", help="one gateway id")
    er.add_argument("--db", help="store URL")
    er.set_defaults(func=cmd_erase)

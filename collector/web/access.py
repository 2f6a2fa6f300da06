"""Who may do what: roles, permissions, and the permission every route declares.

Each handler says what it needs next to its definition::

    @routes.get("/api/v1/homes")
    @requires(Permission.HOMES_READ)
    async def api_homes(request): ...

The auth middleware refuses a route that declares nothing (a forgotten declaration is
a 500 in tests, never an open door) and a signed-in user whose role lacks the
permission (403). ``tests/collector/test_access.py`` walks the whole route table as
every role. Least privilege: contact fields (names, phones, addresses) are a
permission of their own that only ``admin`` and ``marketing`` hold.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, TypeVar

from aiohttp import web

ROLE: web.RequestKey[str] = web.RequestKey("role", str)


class Permission(StrEnum):
    #: Anyone, signed in or not (login, health, static files).
    PUBLIC = "public"
    #: Fleet aggregates: gateways, their figures and charts, areas above the minimum group.
    FLEET_READ = "fleet.read"
    #: Pseudonymised homes: profiles, labels, flags, warnings and their evidence.
    HOMES_READ = "homes.read"
    #: Subscribers' contact fields (name, phone, address) from the CRM import.
    CONTACTS_READ = "contacts.read"
    #: Segments, audiences, offers, campaigns and outcomes: read.
    MARKETING_READ = "marketing.read"
    #: Segments, audiences, campaigns: create, launch, pause; outcome imports.
    MARKETING_WRITE = "marketing.write"
    #: The installer's view: find one home, its network, measure now, record an install.
    INSTALL = "install"
    #: Reports and exports of aggregates.
    REPORTS_READ = "reports.read"
    #: Quarantined payloads (raw gateway input).
    QUARANTINE_READ = "quarantine.read"
    #: The fleet's unclassified domains (aggregates of at least the minimum of homes) and the
    #: operator's categories for them (collector/web/dpi_pages.py).
    DPI_TABLE = "dpi.table"
    #: Security events (sign-ins, failures, lockouts, token use, erasures).
    SECURITY_READ = "security.read"
    #: Users, roles, tokens, sessions, lockouts; erasure.
    ADMIN = "admin"


P = Permission
ROLES: dict[str, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "marketing": frozenset(
        {
            P.PUBLIC,
            P.FLEET_READ,
            P.HOMES_READ,
            P.CONTACTS_READ,
            P.MARKETING_READ,
            P.MARKETING_WRITE,
            P.REPORTS_READ,
        }
    ),
    "analyst": frozenset(
        {P.PUBLIC, P.FLEET_READ, P.HOMES_READ, P.MARKETING_READ, P.REPORTS_READ, P.DPI_TABLE}
    ),
    "installer": frozenset({P.PUBLIC, P.INSTALL}),
    "auditor": frozenset({P.PUBLIC, P.SECURITY_READ}),
}

H = TypeVar("H", bound=Callable[..., Awaitable[Any]])
_ATTR = "__homescope_permission__"


def requires(permission: Permission) -> Callable[[H], H]:
    """Declare the permission a handler needs (returns the handler itself)."""

    def mark(handler: H) -> H:
        setattr(handler, _ATTR, permission)
        return handler

    return mark


def declared(handler: object) -> Permission | None:
    """The permission a handler declared, or ``None``."""
    found = getattr(handler, _ATTR, None)
    return found if isinstance(found, Permission) else None


def allowed(role: str, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission`` (unknown roles hold nothing but PUBLIC)."""
    return permission is Permission.PUBLIC or permission in ROLES.get(role, frozenset())


def request_permission(request: web.Request) -> Permission | None:
    """What the matched route declared (``None`` for an unmatched path or a bare handler)."""
    route = request.match_info.route
    if route.resource is None:  # 404/405: nothing to protect
        return Permission.PUBLIC
    return declared(route.handler)

"""Unknown query parameters are refused: a 400 that names the parameter and the known ones.

The known parameters of each route are the ones its OpenAPI operation declares
(:mod:`collector.web.openapi`), so the document is the contract: a typo such as
``/homes?lable=gamer`` is an error, not a silently unfiltered list. Routes the document
does not describe (sign-in forms) are left alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import lru_cache

from aiohttp import web

from collector.profiles.rules import rules

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@lru_cache(maxsize=4)
def _known(rule_names: tuple[str, ...]) -> dict[tuple[str, str], frozenset[str]]:
    from collector.web.openapi import document

    return {
        (method.upper(), path): frozenset(p["name"] for p in op.get("parameters", []) if p["in"] == "query")
        for path, ops in document(list(rule_names))["paths"].items()
        for method, op in ops.items()
    }


def known_parameters(method: str, path: str) -> frozenset[str] | None:
    """The query parameters the document declares for ``method path`` (a route template), or ``None``."""
    return _known(tuple(sorted(rules()))).get((method, path))


@web.middleware
async def refuse_unknown(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A 400 for a query parameter the route does not declare."""
    resource = request.match_info.route.resource
    if request.query and resource is not None:
        method = "GET" if request.method == "HEAD" else request.method
        known = known_parameters(method, resource.canonical)
        if known is not None:
            unknown = sorted(set(request.query) - known)
            if unknown:
                listed = ", ".join(sorted(known)) or "none"
                raise web.HTTPBadRequest(text=f"unknown parameter {unknown[0]!r}; known: {listed}")
    return await handler(request)

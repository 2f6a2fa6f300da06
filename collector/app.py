"""``create_app``: the aiohttp application over a store, with authentication."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from collector.installer.channel import CommandChannel
from collector.profiles.config import ProfilesConfig
from collector.store import Store
from collector.web.areas import routes as area_routes
from collector.web.auth import AUTH_KEY, STORE_KEY, Auth, middleware
from collector.web.dpi_pages import setup_dpi
from collector.web.exports import routes as export_routes
from collector.web.headers import add_security_headers, css, installer_css
from collector.web.homes import setup_homes
from collector.web.installer import setup_installer
from collector.web.marketing_site import setup_marketing
from collector.web.openapi import routes as openapi_routes
from collector.web.params import refuse_unknown
from collector.web.reports import setup_reports
from collector.web.routes import AUTH, HEALTH, STORE, routes
from collector.web.security_pages import routes as security_routes


def create_app(
    store: Store,
    auth: Auth,
    health: Callable[[], dict[str, Any]] | None = None,
    commands: CommandChannel | None = None,
    profiles: ProfilesConfig | None = None,
    unclassified_min_homes: int = 5,
) -> web.Application:
    """The web app; the caller owns the store's lifecycle (and runs the evaluation schedule)."""
    app = web.Application(middlewares=[middleware(auth), refuse_unknown], client_max_size=1024 * 1024)
    app[STORE] = store
    app[AUTH] = auth
    app[STORE_KEY] = store
    app[AUTH_KEY] = auth
    app.add_routes(security_routes)
    add_security_headers(app, tls=auth.secure)
    app.router.add_get("/static/homescope.css", css)
    app.router.add_get("/static/installer.css", installer_css)

    async def seed(app: web.Application) -> None:
        await auth.seed(store)

    app.on_startup.append(seed)
    app[HEALTH] = health or (lambda: {"status": "ok"})
    app.add_routes(routes)
    setup_homes(app, profiles)
    setup_marketing(app)
    setup_reports(app)
    app.add_routes(export_routes)
    app.add_routes(area_routes)
    app.add_routes(openapi_routes)
    setup_installer(app, store, commands)
    setup_dpi(app, unclassified_min_homes)
    return app

"""Security headers on every response (ASVS 14.4) and the stylesheet that lets the CSP forbid inline code.

Set in ``on_response_prepare``, so errors raised anywhere (404s, 405s, the auth
middleware's refusals) carry them too. The CSP allows scripts and styles from our own
origin only: the pages have no inline script, style element or style attribute.
"""

from __future__ import annotations

from aiohttp import web

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
STATIC_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
#: Two years, subdomains included: only sent over TLS (RFC 6797 ignores it on plain HTTP).
HSTS = "max-age=63072000; includeSubDomains"
#: Replaces aiohttp's ``Python/3.x aiohttp/3.x`` banner.
SERVER = "homescope"


def add_security_headers(app: web.Application, *, tls: bool) -> None:
    """Every response of ``app`` gets the headers; HSTS when browsers reach it over TLS."""

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(STATIC_HEADERS)
        response.headers["Server"] = SERVER
        if tls:
            response.headers["Strict-Transport-Security"] = HSTS
        if request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "public, max-age=3600")
        else:
            # pages and API answers hold personal data: never kept by a browser or a proxy
            response.headers["Cache-Control"] = "no-store"

    app.on_response_prepare.append(on_prepare)


def stylesheet() -> str:
    """All the pages' CSS (served as ``/static/homescope.css``)."""
    from collector.web import home_markup, marketing_pages, pages

    return pages.STYLE + home_markup.STYLE + pages.EXTRA_STYLE + marketing_pages.STYLE + pages.FILTER_STYLE


async def css(request: web.Request) -> web.Response:
    return web.Response(text=stylesheet(), content_type="text/css")


async def installer_css(request: web.Request) -> web.Response:
    """The installer's phone pages' CSS (``/static/installer.css``)."""
    from collector.web import installer_pages

    return web.Response(text=installer_pages.STYLE, content_type="text/css")

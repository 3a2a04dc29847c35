"""Security headers of every response: what a page may load and run, and who may frame it.

Every response gets ``PAGE_POLICY`` as its Content-Security-Policy unless its route set a
policy of its own: documents made of data (a monitor report, an AutoML notebook) are
sandboxed with ``REPORT_POLICY`` or ``NOTEBOOK_POLICY``, and the API docs page gets
``DOCS_POLICY``. Plain ASGI, like ``slipway.server.middleware``.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _policy(*directives: str) -> str:
    return "; ".join(directives)


# No page may be framed by another site, post a form elsewhere or re-base its links.
_FRAMED_BY_STUDIO_ONLY = ("base-uri 'none'", "form-action 'self'", "frame-ancestors 'self'")

# Studio's pages: scripts only from the server's own files, never inline, so markup that
# slipped into a page cannot run. Styles may be inline because plotly.js adds <style>
# elements as it draws its charts; it makes a chart's PNG download from a blob: image.
PAGE_POLICY = _policy(
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "object-src 'none'",
    *_FRAMED_BY_STUDIO_ONLY,
)

# A monitor report, framed or opened on its own: sandboxed into an opaque origin, so its
# scripts (plotly.js and report.js, from beside it) can reach neither Studio nor the
# viewer's cookie. Its styles are an inline <style> element and plotly.js's.
REPORT_POLICY = _policy(
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'unsafe-inline'",
    "img-src data:",
    *_FRAMED_BY_STUDIO_ONLY,
    "sandbox allow-scripts",
)

# An AutoML notebook rendered by nbconvert: its inline styles and data: images, no script
# at all, in an opaque origin.
NOTEBOOK_POLICY = _policy(
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    "img-src data:",
    "font-src data:",
    *_FRAMED_BY_STUDIO_ONLY,
    "sandbox",
)

# FastAPI's Swagger UI page loads its script and styles from jsDelivr, starts with an
# inline script and styles its parts inline. The page is fixed HTML whose only data is
# the server's own OpenAPI schema, so inline script is allowed on this page alone.
DOCS_POLICY = _policy(
    "default-src 'none'",
    "script-src https://cdn.jsdelivr.net 'unsafe-inline'",
    "style-src https://cdn.jsdelivr.net 'unsafe-inline'",
    "img-src 'self' data: https://fastapi.tiangolo.com",
    "connect-src 'self'",
    *_FRAMED_BY_STUDIO_ONLY,
)

_ALWAYS = (
    # Old browsers without frame-ancestors.
    ("x-frame-options", "SAMEORIGIN"),
    # A download is never taken for a script, a style or a page.
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
)


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP response; a route's own policy wins."""

    def __init__(self, app: ASGIApp, docs_path: str | None) -> None:
        self.app = app
        self.docs_path = docs_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"] == self.docs_path else PAGE_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", policy)
                for name, value in _ALWAYS:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)

"""The methods the API serves at a path, for the Allow header of a 405 answer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Match

_METHODS = ("DELETE", "GET", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path.

    Starlette's own Allow header names the methods of the first route at the path only,
    while FastAPI makes one route per method.
    """
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]

"""Studio's routes: sign-in, its own static files, and the router of every page area.

Charts are plotly figures sent as JSON in the page and drawn by ``static/studio.js``
with the plotly.js of the plotly package, so nothing is fetched from outside the server.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from slipway.monitor.report import plotly_js
from slipway.server.middleware import SESSION_COOKIE, SIGN_IN_PATH
from slipway.studio import automl, data, endpoints, experiments, jobs, models, monitor
from slipway.studio.common import STATIC_DIR, form_fields, render, safe_next, services

MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}

router = APIRouter(include_in_schema=False)


@router.get(SIGN_IN_PATH)
def sign_in_form(request: Request, next: str = "/") -> Response:
    return render(request, "signin.html", title="Sign in", next=safe_next(next))


@router.post(SIGN_IN_PATH)
async def sign_in(request: Request) -> Response:
    form = await form_fields(request)
    token = form.get("token", "").strip()
    target = safe_next(form.get("next", "/"))
    if not token or services(request).tokens.name_of(token) is None:
        return render(
            request,
            "signin.html",
            401,
            title="Sign in",
            next=target,
            error="That token is not valid; create one with `slipway token create NAME`.",
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/signout")
def sign_out() -> Response:
    response = RedirectResponse(SIGN_IN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")
    return response


@router.get("/studio/static/{name}")
def static_file(name: str) -> Response:
    if name == "plotly.min.js":
        return FileResponse(plotly_js(), media_type="text/javascript")
    # Only a plain file name of the static folder: never a path out of it.
    path = STATIC_DIR / name
    if "/" in name or name.startswith(".") or path.suffix not in MEDIA_TYPES or not path.is_file():
        return Response(status_code=404)
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix])


@router.get("/")
def home() -> Response:
    return RedirectResponse("/experiments", status_code=303)


for area in (experiments, data, jobs, models, endpoints, monitor, automl):
    router.include_router(area.router)

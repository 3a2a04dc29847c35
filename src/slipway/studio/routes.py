"""Studio's routes: sign-in, its own static files, and the router of every page area.

Charts are plotly figures sent as JSON in the page and drawn by ``static/studio.js``
with the plotly.js of the plotly package, so nothing is fetched from outside the server.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from slipway.auth.roles import Role
from slipway.auth.sessions import SECURE_SESSION_COOKIE, SESSION_COOKIE, session_id_of
from slipway.errors import SlipwayError
from slipway.monitor.report import plotly_js
from slipway.studio import audit, automl, data, endpoints, experiments, jobs, models, monitor
from slipway.studio.common import STATIC_DIR, form_fields, render, safe_next

SIGN_IN_PATH = "/signin"

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
    platform = request.app.state.services
    try:
        principal = await run_in_threadpool(platform.tokens.authenticate, token) if token else None
    except SlipwayError as error:  # an expired token says so
        principal, problem = None, error.message
    else:
        problem = "That token is not valid; create one with `slipway token create NAME`."
    if principal is not None and principal.role is Role.INVOKE:
        principal, problem = None, "An invoke token may only call endpoints, not sign in."
    if principal is None:
        return render(request, "signin.html", 401, title="Sign in", next=target, error=problem)
    session_id = await run_in_threadpool(platform.sessions.start_session, principal)
    secure = request.url.scheme == "https"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SECURE_SESSION_COOKIE if secure else SESSION_COOKIE,
        session_id,
        max_age=int(platform.sessions.lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    return response


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    session_id = session_id_of(request.cookies)
    if session_id:
        await run_in_threadpool(request.app.state.services.sessions.end_session, session_id)
    response = RedirectResponse(SIGN_IN_PATH, status_code=303)
    for name in (SESSION_COOKIE, SECURE_SESSION_COOKIE):
        if name in request.cookies:
            response.delete_cookie(
                name, path="/", httponly=True, samesite="strict", secure=name.startswith("__")
            )
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


for area in (experiments, data, jobs, models, endpoints, monitor, automl, audit):
    router.include_router(area.router)

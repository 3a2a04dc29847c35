"""What every Studio page module shares: templates, the page and error responses, CSRF.

Pages are server-rendered with Jinja2 over the same services the REST API calls, as the
signed-in caller may use them. Forms that change something (approve, deploy, stop) post
back to Studio with a CSRF field derived from the session id, on top of the cookie being
SameSite=Strict and the server refusing state changes sent from other sites. A server
without tokens has no session, so its field is the same for everyone: there the origin
check is what refuses a cross-site form.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jinja2
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from slipway.auth.guard import GuardedServices, request_services
from slipway.auth.roles import OWNER, Action, allows
from slipway.auth.sessions import session_id_of
from slipway.errors import Forbidden, SlipwayError

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
PAGE_SIZE = 25
CSRF_FIELD = "csrf"

# Every template escapes every value, whatever its file name ends with (Starlette's own
# environment escapes only names ending in .html, .htm or .xml).
templates = Jinja2Templates(
    env=jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
)


def csrf_token(request: Request) -> str:
    """A value only a page of this server can know: derived from the session id."""
    session = session_id_of(request.cookies)
    return hmac.new(b"slipway-studio-csrf", session.encode(), hashlib.sha256).hexdigest()


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    principal = getattr(request.state, "principal", OWNER)
    return templates.TemplateResponse(
        request,
        template,
        {
            "signed_in": principal is not OWNER and bool(session_id_of(request.cookies)),
            "is_admin": allows(principal.role, Action.ADMIN),
            "csrf_field": CSRF_FIELD,
            "csrf": csrf_token(request),
            **context,
        },
        status_code,
    )


def error_page(request: Request, error: SlipwayError) -> Response:
    return render(request, "error.html", error.status_code, title=error.code, message=error.message)


def services(request: Request) -> GuardedServices:
    """The services as the signed-in caller may use them."""
    return request_services(request)


def safe_next(target: str | None) -> str:
    """Only a path on this server: never an open redirect to another site."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form's fields, the first value of each, unchecked."""
    body = (await request.body()).decode("utf-8", "replace")
    return {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}


async def read_form(request: Request) -> dict[str, str]:
    """The posted form's fields (first value of each) after the CSRF check.

    Raises Forbidden when the CSRF field is missing or wrong, or when the request
    comes from another origin.
    """
    form = await form_fields(request)
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host"):
        raise Forbidden(f"A Studio form was posted from another origin: {origin!r}.")
    if not hmac.compare_digest(form.get(CSRF_FIELD, ""), csrf_token(request)):
        raise Forbidden("The form is missing its CSRF field or it is stale; reload the page.")
    return form


def back_to(target: str) -> Response:
    """After a form post: see the result on a page (POST/redirect/GET)."""
    return RedirectResponse(safe_next(target), status_code=303)

"""Studio's page of the audit log, for admins: who changed what, when, from where."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from slipway.errors import SlipwayError
from slipway.studio.common import PAGE_SIZE, error_page, render, services

router = APIRouter(include_in_schema=False)


@router.get("/audit")
def audit_log(request: Request, actor: str = "", token: str | None = None) -> Response:
    try:
        page = services(request).audit.list_audit_events(
            actor=actor.strip() or None, max_results=PAGE_SIZE * 4, next_token=token
        )
    except SlipwayError as error:
        return error_page(request, error)
    return render(request, "audit.html", title="Audit log", page=page, q=actor)

"""Studio's endpoint pages: variants, loaded models, traffic charts, a test request."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)

"""Studio's pages of AutoML jobs, their stages, candidates and notebooks."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)

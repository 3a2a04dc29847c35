"""Studio's pages of Model Monitor schedules, executions, violations and distributions."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)

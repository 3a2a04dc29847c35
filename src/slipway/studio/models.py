"""Studio's pages of the model registry's groups and versions, approval and deploy."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)

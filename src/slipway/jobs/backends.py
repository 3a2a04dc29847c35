"""Which backend runs jobs, as the settings ask: where another backend plugs in."""

from __future__ import annotations

from slipway.jobs.backend import JobBackend
from slipway.jobs.local import LocalBackend
from slipway.settings import Settings


def backend_for(settings: Settings) -> JobBackend:
    """The backend the settings ask for."""
    return LocalBackend(settings.job_start_method)

"""Start the server under uvicorn with the settings given on the command line."""

from __future__ import annotations

import os

from slipway.settings import reload_settings


def serve(
    host: str,
    port: int,
    database_url: str | None = None,
    artifact_uri: str | None = None,
    workers: int = 1,
) -> None:
    # Options become environment variables so that every worker process sees them.
    if database_url:
        os.environ["SLIPWAY_DATABASE_URL"] = database_url
    if artifact_uri:
        os.environ["SLIPWAY_ARTIFACT_URI"] = artifact_uri
    settings = reload_settings()
    # Migrate once here rather than racing in every worker.
    from slipway.store.db import open_database

    open_database(settings.resolved_database_url)
    # Always under a supervisor, which replaces a worker that dies or that shuts itself
    # down because a prediction is stuck (slipway.serving.supervisor).
    from slipway.serving import supervisor

    supervisor.run("slipway.server.app:create_app", host, port, workers)

"""Where the SDK finds its services: in-process (embedded) or a slipway server (remote).

Which one is decided by the settings alone (``SLIPWAY_SERVER_URL`` set = remote), so the
same user code runs on a laptop and against a team's server.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slipway.settings import Settings, get_settings
from slipway.store.artifacts import ArtifactStore
from slipway.store.db import Database, open_database

if TYPE_CHECKING:
    from slipway.auth.service import TokenService
    from slipway.experiments.client import RemoteExperiments
    from slipway.experiments.service import ExperimentsService


@dataclass(frozen=True)
class Services:
    """The services of one metadata database and artifact store."""

    database: Database
    artifacts: ArtifactStore
    experiments: ExperimentsService
    tokens: TokenService


@functools.cache
def _services(database_url: str, artifact_uri: str) -> Services:
    from slipway.auth.service import TokenService
    from slipway.experiments.service import ExperimentsService

    database = open_database(database_url)
    artifacts = ArtifactStore(artifact_uri)
    return Services(
        database, artifacts, ExperimentsService(database, artifacts), TokenService(database)
    )


def services(settings: Settings | None = None) -> Services:
    """The embedded services for these settings (one set per database and store)."""
    settings = settings or get_settings()
    return _services(settings.resolved_database_url, settings.resolved_artifact_uri)


def experiments_backend() -> ExperimentsService | RemoteExperiments:
    """What the experiments SDK talks to under the current settings."""
    settings = get_settings()
    if settings.server_url:
        from slipway.experiments.client import remote_experiments

        return remote_experiments(settings.server_url, settings.token)
    return services(settings).experiments


def reset() -> None:
    """Forget cached services (after settings change, and in tests)."""
    from slipway.experiments.client import remote_experiments
    from slipway.store.db import close_databases

    _services.cache_clear()
    remote_experiments.cache_clear()
    close_databases()

"""Where the SDK finds its services: in-process (embedded) or a slipway server (remote).

Which one is decided by the settings alone (``SLIPWAY_SERVER_URL`` set = remote), so the
same user code runs on a laptop and against a team's server.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slipway.settings import Settings, get_settings
from slipway.store.artifacts import ArtifactStore
from slipway.store.db import Database, open_database

if TYPE_CHECKING:
    from slipway.artifacts.service import ArtifactService
    from slipway.auth.service import TokenService
    from slipway.experiments.client import RemoteExperiments
    from slipway.experiments.service import ExperimentsService
    from slipway.jobs.service import JobService
    from slipway.training.client import RemoteTraining
    from slipway.training.service import TrainingService


@dataclass(frozen=True)
class Services:
    """The services of one metadata database and artifact store."""

    database: Database
    artifacts: ArtifactService
    tokens: TokenService
    experiments: ExperimentsService
    jobs: JobService
    training: TrainingService


_cache: dict[str, Services] = {}
_cache_lock = threading.Lock()


def _services(settings: Settings) -> Services:
    from slipway.artifacts.service import ArtifactService
    from slipway.auth.service import TokenService
    from slipway.experiments.service import ExperimentsService
    from slipway.jobs.service import JobService
    from slipway.training.service import TrainingService

    database = open_database(settings.resolved_database_url)
    artifacts = ArtifactService(database, ArtifactStore(settings.resolved_artifact_uri))
    experiments = ExperimentsService(database, artifacts)
    jobs = JobService(database)
    return Services(
        database=database,
        artifacts=artifacts,
        tokens=TokenService(database),
        experiments=experiments,
        jobs=jobs,
        training=TrainingService(jobs, experiments, artifacts, settings),
    )


def services(settings: Settings | None = None) -> Services:
    """The embedded services for these settings (one set per database and store)."""
    settings = settings or get_settings()
    # One set of services per distinct settings (equal settings share them).
    key = settings.model_dump_json()
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _services(settings)
        return _cache[key]


def experiments_backend() -> ExperimentsService | RemoteExperiments:
    """What the experiments SDK talks to under the current settings."""
    settings = get_settings()
    if settings.server_url:
        from slipway.experiments.client import remote_experiments

        return remote_experiments(settings.server_url, settings.token)
    return services(settings).experiments


def training_backend() -> TrainingService | RemoteTraining:
    """What the training SDK talks to; embedded, it first adopts jobs nobody watches."""
    settings = get_settings()
    if settings.server_url:
        from slipway.training.client import remote_training

        return remote_training(settings.server_url, settings.token)
    training = services(settings).training
    _adopt_once(training)
    return training


@functools.cache
def _adopt_once(training: TrainingService) -> None:
    training.adopt_orphans()


def reset() -> None:
    """Forget cached services (after settings change, and in tests)."""
    from slipway.experiments.client import remote_experiments
    from slipway.store.db import close_databases

    with _cache_lock:
        _cache.clear()
    _adopt_once.cache_clear()
    remote_experiments.cache_clear()
    close_databases()

"""Where the SDK finds its services: in-process (embedded) or a slipway server (remote).

Which one is decided by the settings alone (``SLIPWAY_SERVER_URL`` set = remote), so the
same user code runs on a laptop and against a team's server.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

from slipway.settings import Settings, get_settings
from slipway.store.artifacts import ArtifactStore
from slipway.store.db import Database, open_database

if TYPE_CHECKING:
    from slipway.artifacts.service import ArtifactService
    from slipway.auth.service import TokenService
    from slipway.automl.client import RemoteAutoML
    from slipway.automl.service import AutoMLService
    from slipway.experiments.client import RemoteExperiments
    from slipway.experiments.service import ExperimentsService
    from slipway.jobs.client import RemoteJobs
    from slipway.jobs.service import JobService
    from slipway.monitor.service import MonitorService
    from slipway.registry.client import RemoteRegistry
    from slipway.registry.service import RegistryService
    from slipway.serving.client import RemoteServing
    from slipway.serving.service import ServingService
    from slipway.training.client import RemoteTraining
    from slipway.training.service import TrainingService
    from slipway.transform.client import RemoteTransform
    from slipway.transform.service import TransformService
    from slipway.tuning.client import RemoteTuning
    from slipway.tuning.service import TuningService


class Services:
    """The services of one metadata database and artifact store, built on first use.

    Each capability is imported and constructed only when something asks for it: a
    training script that logs metrics must not pay for importing the monitor's SciPy.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database: Database = open_database(settings.resolved_database_url)

    @functools.cached_property
    def artifacts(self) -> ArtifactService:
        from slipway.artifacts.service import ArtifactService

        return ArtifactService(self.database, ArtifactStore(self.settings.resolved_artifact_uri))

    @functools.cached_property
    def tokens(self) -> TokenService:
        from slipway.auth.service import TokenService

        return TokenService(self.database)

    @functools.cached_property
    def experiments(self) -> ExperimentsService:
        from slipway.experiments.service import ExperimentsService

        return ExperimentsService(self.database, self.artifacts)

    @functools.cached_property
    def jobs(self) -> JobService:
        from slipway.jobs.service import JobService

        return JobService(self.database)

    @functools.cached_property
    def training(self) -> TrainingService:
        from slipway.training.service import TrainingService

        return TrainingService(self.jobs, self.experiments, self.artifacts, self.settings)

    @functools.cached_property
    def tuning(self) -> TuningService:
        from slipway.tuning.service import TuningService

        return TuningService(
            self.jobs, self.training, self.experiments, self.artifacts, self.settings
        )

    @functools.cached_property
    def automl(self) -> AutoMLService:
        from slipway.automl.service import AutoMLService

        return AutoMLService(
            self.jobs, self.training, self.tuning, self.experiments, self.artifacts,
            self.registry, self.settings,
        )  # fmt: skip

    @functools.cached_property
    def registry(self) -> RegistryService:
        from slipway.registry.service import RegistryService

        return RegistryService(self.database, self.training)

    @functools.cached_property
    def serving(self) -> ServingService:
        from slipway.serving.service import ServingService

        return ServingService(self.database, self.settings)

    @functools.cached_property
    def transform(self) -> TransformService:
        from slipway.transform.service import TransformService

        return TransformService(
            self.jobs, self.serving, self.experiments, self.artifacts, self.settings
        )

    @functools.cached_property
    def monitor(self) -> MonitorService:
        from slipway.monitor.service import MonitorService

        return MonitorService(
            self.database, self.jobs, self.artifacts, self.training, self.settings, self.serving
        )


_cache: dict[str, Services] = {}
_cache_lock = threading.Lock()


def services(settings: Settings | None = None) -> Services:
    """The embedded services for these settings (one set per database and store)."""
    settings = settings or get_settings()
    # One set of services per distinct settings (equal settings share them).
    key = settings.model_dump_json()
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Services(settings)
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


def jobs_backend() -> JobService | RemoteJobs:
    """What `slipway jobs` talks to: jobs of every kind, in-process or on a server."""
    settings = get_settings()
    if settings.server_url:
        from slipway.jobs.client import remote_jobs

        return remote_jobs(settings.server_url, settings.token)
    return services(settings).jobs


def tuning_backend() -> TuningService | RemoteTuning:
    """What the tuning SDK talks to; embedded, it first adopts jobs nobody watches."""
    settings = get_settings()
    if settings.server_url:
        from slipway.tuning.client import remote_tuning

        return remote_tuning(settings.server_url, settings.token)
    found = services(settings)
    _adopt_once(found.training)
    _adopt_tuning_once(found.tuning)
    return found.tuning


def automl_backend() -> AutoMLService | RemoteAutoML:
    """What the AutoML SDK and CLI talk to; embedded, it first adopts jobs nobody watches."""
    settings = get_settings()
    if settings.server_url:
        from slipway.automl.client import remote_automl

        return remote_automl(settings.server_url, settings.token)
    found = services(settings)
    _adopt_once(found.training)
    _adopt_tuning_once(found.tuning)
    _adopt_automl_once(found.automl)
    return found.automl


def registry_backend() -> RegistryService | RemoteRegistry:
    """What the model registry SDK talks to under the current settings."""
    settings = get_settings()
    if settings.server_url:
        from slipway.registry.client import remote_registry

        return remote_registry(settings.server_url, settings.token)
    return services(settings).registry


def transform_backend() -> TransformService | RemoteTransform:
    """What the transform SDK and CLI talk to; embedded, it first resumes orphaned jobs."""
    settings = get_settings()
    if settings.server_url:
        from slipway.transform.client import remote_transform

        return remote_transform(settings.server_url, settings.token)
    transform = services(settings).transform
    _adopt_transform_once(transform)
    return transform


def serving_backend() -> ServingService | RemoteServing:
    """What the serving SDK and CLI talk to under the current settings."""
    settings = get_settings()
    if settings.server_url:
        from slipway.serving.client import remote_serving

        return remote_serving(settings.server_url, settings.token)
    return services(settings).serving


@functools.cache
def _adopt_once(training: TrainingService) -> None:
    training.adopt_orphans()


@functools.cache
def _adopt_tuning_once(tuning: TuningService) -> None:
    tuning.adopt_orphans()


@functools.cache
def _adopt_automl_once(automl: AutoMLService) -> None:
    automl.adopt_orphans()


@functools.cache
def _adopt_transform_once(transform: TransformService) -> None:
    transform.adopt_orphans()


def reset() -> None:
    """Forget cached services (after settings change, and in tests)."""
    from slipway.experiments.client import remote_experiments
    from slipway.serving.client import remote_serving
    from slipway.store.db import close_databases

    with _cache_lock:
        _cache.clear()
    _adopt_once.cache_clear()
    _adopt_tuning_once.cache_clear()
    _adopt_transform_once.cache_clear()
    _adopt_automl_once.cache_clear()
    remote_experiments.cache_clear()
    remote_serving.cache_clear()
    close_databases()

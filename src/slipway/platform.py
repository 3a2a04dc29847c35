"""Where the SDK finds its services: in-process (embedded) or a slipway server (remote).

Which one is decided by the settings alone (``SLIPWAY_SERVER_URL`` set = remote), so the
same user code runs on a laptop and against a team's server.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import threading
from typing import TYPE_CHECKING, Any

from slipway.settings import Settings, get_settings

if TYPE_CHECKING:
    from slipway.artifacts.buckets import BucketService
    from slipway.artifacts.service import ArtifactService
    from slipway.auth.audit import AuditService
    from slipway.auth.client import RemoteAudit, RemoteTokens
    from slipway.auth.owners import OwnerService
    from slipway.auth.service import TokenService
    from slipway.auth.sessions import SessionService
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
    from slipway.store.db import Database
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
        # Imported here: a CLI command in remote mode (or --help) needs no database.
        from slipway.store.db import open_database

        self.settings = settings
        self.database: Database = open_database(settings.resolved_database_url)

    @functools.cached_property
    def artifacts(self) -> ArtifactService:
        from slipway.artifacts.service import ArtifactService
        from slipway.store.artifacts import ArtifactStore

        return ArtifactService(self.database, ArtifactStore(self.settings.resolved_artifact_uri))

    @functools.cached_property
    def buckets(self) -> BucketService:
        from slipway.artifacts.buckets import BucketService

        return BucketService(self.artifacts)

    @functools.cached_property
    def tokens(self) -> TokenService:
        from slipway.auth.service import TokenService

        return TokenService(self.database)

    @functools.cached_property
    def sessions(self) -> SessionService:
        from slipway.auth.sessions import SessionService

        lifetime = dt.timedelta(hours=self.settings.session_lifetime_hours)
        return SessionService(self.database, self.tokens, lifetime)

    @functools.cached_property
    def owners(self) -> OwnerService:
        from slipway.auth.owners import OwnerService

        return OwnerService(self.database)

    @functools.cached_property
    def audit(self) -> AuditService:
        from slipway.auth.audit import AuditService

        return AuditService(self.database)

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

        return RegistryService(self.database, self.training, self.serving)

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


# Per capability: the remote client factory (a functools.cache'd function per server and
# token) used when SLIPWAY_SERVER_URL is set.
_REMOTE = {
    "experiments": "slipway.experiments.client:remote_experiments",
    "training": "slipway.training.client:remote_training",
    "jobs": "slipway.jobs.client:remote_jobs",
    "tuning": "slipway.tuning.client:remote_tuning",
    "automl": "slipway.automl.client:remote_automl",
    "registry": "slipway.registry.client:remote_registry",
    "transform": "slipway.transform.client:remote_transform",
    "serving": "slipway.serving.client:remote_serving",
    "tokens": "slipway.auth.client:remote_tokens",
    "audit": "slipway.auth.client:remote_audit",
}


def _remote_factory(capability: str) -> Any:
    module, name = _REMOTE[capability].split(":")
    return getattr(importlib.import_module(module), name)


def _backend(capability: str, adopt: tuple[str, ...] = ()) -> Any:
    """A capability's service in-process, or its client of the configured server.

    Embedded, the job kinds in ``adopt`` first take over jobs nobody watches any more
    (their watching process ended), once per process and set of services.
    """
    settings = get_settings()
    if settings.server_url:
        return _remote_factory(capability)(settings.server_url, settings.token)
    found = services(settings)
    for kind in adopt:
        _adopt_once(getattr(found, kind))
    return getattr(found, capability)


def experiments_backend() -> ExperimentsService | RemoteExperiments:
    return _backend("experiments")


def training_backend() -> TrainingService | RemoteTraining:
    return _backend("training", adopt=("training",))


def jobs_backend() -> JobService | RemoteJobs:
    """What `slipway jobs` talks to: jobs of every kind."""
    return _backend("jobs")


def tuning_backend() -> TuningService | RemoteTuning:
    return _backend("tuning", adopt=("training", "tuning"))


def automl_backend() -> AutoMLService | RemoteAutoML:
    return _backend("automl", adopt=("training", "tuning", "automl"))


def registry_backend() -> RegistryService | RemoteRegistry:
    return _backend("registry")


def transform_backend() -> TransformService | RemoteTransform:
    return _backend("transform", adopt=("transform",))


def serving_backend() -> ServingService | RemoteServing:
    return _backend("serving")


def tokens_backend() -> TokenService | RemoteTokens:
    """What `slipway token` talks to: the server's tokens, or the local home's."""
    return _backend("tokens")


def audit_backend() -> AuditService | RemoteAudit:
    return _backend("audit")


@functools.cache
def _adopt_once(service: Any) -> None:
    service.adopt_orphans()


def reset() -> None:
    """Forget cached services and clients (after settings change, and in tests)."""
    from slipway.store.db import close_databases

    with _cache_lock:
        _cache.clear()
    _adopt_once.cache_clear()
    for capability in _REMOTE:
        _remote_factory(capability).cache_clear()
    close_databases()

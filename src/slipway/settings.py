"""The one settings object: environment ``SLIPWAY_*``, then a config file, then defaults."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _home() -> Path:
    return Path(os.environ.get("SLIPWAY_HOME", "~/.slipway")).expanduser()


class Settings(BaseSettings):
    """Where slipway keeps things and whom it talks to."""

    # Frozen: settings are read once and hashable, so services can be cached per settings.
    model_config = SettingsConfigDict(env_prefix="SLIPWAY_", extra="ignore", frozen=True)

    home: Path = Field(default_factory=_home, description="Folder for embedded storage.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the metadata store (SQLite or PostgreSQL)."
    )
    artifact_uri: str | None = Field(
        default=None, description="Root of the artifact store: a folder or an s3:// URI."
    )
    server_url: str | None = Field(
        default=None, description="URL of a slipway server; when set, the SDK runs remote."
    )
    token: str | None = Field(default=None, description="Bearer token for the server.")
    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "::1"],
        description=(
            "Host names the server answers to ('*.example.com' for subdomains, '*' for any); "
            "any other Host header gets 400, which stops DNS rebinding."
        ),
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description=(
            "Addresses of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are "
            "believed (for the audit log's client address and secure cookies)."
        ),
    )
    bootstrap_admin_token: str | None = Field(
        default=None,
        description=(
            "A server that has no token yet makes this one its first admin token at start "
            "(for deployments that cannot run `slipway token create` first)."
        ),
    )
    session_lifetime_hours: float = Field(
        default=12.0, gt=0, description="Hours a Studio sign-in lasts before it must be renewed."
    )
    max_body_bytes: int = Field(
        default=64 * 1024 * 1024, description="Largest JSON request body the server accepts."
    )
    max_parallel_jobs: int = Field(
        default=max(os.cpu_count() or 1, 1),
        ge=1,
        description="Jobs one slipway process runs at once; more wait their turn.",
    )
    job_stop_grace_seconds: float = Field(
        default=10.0, ge=0, description="Seconds between SIGTERM and SIGKILL when a job stops."
    )
    job_start_method: Literal["forkserver", "spawn"] = Field(
        default="forkserver",
        description=(
            "How a job's Python starts: forked from a prestarted interpreter, or a new one."
        ),
    )
    # Generous: a model archive may hold many gigabytes. The caps stop archive bombs.
    max_archive_bytes: int = Field(
        default=64 * 1024**3, ge=1, description="Most bytes one archive may unpack to."
    )
    max_archive_members: int = Field(
        default=100_000, ge=1, description="Most files and folders one archive may hold."
    )
    metric_flush_interval: float = Field(
        default=0.2, description="Seconds between background writes of buffered metrics."
    )
    # --- serving (slipway.inference, slipway.serving) ---
    trusted_model_sources: list[str] = Field(
        default_factory=list,
        description="URI or path prefixes whose pickle/joblib model files may be loaded.",
    )
    trusted_skops_types: list[str] = Field(
        default_factory=lambda: ["sklearn.", "numpy.", "scipy."],
        description="Types skops may rebuild: full names, or module prefixes ending in '.'.",
    )
    model_cache_dir: Path | None = Field(
        default=None, description="Local folder for downloaded models (default: home/models)."
    )
    max_invocation_bytes: int = Field(
        default=6 * 1024 * 1024, description="Largest invocation body an endpoint accepts."
    )
    invocation_timeout: float = Field(
        default=60.0, description="Seconds a prediction may take before its worker is replaced."
    )
    capture_flush_interval: float = Field(
        default=60.0, description="Seconds before a data capture file is moved to its URI."
    )
    # What ARNs of the SageMaker API name: code that parses ARNs finds a well-formed one.
    aws_region: str = Field(default="us-east-1", description="Region in SageMaker API ARNs.")
    aws_account_id: str = Field(
        default="000000000000",
        pattern=r"^[0-9]{12}$",
        description="Twelve-digit account id in SageMaker API ARNs.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = _home() / "config.toml"
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file),
        )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'slipway.db'}"

    @property
    def resolved_artifact_uri(self) -> str:
        return self.artifact_uri or str(self.home / "artifacts")

    @property
    def resolved_model_cache_dir(self) -> Path:
        return self.model_cache_dir or self.home / "models"


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once; `reload_settings` re-reads them."""
    return Settings()


def reload_settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()

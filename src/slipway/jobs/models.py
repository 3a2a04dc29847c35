"""Job entities shared by every kind of job, in the reference's names."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, NamedTuple

from slipway.experiments.models import WireModel


class JobKind(StrEnum):
    TRAINING = "TrainingJob"
    TUNING = "HyperParameterTuningJob"
    TRANSFORM = "TransformJob"
    MONITORING = "MonitoringExecution"
    AUTOML = "AutoMLJob"


class JobStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED)


class SecondaryStatus(StrEnum):
    """The reference's secondary statuses (training, tuning, AutoML stages share this)."""

    STARTING = "Starting"
    PENDING = "Pending"
    DOWNLOADING = "Downloading"
    TRAINING = "Training"
    UPLOADING = "Uploading"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    MAX_RUNTIME_EXCEEDED = "MaxRuntimeExceeded"
    COMPLETED = "Completed"
    FAILED = "Failed"
    INTERRUPTED = "Interrupted"
    # AutoML stages
    ANALYZING_DATA = "AnalyzingData"
    FEATURE_ENGINEERING = "FeatureEngineering"
    MODEL_TUNING = "ModelTuning"
    MAX_CANDIDATES_REACHED = "MaxCandidatesReached"
    MAX_AUTOML_JOB_RUNTIME_REACHED = "MaxAutoMLJobRuntimeReached"
    CANDIDATE_DEFINITIONS_GENERATED = "CandidateDefinitionsGenerated"


class StatusTransition(WireModel):
    status: SecondaryStatus
    start_time: dt.datetime
    end_time: dt.datetime | None = None
    status_message: str | None = None


class Job(WireModel):
    """What every job reports, whatever its kind; ``spec`` and ``result`` are kind-specific."""

    job_name: str
    job_kind: JobKind
    status: JobStatus
    secondary_status: SecondaryStatus
    secondary_status_transitions: list[StatusTransition] = []
    failure_reason: str | None = None
    creation_time: dt.datetime
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    last_modified_time: dt.datetime
    parent_job_name: str | None = None
    spec: dict[str, Any] = {}
    result: dict[str, Any] = {}


class LogLine(WireModel):
    line_number: int
    timestamp: float
    message: str


class ChildState(NamedTuple):
    """Where a child job is: its status and its result so far."""

    status: JobStatus
    result: dict[str, Any]


class Orphan(NamedTuple):
    """A running job whose watcher may be gone: who watched it and when it last beat."""

    job_name: str
    watcher: str | None
    heartbeat_at: dt.datetime | None


class Stage(NamedTuple):
    """A secondary status a job entered, with its message and when."""

    status: SecondaryStatus
    message: str | None
    at: dt.datetime

"""The training SDK, shaped like the SageMaker Python SDK's script mode.

``Estimator(entry_point="train.py", source_dir="src", hyperparameters={...}).fit(inputs)``
packs the source folder, creates a training job and (by default) waits for it while
printing its logs. The same code runs embedded or against a server.
"""

from __future__ import annotations

import io
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from slipway.errors import SlipwayError, ValidationError
from slipway.jobs.models import JobStatus
from slipway.jobs.waiting import wait_until
from slipway.names import generate_name
from slipway.platform import training_backend
from slipway.training.models import Channel, CreateTrainingJob, ExperimentConfig
from slipway.training.models import TrainingJob as TrainingJobDescription

_FOLLOW_POLL = 0.2


class JobFailed(SlipwayError):
    """A job waited on ended Failed or Stopped."""

    status_code = 409
    code = "JobFailed"


def _pack(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for item in sorted(folder.iterdir()):
            if item.name in ("__pycache__", ".git", ".venv"):
                continue
            tar.add(item, arcname=item.name)
    return buffer.getvalue()


def _channels(inputs: str | dict[str, Any] | None) -> dict[str, Channel]:
    if inputs is None:
        return {}
    if isinstance(inputs, str):
        return {"training": Channel(uri=inputs)}
    channels = {}
    for name, value in inputs.items():
        if isinstance(value, Channel):
            channels[name] = value
        elif isinstance(value, str):
            channels[name] = Channel(uri=value)
        else:  # a TrainingInput-like object with the reference's attribute names
            uri = getattr(value, "s3_data", None) or getattr(value, "uri", None)
            if not isinstance(uri, str):
                raise ValidationError(f"input channel {name!r}: {value!r} is not a URI")
            channels[name] = Channel(uri=uri, content_type=getattr(value, "content_type", None))
    return channels


class TrainingJob:
    """A handle on one training job: describe it, wait for it, follow its logs, stop it."""

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def create(cls, request: CreateTrainingJob) -> TrainingJob:
        training_backend().create_training_job(request)
        return cls(request.training_job_name)

    @classmethod
    def load(cls, name: str) -> TrainingJob:
        training_backend().describe_training_job(name)
        return cls(name)

    @classmethod
    def list(
        cls, status: str | None = None, name_contains: str | None = None
    ) -> Iterator[TrainingJobDescription]:
        backend = training_backend()
        token = None
        while True:
            page = backend.list_training_jobs(
                status=status, name_contains=name_contains, max_results=100, next_token=token
            )
            yield from page.items
            token = page.next_token
            if not token:
                return

    def describe(self) -> TrainingJobDescription:
        return training_backend().describe_training_job(self.name)

    def stop(self) -> TrainingJobDescription:
        return training_backend().stop_training_job(self.name)

    def logs(self, follow: bool = False) -> Iterator[str]:
        """The job's log lines; with follow, keep reading until the job ends."""
        backend = training_backend()
        after = 0
        while True:
            lines = backend.read_logs(self.name, after, 1000)
            for line in lines:
                yield line.message
            if lines:
                after = lines[-1].line_number
                continue
            if not follow:
                return
            if backend.describe_training_job(self.name).training_job_status.is_final:
                rest = backend.read_logs(self.name, after, 1000)
                yield from (line.message for line in rest)
                if not rest:
                    return
                after = rest[-1].line_number
                continue
            time.sleep(_FOLLOW_POLL)

    def wait(self, logs: bool = False) -> TrainingJobDescription:
        """Block until the job ends; raise JobFailed unless it Completed."""
        if logs:
            for line in self.logs(follow=True):
                print(line, file=sys.stdout, flush=True)
        backend = training_backend()
        waiter = getattr(backend, "wait", None)
        if waiter is not None:
            description = waiter(self.name)
        else:
            description = wait_until(
                lambda: backend.describe_training_job(self.name),
                lambda found: found.training_job_status.is_final,
                None,
                _FOLLOW_POLL,
            )
        if description.training_job_status != JobStatus.COMPLETED:
            reason = description.failure_reason or "no reason given"
            raise JobFailed(
                f"training job {self.name!r} ended {description.training_job_status} "
                f"({description.secondary_status}): {reason}"
            )
        return description


class Estimator:
    """Runs a training script as a job, the way the SageMaker Python SDK's Estimator does.

    ``role``, ``instance_type``, ``instance_count``, ``framework_version`` and
    ``py_version`` are accepted so existing code runs unchanged; jobs run on this
    platform's runner, with the Python environment slipway itself runs in.
    """

    def __init__(
        self,
        entry_point: str,
        source_dir: str | Path | None = None,
        hyperparameters: dict[str, Any] | None = None,
        metric_definitions: list[dict[str, str]] | None = None,
        output_path: str | None = None,
        environment: dict[str, str] | None = None,
        max_run: int = 24 * 3600,
        base_job_name: str | None = None,
        role: str | None = None,
        instance_type: str | None = None,
        instance_count: int = 1,
        framework_version: str | None = None,
        py_version: str | None = None,
    ) -> None:
        self.entry_point = entry_point
        self.source_dir = source_dir
        self.hyperparameters = dict(hyperparameters or {})
        self.metric_definitions = list(metric_definitions or [])
        self.output_path = output_path
        self.environment = dict(environment or {})
        self.max_run = max_run
        self.base_job_name = base_job_name
        self.latest_training_job: TrainingJob | None = None

    def _source_folder(self) -> Path:
        folder = Path(self.source_dir) if self.source_dir else Path(self.entry_point).parent
        entry = folder / self.entry_point if self.source_dir else Path(self.entry_point)
        if not entry.is_file():
            raise ValidationError(
                f"entry point {str(entry)!r} not found; pass entry_point relative to "
                "source_dir (or a path to the script when there is no source_dir)"
            )
        return folder if self.source_dir else entry.parent.resolve()

    def request(
        self,
        inputs: str | dict[str, Any] | None,
        job_name: str,
        experiment_config: dict[str, str] | None,
        source_uri: str | None,
    ) -> CreateTrainingJob:
        """The job this estimator would create (the tuner builds its jobs from it)."""
        return CreateTrainingJob(
            training_job_name=job_name,
            entry_point=self.entry_point if self.source_dir else Path(self.entry_point).name,
            source_uri=source_uri,
            hyperparameters=self.hyperparameters,
            metric_definitions=self.metric_definitions,
            input_data_config=_channels(inputs),
            output_path=self.output_path,
            environment=self.environment,
            max_run=self.max_run,
            experiment_config=ExperimentConfig.model_validate(experiment_config)
            if experiment_config
            else None,
        )

    def upload_source(self, job_name: str) -> str:
        return training_backend().upload_source(job_name, [_pack(self._source_folder())])

    def fit(
        self,
        inputs: str | dict[str, Any] | None = None,
        wait: bool = True,
        logs: bool = True,
        job_name: str | None = None,
        experiment_config: dict[str, str] | None = None,
    ) -> None:
        name = job_name or generate_name(self.base_job_name or "slipway-training")[:63]
        # Validate the whole request before storing the source: bad input leaves nothing.
        request = self.request(inputs, name, experiment_config, None)
        source_uri = self.upload_source(name)
        job = TrainingJob.create(request.model_copy(update={"source_uri": source_uri}))
        self.latest_training_job = job
        if wait:
            job.wait(logs=logs)

    @property
    def model_data(self) -> str | None:
        if self.latest_training_job is None:
            return None
        artifacts = self.latest_training_job.describe().model_artifacts
        return artifacts["S3ModelArtifacts"] if artifacts else None

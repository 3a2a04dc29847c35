"""The batch transform SDK, shaped like the SageMaker Python SDK's Transformer.

``Transformer("churn-model", instance_count=1, strategy="MultiRecord",
assemble_with="Line", output_path="s3://bucket/scores").transform("s3://bucket/data/",
content_type="text/csv", split_type="Line")`` scores every file of the prefix into
``<output_path>/<file>.out``, embedded or on a server.
"""

from __future__ import annotations

import os
import time
from typing import Any

from slipway.errors import ValidationError
from slipway.names import generate_name
from slipway.platform import transform_backend
from slipway.training.estimator import JobFailed
from slipway.training.models import ExperimentConfig
from slipway.transform.models import CreateTransformJob
from slipway.transform.models import TransformJob as Description

_POLL = 0.25


def _choice(kind: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValidationError(f"{kind} {value!r} is not valid; use one of {', '.join(allowed)}")
    return value


class TransformJob:
    """A handle on one transform job: describe it, wait for it, stop it."""

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def load(cls, name: str) -> TransformJob:
        transform_backend().describe_transform_job(name)  # NotFound for an unknown job
        return cls(name)

    @staticmethod
    def list(status: str | None = None, name_contains: str | None = None) -> list[Description]:
        return (
            transform_backend()
            .list_transform_jobs(status=status, name_contains=name_contains)
            .items
        )

    def describe(self) -> Description:
        return transform_backend().describe_transform_job(self.name)

    def stop(self) -> Description:
        return transform_backend().stop_transform_job(self.name)

    def wait(self, progress: bool = False, timeout: float | None = None) -> Description:
        """Block until the job ends; raise JobFailed unless it Completed.

        With ``progress``, a Rich progress bar shows files and records as they finish.
        """
        job = self._follow(timeout) if progress else self._poll(timeout)
        status = job.transform_job_status
        if status.value != "Completed" and status.is_final:
            raise JobFailed(
                f"transform job {self.name!r} ended {status}: {job.failure_reason or 'stopped'}"
            )
        return job

    def _poll(self, timeout: float | None) -> Description:
        return transform_backend().wait(self.name, timeout)

    def _follow(self, timeout: float | None) -> Description:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        deadline = None if timeout is None else time.monotonic() + timeout
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files · {task.fields[records]} records"),
        )
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(self.name, total=None, records=0)
            while True:
                job = self.describe()
                done = job.progress
                bar.update(
                    task,
                    total=done.files_total or None,
                    completed=done.files_completed,
                    records=done.records_processed,
                )
                if job.transform_job_status.is_final:
                    return job
                if deadline is not None and time.monotonic() > deadline:
                    return job
                time.sleep(_POLL)


class Transformer:
    """Scores datasets offline with a hosted model (a serving model entity)."""

    def __init__(
        self,
        model_name: str,
        instance_count: int = 1,
        instance_type: str = "local",
        strategy: str = "MultiRecord",
        assemble_with: str | None = None,
        output_path: str | None = None,
        accept: str | None = None,
        max_concurrent_transforms: int | None = None,
        max_payload: int = 6,
        env: dict[str, str] | None = None,
        base_transform_job_name: str | None = None,
    ) -> None:
        self.model_name = model_name
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.strategy = _choice("strategy", strategy, ("MultiRecord", "SingleRecord"))
        self.assemble_with = _choice("assemble_with", assemble_with or "None", ("None", "Line"))
        self.output_path = output_path
        self.accept = accept
        self.max_concurrent_transforms = max_concurrent_transforms
        self.max_payload = max_payload
        self.env = dict(env or {})
        self.base_transform_job_name = base_transform_job_name or model_name
        self.latest_transform_job: TransformJob | None = None

    def transform(
        self,
        data: str,
        content_type: str | None = None,
        split_type: str | None = None,
        compression_type: str | None = None,
        input_filter: str | None = None,
        output_filter: str | None = None,
        join_source: str | None = None,
        job_name: str | None = None,
        experiment_config: dict[str, str] | None = None,
        wait: bool = True,
        progress: bool = False,
    ) -> Description:
        """Start a job over ``data`` (one file, a folder or a prefix); wait for it by default."""
        split = _choice("split_type", split_type or "None", ("None", "Line"))
        data = _absolute(data)
        self.output_path = _absolute(self.output_path) if self.output_path else None
        name = job_name or generate_name(self.base_transform_job_name)[:63]
        request = CreateTransformJob.model_validate(
            {
                "TransformJobName": name,
                "ModelName": self.model_name,
                "TransformInput": {
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data}},
                    "ContentType": content_type,
                    "CompressionType": compression_type or "None",
                    "SplitType": split,
                },
                "TransformOutput": {
                    "S3OutputPath": self.output_path,
                    "Accept": self.accept,
                    "AssembleWith": self.assemble_with,
                },
                "TransformResources": {
                    "InstanceType": self.instance_type,
                    "InstanceCount": self.instance_count,
                },
                "MaxConcurrentTransforms": self.max_concurrent_transforms,
                "MaxPayloadInMB": self.max_payload,
                "BatchStrategy": self.strategy,
                "Environment": self.env,
                "DataProcessing": {
                    "InputFilter": input_filter or "$",
                    "OutputFilter": output_filter or "$",
                    "JoinSource": join_source or "None",
                },
                "ExperimentConfig": _experiment_config(experiment_config),
            }
        )
        job = transform_backend().create_transform_job(request)
        self.output_path = job.transform_output.s3_output_path
        self.latest_transform_job = TransformJob(name)
        if wait:
            return self.wait(progress=progress)
        return job

    def wait(self, progress: bool = False, timeout: float | None = None) -> Description:
        if self.latest_transform_job is None:
            raise ValidationError("no transform job yet; call transform(data=...) first")
        return self.latest_transform_job.wait(progress=progress, timeout=timeout)

    def stop_transform_job(self) -> Description:
        if self.latest_transform_job is None:
            raise ValidationError("no transform job yet; call transform(data=...) first")
        return self.latest_transform_job.stop()


def _absolute(uri: str) -> str:
    """A local relative path as an absolute one: the job may run in another process."""
    return uri if "://" in uri else os.path.abspath(uri)


def _experiment_config(config: dict[str, str] | None) -> dict[str, Any] | None:
    if not config:
        return None
    return ExperimentConfig.model_validate(config).to_wire()

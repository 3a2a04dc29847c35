"""Batch transform jobs: score a dataset with a hosted model, offline and resumable.

A job runs in a watcher thread of the process that creates it (the server, or the SDK
user's process when embedded; see ``jobs.lifecycle``), with ``MaxConcurrentTransforms``
worker threads over its files. When that process dies, any later slipway process adopts
the job and continues where it stopped (see ``_execution``).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
from pathlib import Path

from slipway.artifacts.service import ArtifactService
from slipway.errors import NotFound, SlipwayError, ValidationError
from slipway.experiments.models import Artifact, Page, PrimaryStatus, Source, TrialComponentStatus
from slipway.experiments.service import ExperimentsService
from slipway.jobs.lifecycle import JobLifecycle, failure_reason
from slipway.jobs.models import Job, JobKind, JobStatus, SecondaryStatus
from slipway.jobs.service import JobService
from slipway.serving.models import ContainerMode
from slipway.serving.service import ServingService
from slipway.settings import Settings
from slipway.transform import _execution
from slipway.transform.models import CreateTransformJob, TransformJob, TransformProgress

KIND = JobKind.TRANSFORM
SOURCE_TYPE = "SageMakerTransformJob"
# How often a running job's progress is stored and a stop request looked for.
_PROGRESS_SECONDS = 1.0


def trial_component_name(job_name: str) -> str:
    """The reference's name of a transform job's trial component."""
    return f"{job_name}-aws-transform-job"


def source_arn(job_name: str) -> str:
    return f"arn:slipway:transform-job/{job_name}"


class TransformService:
    """Creates, runs, stops and describes batch transform jobs."""

    def __init__(
        self,
        jobs: JobService,
        serving: ServingService,
        experiments: ExperimentsService,
        artifacts: ArtifactService,
        settings: Settings,
    ) -> None:
        self.jobs = jobs
        self.serving = serving
        self.experiments = experiments
        self.artifacts = artifacts
        self.settings = settings
        self.lifecycle = JobLifecycle(jobs, KIND)

    # --- the verbs ----------------------------------------------------------------------

    def create_transform_job(self, request: CreateTransformJob) -> TransformJob:
        self._check(request)
        name = request.transform_job_name
        if request.transform_output.s3_output_path is None:
            request = request.model_copy(deep=True)
            request.transform_output.s3_output_path = self.artifacts.uri_for(
                f"transform-jobs/{name}/output"
            )
        self.jobs.create_job(KIND, name, request.to_wire())
        try:
            self._create_trial_component(request)
        except SlipwayError as error:
            self.jobs.finish(KIND, name, JobStatus.FAILED, failure_reason(error))
            raise
        self._run_in_background(name)
        return self.describe_transform_job(name)

    def describe_transform_job(self, name: str) -> TransformJob:
        return _describe(self.jobs.get_job(KIND, name))

    def list_transform_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        name_contains: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> Page[TransformJob]:
        page = self.jobs.list_jobs(
            kind=KIND,
            status=status,
            name_contains=name_contains,
            max_results=max_results,
            next_token=next_token,
        )
        return Page[TransformJob](
            items=[_describe(job) for job in page.items], next_token=page.next_token
        )

    def stop_transform_job(self, name: str) -> TransformJob:
        self.lifecycle.stop(name)
        return self.describe_transform_job(name)

    def wait(self, name: str, timeout: float | None = None, poll: float = 0.1) -> TransformJob:
        """Block until the job ends (or the timeout passes); returns its description."""
        return _describe(self.lifecycle.wait(name, timeout, poll))

    def adopt_orphans(self) -> list[str]:
        """Continue running jobs whose process died (or went silent): they resume."""
        return self.lifecycle.adopt_orphans(self._run_in_background)

    # --- checks and tracking ------------------------------------------------------------

    def _check(self, request: CreateTransformJob) -> None:
        model = self.serving.get_model(request.model_name)
        if model.primary_container.mode == ContainerMode.MULTI_MODEL:
            raise ValidationError(
                f"model {request.model_name!r} is a multi-model container; a transform job "
                "needs a model with one model.tar.gz"
            )
        _execution.list_inputs(request.transform_input.data_source.s3_data_source.s3_uri)
        config = request.experiment_config
        if config is not None and config.experiment_name is not None:
            self.experiments.get_experiment(config.experiment_name)
        elif config is not None and config.trial_name is not None:
            self.experiments.get_trial(config.trial_name)

    def _create_trial_component(self, request: CreateTransformJob) -> None:
        name = request.transform_job_name
        config = request.experiment_config
        self.experiments.create_trial_component(
            trial_component_name(name),
            display_name=config.trial_component_display_name if config else None,
            status=PrimaryStatus.IN_PROGRESS,
            start_time=dt.datetime.now(dt.UTC),
            parameters={
                "ModelName": request.model_name,
                "BatchStrategy": request.batch_strategy.value,
                "MaxPayloadInMB": request.max_payload_in_mb,
                "SplitType": request.transform_input.split_type.value,
                "InstanceCount": request.transform_resources.instance_count,
            },
            input_artifacts={
                "SageMaker.InputData": Artifact(
                    value=request.transform_input.data_source.s3_data_source.s3_uri,
                    media_type=request.transform_input.content_type,
                )
            },
            source=Source(source_arn=source_arn(name), source_type=SOURCE_TYPE),
        )
        if config and config.trial_name:
            try:
                self.experiments.get_trial(config.trial_name)
            except NotFound:
                if config.experiment_name is None:
                    raise
                self.experiments.create_trial(config.trial_name, config.experiment_name)
            self.experiments.associate_trial_component(
                trial_component_name(name), config.trial_name
            )

    # --- running ------------------------------------------------------------------------

    def _run_in_background(self, name: str) -> None:
        self.lifecycle.run(name, lambda: self._run(name), lambda error: self._fail(name, error))

    def _work_dir(self, name: str) -> Path:
        return Path(self.settings.home) / "jobs" / "transform" / name

    def _run(self, name: str) -> None:
        """The whole life of one job here, from the files it has not finished yet."""
        stop = threading.Event()
        progressing = threading.Event()
        job = self.jobs.get_job(KIND, name)
        request = CreateTransformJob.model_validate(job.spec)
        finished = set(job.result.get("FinishedFiles", []))
        self.jobs.transition(
            KIND, name, SecondaryStatus.DOWNLOADING, "loading the model, then transforming"
        )
        run = self._prepare(request, finished, stop)
        run.records_before = int(job.result.get("RecordsProcessed", 0))
        fs, files = _execution.list_inputs(
            request.transform_input.data_source.s3_data_source.s3_uri
        )
        self.jobs.update_result(KIND, name, {"FilesTotal": len(files)})
        reporter = threading.Thread(
            target=self._report, args=(name, run, stop, progressing), daemon=True
        )
        reporter.start()
        workers = request.max_concurrent_transforms or os.cpu_count() or 1
        try:
            run.run(fs, files, workers)
        except _execution.Stopped:
            self._end(name, JobStatus.STOPPED, None)
            return
        finally:
            progressing.set()
            reporter.join()
        self._complete(request, run)

    def _fail(self, name: str, error: Exception) -> None:
        self._end(name, JobStatus.FAILED, failure_reason(error))

    def _prepare(
        self, request: CreateTransformJob, finished: set[str], stop: threading.Event
    ) -> _execution.JobRun:
        from slipway.inference import load_model

        name = request.transform_job_name
        container = self.serving.get_model(request.model_name).primary_container
        environment = {
            **container.environment,
            **request.environment,
            "SAGEMAKER_BATCH": "true",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(request.max_payload_in_mb),
            "SAGEMAKER_BATCH_STRATEGY": request.batch_strategy.name,
        }
        model = load_model(
            container.model_data_url, environment=environment, settings=self.settings
        )
        lock = threading.Lock()

        def on_file_done(key: str) -> None:
            with lock:  # one writer: the list grows, never loses a file
                finished.add(key)
                self.jobs.update_result(KIND, name, {"FinishedFiles": sorted(finished)})

        assert request.transform_output.s3_output_path is not None
        return _execution.JobRun(
            request, model, self._work_dir(name), request.transform_output.s3_output_path,
            finished, on_file_done, stop,
        )  # fmt: skip

    def _report(
        self, name: str, run: _execution.JobRun, stop: threading.Event, done: threading.Event
    ) -> None:
        """Progress and stop requests, once a second while the workers run."""
        while not done.wait(_PROGRESS_SECONDS):
            try:
                self.jobs.update_result(KIND, name, {"RecordsProcessed": self._records(run)})
                if self.lifecycle.stop_requested(name):
                    stop.set()
            except SlipwayError:
                continue

    def _records(self, run: _execution.JobRun) -> int:
        return run.records_before + run.records

    def _complete(self, request: CreateTransformJob, run: _execution.JobRun) -> None:
        name = request.transform_job_name
        self.jobs.update_result(KIND, name, {"RecordsProcessed": self._records(run)})
        self.experiments.update_trial_component(
            trial_component_name(name),
            status=TrialComponentStatus(primary_status=PrimaryStatus.COMPLETED),
            end_time=dt.datetime.now(dt.UTC),
            output_artifacts={
                "SageMaker.TransformOutput": Artifact(
                    value=run.output_path, media_type=request.transform_output.accept
                )
            },
        )
        self.lifecycle.finish(name, JobStatus.COMPLETED)
        shutil.rmtree(self._work_dir(name), ignore_errors=True)

    def _end(self, name: str, status: JobStatus, reason: str | None) -> None:
        primary = PrimaryStatus.STOPPED if status == JobStatus.STOPPED else PrimaryStatus.FAILED
        try:
            self.lifecycle.finish(name, status, reason)
            self.experiments.update_trial_component(
                trial_component_name(name),
                status=TrialComponentStatus(
                    primary_status=primary, message=(reason or "")[:1024] or None
                ),
                end_time=dt.datetime.now(dt.UTC),
            )
        except SlipwayError:
            pass  # the job or its component is gone; nothing left to mark


def _describe(job: Job) -> TransformJob:
    spec = CreateTransformJob.model_validate(job.spec)
    result = job.result
    return TransformJob(
        transform_job_name=job.job_name,
        transform_job_arn=source_arn(job.job_name),
        transform_job_status=job.status,
        secondary_status=job.secondary_status,
        secondary_status_transitions=job.secondary_status_transitions,
        failure_reason=job.failure_reason,
        model_name=spec.model_name,
        max_concurrent_transforms=spec.max_concurrent_transforms,
        max_payload_in_mb=spec.max_payload_in_mb,
        batch_strategy=spec.batch_strategy,
        environment=spec.environment,
        transform_input=spec.transform_input,
        transform_output=spec.transform_output,
        transform_resources=spec.transform_resources,
        data_processing=spec.data_processing,
        creation_time=job.creation_time,
        transform_start_time=job.start_time,
        transform_end_time=job.end_time,
        last_modified_time=job.last_modified_time,
        experiment_config=spec.experiment_config,
        trial_component_name=trial_component_name(job.job_name),
        progress=TransformProgress(
            files_total=result.get("FilesTotal", 0),
            files_completed=len(result.get("FinishedFiles", [])),
            records_processed=result.get("RecordsProcessed", 0),
        ),
        output_files=[
            f"{(spec.transform_output.s3_output_path or '').rstrip('/')}/{key}.out"
            for key in result.get("FinishedFiles", [])
        ],
    )

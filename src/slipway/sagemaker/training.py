"""SageMaker's training job operations over slipway's training service (reading, so far)."""

from __future__ import annotations

from typing import Any

from slipway.sagemaker.operations import (
    DEFAULT_MAX_RESULTS,
    Context,
    Operation,
    refuse_unsupported,
    wire,
)
from slipway.training.models import TrainingJob

# Jobs run in slipway's own environment, from files: what AWS calls File input mode.
_INPUT_MODE = "File"


def _training_job(ctx: Context, job: TrainingJob) -> dict[str, Any]:
    answer = wire(job)
    answer["TrainingJobArn"] = ctx.arn("training-job", job.training_job_name)
    answer["AlgorithmSpecification"] = {
        "TrainingInputMode": _INPUT_MODE,
        "MetricDefinitions": answer.pop("MetricDefinitions", []),
    }
    answer["InputDataConfig"] = [
        {
            "ChannelName": name,
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": channel.uri}},
            "ContentType": channel.content_type,
        }
        for name, channel in job.input_data_config.items()
    ]
    if job.output_data_uri:
        answer["OutputDataConfig"] = {"S3OutputPath": job.output_data_uri}
    if job.training_time_in_seconds is not None:
        # Whole seconds, at least one for a job that ran, as AWS counts them.
        answer["TrainingTimeInSeconds"] = max(1, job.training_time_in_seconds)
    if job.tuning_job_name:
        answer["TuningJobArn"] = ctx.arn("hyper-parameter-tuning-job", job.tuning_job_name)
    # The API requires ModelArtifacts; AWS too names no file until the job has packed one.
    answer.setdefault("ModelArtifacts", {"S3ModelArtifacts": ""})
    return answer


def describe_training_job(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    job = ctx.services.training.describe_training_job(request["TrainingJobName"])
    return _training_job(ctx, job)


def list_training_jobs(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    refuse_unsupported(
        request, "CreationTimeAfter", "CreationTimeBefore", "LastModifiedTimeAfter",
        "LastModifiedTimeBefore", "SortBy", "SortOrder", "WarmPoolStatusEquals",
        "TrainingPlanArnEquals",
    )  # fmt: skip
    page = ctx.services.training.list_training_jobs(
        status=request.get("StatusEquals"),
        name_contains=request.get("NameContains"),
        max_results=request.get("MaxResults", DEFAULT_MAX_RESULTS),
        next_token=request.get("NextToken"),
    )
    summaries = [_training_job(ctx, job) for job in page.items]
    return {"TrainingJobSummaries": summaries, "NextToken": page.next_token}


OPERATIONS: dict[str, Operation] = {
    "DescribeTrainingJob": describe_training_job,
    "ListTrainingJobs": list_training_jobs,
}

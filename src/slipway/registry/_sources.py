"""What a version is made of: stored model data, or a Completed training job's output.

A training job gives a version its model data, its lineage (the job, its trial
component, its input channels) and its final metrics. Either way, the containers name
their entry point the way the model server looks for it.
"""

from __future__ import annotations

from pathlib import Path

import fsspec
from fsspec.utils import get_protocol

from slipway.errors import ValidationError
from slipway.experiments.models import Artifact
from slipway.registry.models import (
    CreateModelPackage,
    CreateModelPackageFromTrainingJob,
    InferenceSpecification,
    MetadataProperties,
    ModelLineage,
    ModelMetric,
    ModelMetrics,
    ModelPackageContainer,
)
from slipway.training.models import TrainingJob, source_arn

_STORAGE_SCHEMES = {"file", "local", "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"}


def check_model_data(url: str) -> None:
    """A version must point at model data that exists where this process can read it.

    Only storage schemes are accepted: a server must not be made to fetch web addresses.
    """
    protocol = get_protocol(url)
    if protocol not in _STORAGE_SCHEMES:
        raise ValidationError(
            f"model data URL {url!r} has the scheme {protocol!r}; use an absolute path or a "
            "file://, s3://, gs:// or az:// URI"
        )
    if "://" not in url and not Path(url).is_absolute():
        raise ValidationError(
            f"model data URL {url!r} is a relative path; use an absolute path or a URI "
            "such as s3://bucket/model.tar.gz"
        )
    options = {"use_listings_cache": False} if protocol in ("s3", "s3a") else {}
    try:
        fs, path = fsspec.core.url_to_fs(url, **options)
        found = fs.exists(path)
    except Exception as error:  # each fsspec backend raises its own kinds of error
        raise ValidationError(f"cannot read model data URL {url!r}: {error}") from None
    if not found:
        raise ValidationError(
            f"model data URL {url!r} does not exist; store the model there first "
            "(a training job stores it at its ModelArtifacts.S3ModelArtifacts)"
        )


def with_program(spec: InferenceSpecification) -> InferenceSpecification:
    """Name each container's entry point as the inference toolkit does (SAGEMAKER_PROGRAM),
    so a deployment passes the container's environment to the model server unchanged."""
    containers = [
        container.model_copy(
            update={
                "environment": {"SAGEMAKER_PROGRAM": container.entry_point} | container.environment
            }
        )
        if container.entry_point
        else container
        for container in spec.containers
    ]
    return spec.model_copy(update={"containers": containers})


def from_training_job(
    request: CreateModelPackageFromTrainingJob, job: TrainingJob
) -> tuple[CreateModelPackage, ModelLineage]:
    """The version a Completed job's model makes, and the lineage that leads back to it."""
    name = job.training_job_name
    container = ModelPackageContainer(
        model_data_url=job.model_artifacts["S3ModelArtifacts"],
        framework=request.framework,
        framework_version=request.framework_version,
        entry_point=request.entry_point,
        environment=request.environment,
    )
    lineage = ModelLineage(
        training_job_name=name,
        training_job_arn=source_arn(name),
        trial_component_name=job.trial_component_name,
        input_artifacts={
            channel: Artifact(value=spec.uri, media_type=spec.content_type)
            for channel, spec in job.input_data_config.items()
        },
    )
    metadata = request.metadata_properties or MetadataProperties()
    package = CreateModelPackage(
        model_package_group_name=request.model_package_group_name,
        model_package_description=request.model_package_description,
        inference_specification=InferenceSpecification(
            containers=[container],
            supported_content_types=request.supported_content_types,
            supported_response_mime_types=request.supported_response_mime_types,
        ),
        model_approval_status=request.model_approval_status,
        model_metrics=ModelMetrics(
            metrics=[
                ModelMetric(metric_name=m.metric_name, value=m.value, timestamp=m.timestamp)
                for m in job.final_metric_data_list
            ]
        ),
        metadata_properties=metadata.model_copy(
            update={"generated_by": metadata.generated_by or lineage.training_job_arn}
        ),
        tags=request.tags,
    )
    return package, lineage

"""The retraining trigger: start a training job when an execution finds violations.

The new job is tied to the execution that started it both ways: the execution's result
names the job, and the job carries the execution in its tags and, in lineage, as an
input artifact of its trial component.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from slipway.errors import SlipwayError
from slipway.experiments.models import Artifact
from slipway.monitor import formats as f
from slipway.monitor.models import RetrainingTrigger

log = logging.getLogger("slipway.monitor")
EXECUTION_TAG = "slipway:monitoring-execution"
EXECUTION_MEDIA_TYPE = "application/vnd.slipway.monitoring-execution"


def execution_arn(name: str) -> str:
    return f"arn:slipway:monitoring-execution/{name}"


def start_retraining(
    training: Any,
    trigger: RetrainingTrigger,
    execution: str,
    violations: list[f.Violation],
    files: dict[str, str],
) -> dict[str, Any]:
    found = {v.constraint_check_type for v in violations}
    if trigger.trigger_on and not found & {kind.value for kind in trigger.trigger_on}:
        return {}
    definition = trigger.training_job_definition
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    name = f"{definition.training_job_name[:45]}-{stamp}"
    request = definition.model_copy(
        update={
            "training_job_name": name,
            "tags": [*definition.tags, {"Key": EXECUTION_TAG, "Value": execution}],
        }
    )
    try:
        job = training.create_training_job(request)
    except SlipwayError as error:
        log.error("retraining after %s did not start: %s", execution, error.message)
        return {"RetrainingError": error.message}
    artifacts = {
        "MonitoringExecution": Artifact(
            value=execution_arn(execution), media_type=EXECUTION_MEDIA_TYPE
        )
    }
    if "constraint_violations.json" in files:
        artifacts["ConstraintViolations"] = Artifact(
            value=files["constraint_violations.json"], media_type="application/json"
        )
    try:
        training.experiments.update_trial_component(
            job.trial_component_name, input_artifacts=artifacts
        )
    except SlipwayError as error:
        log.warning("lineage of retraining job %s not recorded: %s", name, error.message)
    return {"RetrainingJobName": name}

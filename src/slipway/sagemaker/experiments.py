"""SageMaker's experiment operations over slipway's experiments service.

Each operation is one service call; slipway's entities already carry the wire names, so
an answer is the entity plus its ARN, and the protocol drops what the output lacks.
"""

from __future__ import annotations

from typing import Any

from slipway.errors import ValidationError
from slipway.experiments.models import (
    Experiment,
    ParameterValue,
    Trial,
    TrialComponent,
    TrialComponentStatus,
)
from slipway.sagemaker.operations import (
    Context,
    Operation,
    page_arguments,
    refuse_unsupported,
    wire,
)

_SEARCH_RECORDS = {
    "Experiment": "Experiment",
    "ExperimentTrial": "Trial",
    "ExperimentTrialComponent": "TrialComponent",
}


def _experiment(ctx: Context, experiment: Experiment) -> dict[str, Any]:
    return wire(experiment) | {"ExperimentArn": ctx.arn("experiment", experiment.experiment_name)}


def _trial(ctx: Context, trial: Trial) -> dict[str, Any]:
    return wire(trial) | {"TrialArn": ctx.arn("experiment-trial", trial.trial_name)}


def _trial_arn(ctx: Context, name: str) -> dict[str, str]:
    return {"TrialArn": ctx.arn("experiment-trial", name)}


def _component_arn(ctx: Context, name: str) -> dict[str, str]:
    return {"TrialComponentArn": ctx.arn("experiment-trial-component", name)}


def _component(ctx: Context, component: TrialComponent) -> dict[str, Any]:
    return wire(component) | _component_arn(ctx, component.trial_component_name)


def _component_summary(ctx: Context, component: TrialComponent) -> dict[str, Any]:
    answer = _component(ctx, component)
    answer["TrialComponentSource"] = answer.pop("Source", None)
    return answer


def _created(request: dict[str, Any]) -> dict[str, Any]:
    return {
        "created_after": request.get("CreatedAfter"),
        "created_before": request.get("CreatedBefore"),
    }


# --- experiments ----------------------------------------------------------------------


def create_experiment(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    experiment = ctx.services.experiments.create_experiment(
        request["ExperimentName"], request.get("DisplayName"), request.get("Description"),
        request.get("Tags"),
    )  # fmt: skip
    return {"ExperimentArn": ctx.arn("experiment", experiment.experiment_name)}


def describe_experiment(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return _experiment(ctx, ctx.services.experiments.get_experiment(request["ExperimentName"]))


def update_experiment(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    experiment = ctx.services.experiments.update_experiment(
        request["ExperimentName"], request.get("DisplayName"), request.get("Description")
    )
    return {"ExperimentArn": ctx.arn("experiment", experiment.experiment_name)}


def delete_experiment(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    ctx.services.experiments.delete_experiment(request["ExperimentName"])
    return {"ExperimentArn": ctx.arn("experiment", request["ExperimentName"])}


def list_experiments(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    page = ctx.services.experiments.list_experiments(**_created(request), **page_arguments(request))
    summaries = [_experiment(ctx, e) for e in page.items]
    return {"ExperimentSummaries": summaries, "NextToken": page.next_token}


# --- trials ---------------------------------------------------------------------------


def create_trial(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    trial = ctx.services.experiments.create_trial(
        request["TrialName"], request["ExperimentName"], request.get("DisplayName"),
        request.get("Tags"),
    )  # fmt: skip
    return _trial_arn(ctx, trial.trial_name)


def describe_trial(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return _trial(ctx, ctx.services.experiments.get_trial(request["TrialName"]))


def update_trial(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    ctx.services.experiments.update_trial(request["TrialName"], request.get("DisplayName"))
    return _trial_arn(ctx, request["TrialName"])


def delete_trial(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    ctx.services.experiments.delete_trial(request["TrialName"])
    return _trial_arn(ctx, request["TrialName"])


def list_trials(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    page = ctx.services.experiments.list_trials(
        experiment_name=request.get("ExperimentName"),
        trial_component_name=request.get("TrialComponentName"),
        **_created(request),
        **page_arguments(request),
    )
    return {"TrialSummaries": [_trial(ctx, t) for t in page.items], "NextToken": page.next_token}


# --- trial components -----------------------------------------------------------------


def _component_values(request: dict[str, Any]) -> dict[str, Any]:
    """The members that Create and UpdateTrialComponent share, as the service takes them."""
    status = request.get("Status")
    parameters = request.get("Parameters")
    return {
        "display_name": request.get("DisplayName"),
        "status": TrialComponentStatus.model_validate(status) if status else None,
        "start_time": request.get("StartTime"),
        "end_time": request.get("EndTime"),
        "parameters": {
            name: ParameterValue.model_validate(value) for name, value in parameters.items()
        }
        if parameters
        else None,
        "input_artifacts": request.get("InputArtifacts"),
        "output_artifacts": request.get("OutputArtifacts"),
    }


def create_trial_component(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["TrialComponentName"]
    ctx.services.experiments.create_trial_component(
        name, **_component_values(request), tags=request.get("Tags")
    )
    return _component_arn(ctx, name)


def describe_trial_component(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["TrialComponentName"]
    return _component(ctx, ctx.services.experiments.get_trial_component(name))


def update_trial_component(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["TrialComponentName"]
    ctx.services.experiments.update_trial_component(
        name,
        **_component_values(request),
        parameters_to_remove=request.get("ParametersToRemove", ()),
        input_artifacts_to_remove=request.get("InputArtifactsToRemove", ()),
        output_artifacts_to_remove=request.get("OutputArtifactsToRemove", ()),
    )
    return _component_arn(ctx, name)


def delete_trial_component(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    ctx.services.experiments.delete_trial_component(request["TrialComponentName"])
    return _component_arn(ctx, request["TrialComponentName"])


def list_trial_components(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    page = ctx.services.experiments.list_trial_components(
        experiment_name=request.get("ExperimentName"),
        trial_name=request.get("TrialName"),
        source_arn=request.get("SourceArn"),
        **_created(request),
        **page_arguments(request),
    )
    summaries = [_component_summary(ctx, c) for c in page.items]
    return {"TrialComponentSummaries": summaries, "NextToken": page.next_token}


def associate_trial_component(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    component, trial = request["TrialComponentName"], request["TrialName"]
    ctx.services.experiments.associate_trial_component(component, trial)
    return _component_arn(ctx, component) | _trial_arn(ctx, trial)


def disassociate_trial_component(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    component, trial = request["TrialComponentName"], request["TrialName"]
    ctx.services.experiments.disassociate_trial_component(component, trial)
    return _component_arn(ctx, component) | _trial_arn(ctx, trial)


# --- search ---------------------------------------------------------------------------


def search(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    refuse_unsupported(request, "CrossAccountFilterOption", "VisibilityConditions")
    resource = request["Resource"]
    record = _SEARCH_RECORDS.get(resource)
    if record is None:
        raise ValidationError(
            f"Search over Resource {resource!r} is not supported by this server yet; "
            f"search one of {', '.join(_SEARCH_RECORDS)}"
        )
    page = ctx.services.experiments.search(
        record, search_expression=request.get("SearchExpression"), **page_arguments(request)
    )
    shape = {"Experiment": _experiment, "Trial": _trial, "TrialComponent": _component}[record]
    results = [{record: shape(ctx, item)} for item in page.items]
    return {"Results": results, "NextToken": page.next_token}


OPERATIONS: dict[str, Operation] = {
    "CreateExperiment": create_experiment,
    "DescribeExperiment": describe_experiment,
    "UpdateExperiment": update_experiment,
    "DeleteExperiment": delete_experiment,
    "ListExperiments": list_experiments,
    "CreateTrial": create_trial,
    "DescribeTrial": describe_trial,
    "UpdateTrial": update_trial,
    "DeleteTrial": delete_trial,
    "ListTrials": list_trials,
    "CreateTrialComponent": create_trial_component,
    "DescribeTrialComponent": describe_trial_component,
    "UpdateTrialComponent": update_trial_component,
    "DeleteTrialComponent": delete_trial_component,
    "ListTrialComponents": list_trial_components,
    "AssociateTrialComponent": associate_trial_component,
    "DisassociateTrialComponent": disassociate_trial_component,
    "Search": search,
}

"""What each service method asks of its caller: the one role table of slipway.

Every public method of every service the server exposes is named here; the guard
(``slipway.auth.guard``) refuses a method that is not, so a new method is closed until
someone decides who may call it. A test checks that every method is listed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slipway.auth.roles import Action

R, W, A = Action.READ, Action.WRITE, Action.ADMIN


@dataclass(frozen=True)
class Creates:
    """A write that makes a resource; its caller is recorded as the owner."""

    kind: str
    name_of: Callable[[Any], str]  # the resource's name, from the method's result
    action: Action = W


@dataclass(frozen=True)
class Deletes:
    """A delete: allowed to admins, and to editors for what they created themselves."""

    kind: str
    name_of: Callable[..., str]  # the resource's name, from the method's arguments


Rule = Action | Creates | Deletes


def _first(*args: Any, **kwargs: Any) -> str:
    return str(args[0] if args else next(iter(kwargs.values())))


def _package(*args: Any, **kwargs: Any) -> str:
    group, version = (list(args) + list(kwargs.values()))[:2]
    return f"{group}/{version}"


# Work a server does for itself (adoption, schedules, job bookkeeping): never a caller's.
_INTERNAL = A

POLICY: dict[str, dict[str, Rule]] = {
    "experiments": {
        **dict.fromkeys(
            ["artifact_record", "experiment_columns", "get_experiment", "get_metric_curve",
             "get_metric_series", "get_trial", "get_trial_component", "list_experiments",
             "list_metric_points", "list_trial_components", "list_trials", "metric_summaries",
             "open_artifact", "require", "search"],
            R,
        ),
        **dict.fromkeys(
            ["associate_trial_component", "disassociate_trial_component", "log_metrics",
             "update_experiment", "update_trial", "update_trial_component", "upload_artifact"],
            W,
        ),
        "create_experiment": Creates("experiment", lambda e: e.experiment_name),
        "create_trial": Creates("trial", lambda t: t.trial_name),
        "create_trial_component": Creates("trial-component", lambda c: c.trial_component_name),
        "delete_experiment": Deletes("experiment", _first),
        "delete_trial": Deletes("trial", _first),
        "delete_trial_component": Deletes("trial-component", _first),
    },
    "training": {
        **dict.fromkeys(["describe_training_job", "list_training_jobs", "read_logs", "wait"], R),
        **dict.fromkeys(
            ["create_training_job", "start_training_job", "stop_training_job", "upload_source"], W
        ),
        **dict.fromkeys(
            ["add_end_listener", "add_metric_listener", "adopt_orphans", "discard_folder",
             "notify_points", "prepare_folder"],
            _INTERNAL,
        ),
    },
    "tuning": {
        **dict.fromkeys(
            ["describe_hyper_parameter_tuning_job", "list_hyper_parameter_tuning_jobs",
             "list_training_jobs_for_hyper_parameter_tuning_job", "wait"],
            R,
        ),
        **dict.fromkeys(
            ["create_hyper_parameter_tuning_job", "stop_hyper_parameter_tuning_job",
             "upload_source"],
            W,
        ),
        "adopt_orphans": _INTERNAL,
    },
    "automl": {
        **dict.fromkeys(
            ["best_candidate", "candidate_jobs", "describe_auto_ml_job", "list_auto_ml_jobs",
             "list_candidates_for_auto_ml_job", "wait"],
            R,
        ),
        **dict.fromkeys(["create_auto_ml_job", "stop_auto_ml_job"], W),
        "adopt_orphans": _INTERNAL,
    },
    "jobs": {
        **dict.fromkeys(
            ["child_status_counts", "find_job", "get_job", "list_jobs", "read_logs", "statuses",
             "stop_requested", "tail_logs"],
            R,
        ),
        "request_stop": W,
        **dict.fromkeys(
            ["append_logs", "claim", "create_job", "enter_stages", "finish", "heartbeat",
             "orphans", "pid", "transition", "update_result"],
            _INTERNAL,
        ),
    },
    "registry": {
        **dict.fromkeys(
            ["get_latest_approved_model_package", "get_model_package", "get_model_package_group",
             "list_model_package_groups", "list_model_packages"],
            R,
        ),
        **dict.fromkeys(["deploy_model_package", "update_model_package"], W),
        "create_model_package_group": Creates(
            "model-package-group", lambda g: g.model_package_group_name
        ),
        "create_model_package": Creates(
            "model-package", lambda p: f"{p.model_package_group_name}/{p.model_package_version}"
        ),
        "create_model_package_from_training_job": Creates(
            "model-package", lambda p: f"{p.model_package_group_name}/{p.model_package_version}"
        ),
        "delete_model_package_group": Deletes("model-package-group", _first),
        "delete_model_package": Deletes("model-package", _package),
    },
    "serving": {
        **dict.fromkeys(
            ["endpoint_spec", "endpoint_version", "get_endpoint", "get_endpoint_config",
             "get_endpoint_deployment", "get_model", "list_endpoint_configs", "list_endpoints",
             "list_models", "wait_for_endpoint"],
            R,
        ),
        "update_endpoint": W,
        "invoke_endpoint": Action.INVOKE,
        "create_model": Creates("model", lambda m: m.model_name),
        "create_endpoint_config": Creates("endpoint-config", lambda c: c.endpoint_config_name),
        "create_endpoint": Creates("endpoint", lambda e: e.endpoint_name),
        "delete_model": Deletes("model", _first),
        "delete_endpoint_config": Deletes("endpoint-config", _first),
        "delete_endpoint": Deletes("endpoint", _first),
        "close": _INTERNAL,
    },
    "transform": {
        **dict.fromkeys(["describe_transform_job", "list_transform_jobs", "wait"], R),
        **dict.fromkeys(["create_transform_job", "stop_transform_job"], W),
        "adopt_orphans": _INTERNAL,
    },
    "monitor": {
        **dict.fromkeys(
            ["describe_monitoring_execution", "describe_monitoring_schedule", "latest_metrics",
             "list_alert_deliveries", "list_monitoring_executions", "list_monitoring_schedules",
             "read_execution_file", "wait_for_execution"],
            R,
        ),
        **dict.fromkeys(
            ["put_ground_truth", "retry_alert_deliveries", "start_monitoring_execution",
             "start_monitoring_schedule", "stop_monitoring_execution", "stop_monitoring_schedule",
             "suggest_baseline", "update_monitoring_schedule"],
            W,
        ),
        "create_monitoring_schedule": Creates(
            "monitoring-schedule", lambda s: s.monitoring_schedule_name
        ),
        "delete_monitoring_schedule": Deletes("monitoring-schedule", _first),
        **dict.fromkeys(["adopt_orphans", "close", "tick"], _INTERNAL),
    },
    "artifacts": {
        **dict.fromkeys(["open", "record", "resolve", "uri_for"], R),
        **dict.fromkeys(["put", "put_file_at", "remember", "writing"], W),
    },
    "buckets": {
        **dict.fromkeys(
            ["get_bucket", "get_object", "list_buckets", "list_objects", "list_parts",
             "read_object"],
            R,
        ),
        **dict.fromkeys(
            ["abort_multipart_upload", "complete_multipart_upload", "copy_object",
             "create_multipart_upload", "delete_object", "put_object", "upload_part"],
            W,
        ),
        "create_bucket": Creates("bucket", lambda b: b.name),
        "delete_bucket": Deletes("bucket", _first),
    },
    "tokens": {
        **dict.fromkeys(["create_token", "list_tokens", "revoke_token"], A),
        "required": R,
        **dict.fromkeys(["access_key", "authenticate", "principal_named"], _INTERNAL),
    },
    "audit": {"list_audit_events": A, "record_event": _INTERNAL},
}  # fmt: skip

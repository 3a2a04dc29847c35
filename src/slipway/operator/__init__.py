"""The Kubernetes operator: CRDs from the request models, reconcile functions, kopf handlers."""

from slipway.operator.crds import all_crds
from slipway.operator.kinds import API_VERSION, KINDS
from slipway.operator.manifests import OperatorConfig, desired_objects

__all__ = ["API_VERSION", "KINDS", "OperatorConfig", "all_crds", "desired_objects"]

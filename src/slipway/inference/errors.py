"""Errors of model loading and prediction, each with the reference runtime shape it maps to.

Every class is a SlipwayError, so the SDK and CLI print them like any other error. The
serving data plane answers them in the SageMaker runtime shape: ``runtime_code`` goes to
the ``x-amzn-ErrorType`` header (boto3 raises the exception class of that name) and
``status_code`` is the HTTP status. Errors the model causes are ``ModelError``
(424, with the status the model "returned" as ``original_status``), as a model container
behind SageMaker would be reported.
"""

from __future__ import annotations

from slipway.errors import NotFound, SlipwayError


class InferenceError(SlipwayError):
    """Base of the errors of loading a model and predicting with it."""

    status_code = 400
    code = "InferenceError"
    runtime_code = "ValidationError"
    original_status = 400


class BadPayload(InferenceError):
    """The request body cannot be decoded as its content type says."""

    code = "BadPayload"


class UnsupportedContentType(InferenceError):
    """The request's Content-Type is not one the model understands."""

    status_code = 415
    code = "UnsupportedContentType"
    original_status = 415


class NotAcceptable(InferenceError):
    """None of the types in the request's Accept header can be produced."""

    status_code = 406
    code = "NotAcceptable"
    original_status = 406


class ModelNotFound(InferenceError, NotFound):
    """No model is stored at the given URI, or no such model is loaded."""

    status_code = 404
    code = "ModelNotFound"
    original_status = 404


class ModelLoadError(InferenceError):
    """The model files exist but cannot be loaded."""

    status_code = 424
    code = "ModelLoadError"
    runtime_code = "ModelError"
    original_status = 500


class UntrustedModel(ModelLoadError):
    """The model would run code from a source the operator has not marked as trusted."""

    code = "UntrustedModel"
    original_status = 403


class InsufficientMemory(ModelLoadError):
    """The model does not fit in the endpoint's model memory budget."""

    code = "InsufficientMemory"
    original_status = 507


class PredictionError(InferenceError):
    """The model raised while predicting."""

    status_code = 424
    code = "PredictionError"
    runtime_code = "ModelError"
    original_status = 500


class PredictionTimeout(PredictionError):
    """The prediction did not finish within the per-request timeout."""

    code = "PredictionTimeout"
    original_status = 504

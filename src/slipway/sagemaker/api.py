"""The SageMaker control plane on ``POST /``: AWS's JSON 1.1 protocol over slipway's services.

boto3's ``sagemaker`` client sends ``X-Amz-Target: SageMaker.<Operation>`` with a JSON
body. The body is checked against the operation's input shape from botocore's definition
(``slipway.sagemaker.shapes``), the operation calls the services as the signer may use them
(``slipway.auth.guard``), and the answer is shaped to the operation's output.
"""

from __future__ import annotations

import logging

import orjson
import pydantic
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from slipway.auth.guard import request_services
from slipway.errors import SlipwayError, ValidationError, describe_problems
from slipway.sagemaker import experiments, shapes, training
from slipway.sagemaker.operations import Context, Operation
from slipway.sagemaker.protocol import (
    CONTENT_TYPE,
    AwsError,
    error_response,
    json_response,
)

log = logging.getLogger("slipway.sagemaker")
router = APIRouter(include_in_schema=False)

TARGET_PREFIX = "SageMaker"
OPERATIONS: dict[str, Operation] = {**experiments.OPERATIONS, **training.OPERATIONS}


def _unknown(message: str) -> AwsError:
    return AwsError(400, "UnknownOperationException", message)


def _operation(target: str) -> tuple[str, Operation]:
    prefix, _, name = target.partition(".")
    if prefix != TARGET_PREFIX or not name:
        raise _unknown(
            f"X-Amz-Target {target!r} names no operation here; send "
            f"'{TARGET_PREFIX}.<Operation>', as boto3's sagemaker client does"
        )
    operation = OPERATIONS.get(name)
    if operation is None:
        if shapes.operation_model(name) is None:
            raise _unknown(f"{name!r} is not an operation of the SageMaker API")
        raise _unknown(
            f"the SageMaker operation {name!r} is not implemented by this server yet; "
            "the README lists the operations it implements"
        )
    return name, operation


def _body(raw: bytes) -> object:
    try:
        return orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        raise AwsError(
            400, "SerializationException", "the request body is not valid JSON"
        ) from None


@router.post("/")
async def sagemaker_operation(request: Request) -> Response:
    try:
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip() != CONTENT_TYPE:
            raise _unknown(
                f"Content-Type {content_type!r} is not the SageMaker API's; send "
                f"{CONTENT_TYPE!r} with X-Amz-Target: {TARGET_PREFIX}.<Operation>"
            )
        name, operation = _operation(request.headers.get("x-amz-target", ""))
        model = shapes.operation_model(name)
        arguments = shapes.parse_input(model.input_shape, _body(await request.body()))
        context = Context(request_services(request), request.app.state.settings)
        answer = await run_in_threadpool(operation, context, arguments)
        return json_response(200, shapes.shape_output(model.output_shape, answer))
    except pydantic.ValidationError as error:
        return error_response(ValidationError(describe_problems(error.errors())))
    except SlipwayError as error:
        return error_response(error)
    except Exception:
        log.exception("SageMaker operation failed")
        failure = AwsError(500, "InternalFailure", "the server failed; its log says why")
        return error_response(failure)

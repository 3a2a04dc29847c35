"""The SageMaker API's own definition (botocore's ``service-2.json``), and the two walks
over its shapes that every operation shares: checking a request, shaping a response.

Nothing here knows an operation: members, types, required fields, enums, lengths, ranges
and patterns all come from the definition, so an operation added later is checked the
same way. A pattern written in a Java-only regex dialect (``\\p{L}``, surrogate ranges)
is not checked; the services check the values they store anyway.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from typing import Any

from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape

from slipway.errors import ValidationError

_NUMBERS = {"integer": int, "long": int, "float": float, "double": float}


@functools.cache
def service_model(service: str = "sagemaker") -> ServiceModel:
    """The newest definition of ``service`` that the installed botocore ships."""
    return ServiceModel(Loader().load_service_model(service, "service-2"), service)


def operation_model(name: str) -> OperationModel | None:
    model = service_model()
    return model.operation_model(name) if name in model.operation_names else None


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _problem(where: str, value: Any, constraint: str) -> ValidationError:
    shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    return ValidationError(
        f"1 validation error detected: Value {shown:.80} at '{where}' failed to satisfy "
        f"constraint: {constraint}"
    )


def parse_input(shape: Shape | None, body: Any) -> dict[str, Any]:
    """The request body checked against the operation's input shape, timestamps as datetimes."""
    if shape is None:
        return {}
    return _walk(shape, body, "")


def _walk(shape: Shape, value: Any, where: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, value, where)
    if kind == "list":
        if not isinstance(value, list):
            raise _problem(where, value, "Member must be a list")
        _check_size(shape, len(value), value, where, "have length")
        return [_walk(shape.member, item, f"{where}.{i + 1}") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _problem(where, value, "Member must be a map (a JSON object)")
        _check_size(shape, len(value), value, where, "have length")
        return {
            _walk(shape.key, key, f"{where}.key"): _walk(shape.value, item, f"{where}.{key}")
            for key, item in value.items()
        }
    if kind == "string":
        return _string(shape, value, where)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _problem(where, value, "Member must be a boolean")
        return value
    if kind == "timestamp":
        return _timestamp(value, where)
    if kind in _NUMBERS:
        return _number(shape, value, where)
    raise _problem(where, value, f"Member of type {kind} is not accepted by this server")


def _structure(shape: Shape, value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _problem(where or "body", value, "Member must be a structure (a JSON object)")
    prefix = f"{where}." if where else ""
    unknown = sorted(set(value) - set(shape.members))
    if unknown:
        known = ", ".join(shape.members)
        raise _problem(f"{prefix}{unknown[0]}", value[unknown[0]], f"Member must be one of {known}")
    for name in shape.required_members:
        if value.get(name) is None:
            raise _problem(f"{prefix}{name}", None, "Member must not be null")
    return {
        name: _walk(shape.members[name], item, f"{prefix}{name}")
        for name, item in value.items()
        if item is not None
    }


def _check_size(shape: Shape, size: float, value: Any, where: str, what: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        raise _problem(where, value, f"Member must {what} greater than or equal to {low}")
    if high is not None and size > high:
        raise _problem(where, value, f"Member must {what} less than or equal to {high}")


def _string(shape: Shape, value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _problem(where, value, "Member must be a string")
    if shape.enum and value not in shape.enum:
        raise _problem(
            where, value, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"
        )
    _check_size(shape, len(value), value, where, "have length")
    pattern = _pattern(shape.metadata.get("pattern", ""))
    if pattern is not None and pattern.pattern and not pattern.fullmatch(value):
        raise _problem(
            where, value, f"Member must satisfy regular expression pattern: {pattern.pattern}"
        )
    return value


def _number(shape: Shape, value: Any, where: str) -> float | int:
    wanted = _NUMBERS[shape.type_name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _problem(where, value, f"Member must be a number ({shape.type_name})")
    if wanted is int and value != int(value):
        raise _problem(where, value, "Member must be a whole number")
    if not math.isfinite(value):
        raise _problem(where, value, "Member must be a finite number")
    _check_size(shape, value, value, where, "have value")
    return wanted(value)


def _timestamp(value: Any, where: str) -> dt.datetime:
    # The JSON protocol sends epoch seconds; ISO 8601 text is accepted as AWS does.
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, dt.UTC)
        if isinstance(value, str):
            parsed = dt.datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise _problem(where, value, "Member must be a timestamp (seconds since the epoch)")


def shape_output(shape: Shape | None, value: Any) -> Any:
    """A response as the output shape has it: unknown members dropped, timestamps epoch."""
    if shape is None or value is None:
        return {} if shape is None else None
    kind = shape.type_name
    if kind == "structure":
        shaped = {
            name: shape_output(shape.members[name], item)
            for name, item in value.items()
            if name in shape.members and item is not None
        }
        return {name: item for name, item in shaped.items() if item is not None}
    if kind in ("list", "map") and not value and shape.metadata.get("min", 0) > 0:
        return None  # AWS leaves out a member that would have fewer items than it must
    if kind == "list":
        return [shape_output(shape.member, item) for item in value]
    if kind == "map":
        return {key: shape_output(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        return value.timestamp() if isinstance(value, dt.datetime) else value
    if kind in _NUMBERS:
        return _NUMBERS[kind](value)
    if kind == "string" and not isinstance(value, str):
        return str(value)
    return value

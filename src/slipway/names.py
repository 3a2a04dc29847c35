"""Rules for the names of entities, shared by every capability.

Names follow the reference pattern ``[a-zA-Z0-9](-*[a-zA-Z0-9])*`` with at most 120
characters, so they are safe in URLs, file paths and Kubernetes object names alike.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import string
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, WithJsonSchema

from slipway.errors import AlreadyExists, ValidationError

T = TypeVar("T")
MAX_NAME_LENGTH = 120
NAME_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9])*"
_NAME = re.compile(NAME_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What check_text refuses, in JSON schema: control characters but tab and newline. Said
# with "not" rather than as a "pattern", which pydantic would move off a dict's keys.
_NO_CONTROL = {"not": {"pattern": r"[\x00-\x08\x0b-\x1f\x7f]"}}


def check_name(kind: str, value: object, max_length: int = MAX_NAME_LENGTH) -> str:
    """Return ``value`` if it is a valid entity name, else raise a ValidationError."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{kind} must be a non-empty string, got {value!r}")
    if len(value) > max_length:
        raise ValidationError(
            f"{kind} {value[:40]!r}... is {len(value)} characters long; the limit is {max_length}"
        )
    if not _NAME.fullmatch(value):
        raise ValidationError(
            f"{kind} {value!r} is not valid: use letters, digits and hyphens, "
            "starting and ending with a letter or digit"
        )
    return value


def entity_name(kind: str, max_length: int = MAX_NAME_LENGTH) -> Any:
    """The type of a name in a request: checked by check_name, and stated in the OpenAPI
    schema, so that clients and API fuzzers know the rule without trying."""
    return Annotated[
        str,
        AfterValidator(lambda value: check_name(kind, value, max_length)),
        WithJsonSchema(
            {
                "type": "string",
                "minLength": 1,
                "maxLength": max_length,
                "pattern": f"^{NAME_PATTERN}$",
            }
        ),
    ]


def check_text(kind: str, value: object, max_length: int) -> str:
    """Free text (descriptions, messages, tag values): bounded, no control characters."""
    if not isinstance(value, str):
        raise ValidationError(f"{kind} must be a string, got {value!r}")
    if len(value) > max_length:
        raise ValidationError(f"{kind} is {len(value)} characters long; the limit is {max_length}")
    if _CONTROL.search(value.replace("\n", "").replace("\t", "")):
        raise ValidationError(f"{kind} {value[:40]!r} contains control characters")
    return value


def check_key(kind: str, value: object, max_length: int = 256) -> str:
    """Keys of parameters, metrics, artifacts and tags: 1..max_length printable characters."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{kind} must be a non-empty string, got {value!r}")
    return check_text(kind, value, max_length)


def free_text(kind: str, max_length: int) -> Any:
    """The type of free text in a request (see check_text), stated in the OpenAPI schema."""
    return Annotated[
        str,
        AfterValidator(lambda value: check_text(kind, value, max_length)),
        WithJsonSchema({"type": "string", "maxLength": max_length, **_NO_CONTROL}),
    ]


def key_name(kind: str, max_length: int = 256) -> Any:
    """The type of a key in a request (see check_key), stated in the OpenAPI schema."""
    return Annotated[
        str,
        AfterValidator(lambda value: check_key(kind, value, max_length)),
        WithJsonSchema({"type": "string", "minLength": 1, "maxLength": max_length, **_NO_CONTROL}),
    ]


def generate_name(prefix: str) -> str:
    """``<prefix>-<YYYY-mm-dd-HHMMSS>-<4 random lowercase letters>``, as the reference SDK does."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H%M%S")
    suffix = "".join(secrets.choice(string.ascii_lowercase) for _ in range(4))
    return f"{prefix}-{stamp}-{suffix}"[:MAX_NAME_LENGTH]


def create_with_generated_name(prefix: str, create: Callable[[str], T], attempts: int = 8) -> T:
    """Call ``create`` with a fresh generated name, again if that name is taken.

    Four random letters per second collide when many entities are created in one
    second (a tight loop of trackers); a retry keeps the reference's name format.
    """
    for _ in range(attempts - 1):
        try:
            return create(generate_name(prefix))
        except AlreadyExists:
            continue
    return create(generate_name(prefix))

"""The checks every monitoring list shares: page size and status filters."""

from __future__ import annotations

from enum import Enum

from slipway.errors import ValidationError


def check_page_size(max_results: int) -> None:
    if not 1 <= max_results <= 1000:
        raise ValidationError(f"max_results {max_results} is out of range; use 1 to 1000")


def enum_value(kind: type[Enum], value: object, what: str) -> str:
    """The wire value of ``value`` as a member of ``kind``, or an error naming the choices."""
    try:
        return kind(value).value
    except ValueError:
        raise ValidationError(
            f"{what} {value!r} is not valid; use one of " + ", ".join(v.value for v in kind)
        ) from None

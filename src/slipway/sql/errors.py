"""The error of model functions in SQL."""

from __future__ import annotations

from slipway.errors import SlipwayError


class SqlError(SlipwayError):
    """A model function cannot be declared or called: the message names the function,
    with its declared signature, once it is known."""

    code = "SqlError"

"""Model functions in DuckDB: vectorised (Arrow) scalar functions.

::

    import duckdb, slipway.sql

    con = duckdb.connect()
    slipway.sql.register(con, "species", model="models/iris.tar.gz", returns="VARCHAR")
    slipway.sql.register(con, "churn", endpoint="churn", params="age INTEGER, plan VARCHAR")
    con.sql("SELECT species(a, b, c, d), churn(age, plan) FROM customers")

DuckDB hands the function whole vectors (up to 2,048 rows): a model predicts each vector
in one call; an endpoint gets it in requests of at most ``batch_size`` rows. A NULL
argument reaches the model as a missing value; a missing prediction is a NULL.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import duckdb
import pyarrow as pa

from slipway.errors import SlipwayError
from slipway.sql.defaults import DEFAULT_BATCH_SIZE, DEFAULT_TIMEOUT
from slipway.sql.errors import SqlError
from slipway.sql.rows import Rows
from slipway.sql.scorers import (
    Scorer,
    build_scorer,
    transport,
)
from slipway.sql.spec import (
    FunctionSpec,
    check_name,
    parse_params,
)
from slipway.sql.types import SqlType, parse_type, to_result


class ModelFunction:
    """The scalar function DuckDB calls with one vector of rows at a time."""

    def __init__(self, spec: FunctionSpec, scorer: Scorer) -> None:
        self.spec = spec
        self.scorer = scorer
        self.vectors = 0  # calls so far: one per vector, however many rows
        self.last_error: SqlError | None = None

    def __call__(self, *columns: pa.ChunkedArray) -> pa.Array:
        try:
            rows = Rows.from_arrow(columns, self.spec)
            self.vectors += 1
            if rows.count == 0:
                return pa.array([], self.spec.returns.arrow)
            predictions = self.scorer.score(rows, self.spec)
            return to_result(predictions, self.spec.returns, rows.count)
        except SlipwayError as error:
            self.last_error = self._explained(error)
            raise self.last_error from None

    def _explained(self, error: SlipwayError) -> SqlError:
        message = error.message
        if message.startswith(str(self.spec)):
            return SqlError(message)
        if isinstance(error, SqlError):
            return self.spec.error(message)
        return self.spec.error(f"{self.scorer.target} cannot score these rows: {message}")

    def __repr__(self) -> str:
        return f"ModelFunction({self.spec}, {self.scorer.target})"


def register(
    con: duckdb.DuckDBPyConnection,
    name: str,
    *,
    model: Any = None,
    endpoint: str | None = None,
    returns: str | SqlType = "DOUBLE",
    params: str | Iterable[str] | Mapping[str, str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    timeout: float = DEFAULT_TIMEOUT,
    server_url: str | None = None,
    token: str | None = None,
) -> ModelFunction:
    """Register ``name`` in DuckDB as a vectorised function that scores rows with a model.

    Give ``model`` (a model URI or path, a model package ARN or a registered
    ModelPackage; predicted in this process) or ``endpoint`` (an endpoint name; called
    over HTTP in batches of ``batch_size`` rows, each within ``timeout`` seconds).
    ``params`` declares the arguments (``"a DOUBLE, b VARCHAR"``); without it the
    function takes any number of numbers, strings and booleans. ``returns`` is the
    declared SQL type of the prediction, enforced on every answer.
    """
    if (model is None) == (endpoint is None):
        raise SqlError(f"register({name!r}): give either model= or endpoint=, not both or neither")
    spec = FunctionSpec(
        check_name(name),
        parse_params(params) if params is not None else None,
        returns if isinstance(returns, SqlType) else parse_type(returns),
    )
    scorer = build_scorer(
        spec, model, endpoint, lambda: transport(server_url, token, timeout), batch_size
    )
    return register_spec(con, spec, scorer)


def register_spec(
    con: duckdb.DuckDBPyConnection, spec: FunctionSpec, scorer: Scorer
) -> ModelFunction:
    """Register a declared function with its scorer; an earlier one of the name is replaced."""
    function = ModelFunction(spec, scorer)
    with contextlib.suppress(duckdb.InvalidInputException):
        con.remove_function(spec.name)  # registered by us before: declare it anew

    def call(*columns: pa.ChunkedArray) -> pa.Array:
        return function(*columns)

    parameters = None
    if spec.params is not None:
        # DuckDB counts the Python parameters against the declared ones.
        call.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_ONLY) for p in spec.params]
        )
        parameters = [duckdb.sqltype(param.type.name) for param in spec.params]
    try:
        con.create_function(
            spec.name,
            call,
            parameters,
            duckdb.sqltype(spec.returns.name),
            type="arrow",
            null_handling="special",
        )
    except duckdb.CatalogException:
        raise spec.error(
            f"DuckDB has a built-in function {spec.name!r}; give the model function another name"
        ) from None
    return function

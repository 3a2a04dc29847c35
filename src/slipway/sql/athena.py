"""Athena's statement form, run in DuckDB::

    USING EXTERNAL FUNCTION predict(a DOUBLE, b VARCHAR) RETURNS DOUBLE SLIPWAY 'my-endpoint'
        [, EXTERNAL FUNCTION ...]
    SELECT predict(a, b) FROM 'data.parquet'

``SAGEMAKER`` may stand for ``SLIPWAY``. The quoted target is an endpoint name, or (with
a ``:`` or ``/`` in it, which endpoint names never have) a model URI or a model package
ARN, scored in this process. Functions are query-scoped, as in Athena: declared for the
statement, removed after it.
"""

from __future__ import annotations

import contextlib
import functools
import re
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from slipway.sql.defaults import DEFAULT_BATCH_SIZE, DEFAULT_TIMEOUT
from slipway.sql.duck import ModelFunction, register_spec
from slipway.sql.errors import SqlError
from slipway.sql.scorers import (
    build_scorer,
    is_endpoint_name,
    transport,
)
from slipway.sql.spec import FunctionSpec, check_name, parse_param
from slipway.sql.types import parse_type

FORM = (
    "USING EXTERNAL FUNCTION name(arg TYPE, ...) RETURNS TYPE SLIPWAY 'endpoint' "
    "[, EXTERNAL FUNCTION ...] SELECT ..."
)
_TARGET_KEYWORDS = ("SLIPWAY", "SAGEMAKER")
_CALLED_AS = re.compile(r"argument types '([A-Za-z_][A-Za-z0-9_]*)\((.*?)\)'")


@dataclass(frozen=True)
class Declaration:
    """One ``EXTERNAL FUNCTION`` of a statement: its signature and what it calls."""

    spec: FunctionSpec
    target: str


@dataclass(frozen=True)
class Statement:
    functions: tuple[Declaration, ...]
    query: str


class _Tokens:
    """The statement's tokens (sqlglot's, Athena dialect) with a cursor."""

    def __init__(self, text: str) -> None:
        import sqlglot
        from sqlglot.errors import TokenError

        self.text = text
        try:
            self.items = sqlglot.tokenize(text, read="athena")
        except TokenError as error:
            raise SqlError(f"malformed statement: {error}; the form is {FORM}") from None
        self.index = 0

    def peek(self, offset: int = 0) -> Any:
        index = self.index + offset
        return self.items[index] if index < len(self.items) else None

    def word(self, offset: int = 0) -> str:
        token = self.peek(offset)
        return token.text.upper() if token is not None and _is_word(token) else ""

    def take(self) -> Any:
        token = self.peek()
        self.index += 1
        return token

    def expect(self, word: str, after: str) -> Any:
        if self.word() != word:
            raise self.malformed(f"expected {word} after {after}")
        return self.take()

    def malformed(self, problem: str) -> SqlError:
        token = self.peek()
        where = (
            f"at line {token.line}, column {token.col} near {token.text!r}"
            if token is not None
            else "at the end of the statement"
        )
        return SqlError(f"malformed statement {where}: {problem}; the form is {FORM}")


def _is_string(token: Any) -> bool:
    from sqlglot.tokens import TokenType

    return token.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING)


def _is_word(token: Any) -> bool:
    from sqlglot.tokens import TokenType

    if _is_string(token) or token.token_type is TokenType.IDENTIFIER:
        return False
    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token.text))


def parse_statement(text: str) -> Statement:
    """The function declarations of a statement and the query that follows them."""
    tokens = _Tokens(text)
    if tokens.word() != "USING":
        return Statement((), text)
    tokens.take()
    declarations: list[Declaration] = []
    while True:
        declarations.append(_declaration(tokens))
        if tokens.peek() is not None and tokens.peek().text == ",":
            tokens.take()
        if tokens.word() == "USING" and tokens.word(1) == "EXTERNAL":
            tokens.take()
        if tokens.word() != "EXTERNAL":
            break
    if tokens.peek() is None:
        raise tokens.malformed(f"a query must follow {declarations[-1].spec}")
    names = [d.spec.name.lower() for d in declarations]
    repeated = {name for name in names if names.count(name) > 1}
    if repeated:
        raise SqlError(f"function {sorted(repeated)[0]!r} is declared twice in the statement")
    return Statement(tuple(declarations), text[tokens.peek().start :].strip())


def _declaration(tokens: _Tokens) -> Declaration:
    tokens.expect("EXTERNAL", "USING")
    tokens.expect("FUNCTION", "EXTERNAL")
    if tokens.peek() is None or not _is_word(tokens.peek()):
        raise tokens.malformed("expected a function name after EXTERNAL FUNCTION")
    name = check_name(tokens.take().text)
    if tokens.peek() is None or tokens.peek().text != "(":
        raise tokens.malformed(f"expected '(' and the parameters of {name}")
    parts = _parenthesised(tokens, name)
    try:
        params = tuple(parse_param(part, index) for index, part in enumerate(parts, start=1))
    except SqlError as error:
        raise SqlError(f"function {name}({', '.join(parts)}): {error.message}") from None
    partial = f"{name}({', '.join(map(str, params))})"
    tokens.expect("RETURNS", partial)
    returns_text = _until_keyword(tokens, partial)
    try:
        spec = FunctionSpec(name, params, parse_type(returns_text))
    except SqlError as error:
        raise SqlError(f"function {partial} RETURNS {returns_text}: {error.message}") from None
    tokens.take()  # SLIPWAY or SAGEMAKER
    target = tokens.peek()
    if target is None or not _is_string(target):
        raise tokens.malformed(f"expected the quoted endpoint name after {spec} SLIPWAY")
    tokens.take()
    return Declaration(spec, target.text)


def _parenthesised(tokens: _Tokens, name: str) -> list[str]:
    """The comma-separated texts inside the parentheses at the cursor."""
    opening = tokens.take()
    depth, start, parts = 0, opening.end + 1, []
    while (token := tokens.peek()) is not None:
        if token.text == "(":
            depth += 1
        elif token.text == ")" and depth > 0:
            depth -= 1
        elif token.text in (",", ")") and depth == 0:
            part = tokens.text[start : token.start].strip()
            if part:
                parts.append(part)
            elif token.text == "," or parts:
                raise tokens.malformed(f"a parameter of {name} is missing")
            start = token.end + 1
            if token.text == ")":
                tokens.take()
                return parts
        tokens.take()
    raise tokens.malformed(f"the parameters of {name} are not closed with ')'")


def _until_keyword(tokens: _Tokens, partial: str) -> str:
    """The text from the cursor to SLIPWAY/SAGEMAKER (a type such as DECIMAL(10, 2))."""
    first = tokens.peek()
    while tokens.peek() is not None and tokens.word() not in _TARGET_KEYWORDS:
        tokens.take()
    if tokens.peek() is None or first is tokens.peek():
        raise tokens.malformed(f"expected RETURNS <type> SLIPWAY 'endpoint' after {partial}")
    return tokens.text[first.start : tokens.peek().start].strip()


# --- running ------------------------------------------------------------------------------


def query(
    text: str,
    con: duckdb.DuckDBPyConnection | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    timeout: float = DEFAULT_TIMEOUT,
    server_url: str | None = None,
    token: str | None = None,
    output: str = "arrow",
) -> Any:
    """Run a statement (with or without ``USING EXTERNAL FUNCTION``) in DuckDB.

    Returns a pyarrow Table, or a pandas DataFrame with ``output="pandas"``. Endpoint
    functions send at most ``batch_size`` rows per request, each within ``timeout``
    seconds, to ``server_url`` (default: the settings' server; none: embedded).
    """
    if output not in ("arrow", "pandas"):
        raise SqlError(f"output={output!r} is not valid: use 'arrow' or 'pandas'")
    statement = parse_statement(text)
    own = con is None
    con = con if con is not None else duckdb.connect()
    functions: list[ModelFunction] = []
    connect = functools.cache(lambda: transport(server_url, token, timeout))  # one per query
    try:
        for declaration in statement.functions:
            target = declaration.target
            model, endpoint = (None, target) if is_endpoint_name(target) else (target, None)
            scorer = build_scorer(declaration.spec, model, endpoint, connect, batch_size)
            functions.append(register_spec(con, declaration.spec, scorer))
        table = _run(con, statement.query, functions)
    finally:
        for function in functions:
            with contextlib.suppress(duckdb.Error):
                con.remove_function(function.spec.name)
        if own:
            con.close()
    return table.to_pandas() if output == "pandas" else table


def _run(con: duckdb.DuckDBPyConnection, sql: str, functions: list[ModelFunction]) -> pa.Table:
    try:
        return con.sql(sql).to_arrow_table()
    except duckdb.Error as error:
        for function in functions:
            if function.last_error is not None:
                raise function.last_error from None
        raise _explained(error, functions) from None


def _explained(error: duckdb.Error, functions: list[ModelFunction]) -> SqlError:
    message = str(error).strip()
    called = _CALLED_AS.search(message)
    by_name = {f.spec.name.lower(): f.spec for f in functions}
    if called and called.group(1).lower() in by_name:
        spec = by_name[called.group(1).lower()]
        count = len(spec.params or ())
        return spec.error(
            f"called as {called.group(1)}({called.group(2)}), but it takes {count} "
            f"argument{'s' * (count != 1)}: {', '.join(map(str, spec.params or ()))}; "
            "pass those, cast to the declared types if need be"
        )
    first = message.splitlines()[0] if message else type(error).__name__
    declared = "; ".join(str(f.spec) for f in functions)
    return SqlError(
        f"DuckDB cannot run the query: {first}" + (f" (declared: {declared})" if declared else "")
    )

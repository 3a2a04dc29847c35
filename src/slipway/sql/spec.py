"""What a model function is declared as: ``predict(a DOUBLE, b VARCHAR) RETURNS DOUBLE``.

Every error about a function starts with this declaration, so an analyst sees which
function failed and what it takes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from slipway.sql.errors import SqlError
from slipway.sql.types import SqlType, parse_type

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Param:
    name: str
    type: SqlType

    def __str__(self) -> str:
        return f"{self.name} {self.type}"


@dataclass(frozen=True)
class FunctionSpec:
    """A function's name, parameters and RETURNS type.

    ``params`` is None for a function that takes any arguments (registered without
    parameters): their types are those of the values it is called with.
    """

    name: str
    params: tuple[Param, ...] | None
    returns: SqlType

    def __str__(self) -> str:
        inside = "ANY, ..." if self.params is None else ", ".join(map(str, self.params))
        return f"{self.name}({inside}) RETURNS {self.returns}"

    def error(self, message: str) -> SqlError:
        return SqlError(f"{self}: {message}")


def check_name(name: str, what: str = "function") -> str:
    if not _NAME.fullmatch(name or ""):
        raise SqlError(
            f"{what} name {name!r} is not valid: use letters, digits and underscores, "
            "starting with a letter"
        )
    return name


def split_top_level(text: str) -> list[str]:
    """``'a DOUBLE, b DECIMAL(10,2)'`` -> ``['a DOUBLE', 'b DECIMAL(10,2)']``."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        depth += (char == "(") - (char == ")")
        current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part]


def parse_param(text: str, position: int) -> Param:
    """``'a DOUBLE'`` -> Param('a', DOUBLE); a bare type is named ``x<position>``."""
    words = text.split(None, 1)
    if len(words) == 2 and _NAME.fullmatch(words[0]):
        try:
            return Param(words[0], parse_type(words[1]))
        except SqlError as error:
            try:  # a bare two-word type, such as DOUBLE PRECISION
                return Param(f"x{position}", parse_type(text))
            except SqlError:
                raise error from None
    return Param(f"x{position}", parse_type(text))


def parse_params(params: str | Iterable[str] | Mapping[str, str]) -> tuple[Param, ...]:
    """Parameters from ``'a DOUBLE, b VARCHAR'``, ``['a DOUBLE', 'VARCHAR']`` or a mapping."""
    if isinstance(params, Mapping):
        found = tuple(Param(check_name(k, "parameter"), parse_type(v)) for k, v in params.items())
    else:
        items = split_top_level(params) if isinstance(params, str) else list(params)
        found = tuple(parse_param(item, index) for index, item in enumerate(items, start=1))
    names = [param.name.lower() for param in found]
    if len(set(names)) != len(names):
        raise SqlError(f"parameter names repeat in {params!r}; give each parameter its own name")
    return found

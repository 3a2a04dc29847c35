"""One vector of rows a SQL engine hands a model function, as a model takes it.

Numbers and booleans become float64 (a boolean is 0 or 1, a NULL is NaN); strings stay
Python strings (a NULL is None). Rows of numbers only go to a model as a 2-D array and to
an endpoint as ``text/csv``, the reference's wire format for SQL, matched by position;
rows with a string go as a DataFrame and as JSON records, matched by parameter name, so
a pipeline that picks its columns by name gets them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from slipway.sql.spec import FunctionSpec
from slipway.sql.types import SUPPORTED, Kind, SqlType, of_arrow


@dataclass
class Rows:
    names: list[str]
    kinds: list[Kind]
    columns: list[np.ndarray]
    count: int

    @classmethod
    def from_arrow(cls, columns: Sequence[pa.ChunkedArray | pa.Array], spec: FunctionSpec) -> Rows:
        if spec.params is not None:
            types = [param.type for param in spec.params]
            names = [param.name for param in spec.params]
        else:
            types = [_type_of(column.type, index, spec) for index, column in enumerate(columns)]
            names = [f"x{index}" for index in range(1, len(columns) + 1)]
        converted = [
            _values(column, kind.kind) for column, kind in zip(columns, types, strict=True)
        ]
        count = len(columns[0]) if columns else 0
        return cls(names, [t.kind for t in types], converted, count)

    @property
    def numeric(self) -> bool:
        return Kind.STRING not in self.kinds

    def model_input(self) -> Any:
        """A 2-D float array for numbers only, else a DataFrame with the parameter names."""
        if self.numeric:
            return self.matrix()
        import pandas as pd

        return pd.DataFrame(dict(zip(self.names, self.columns, strict=True)), copy=False)

    def matrix(self) -> np.ndarray:
        if len(self.columns) == 1:
            return self.columns[0].reshape(-1, 1)
        return np.column_stack(self.columns)

    def batches(self, size: int) -> Iterator[Rows]:
        """Slices of at most ``size`` rows, as even as can be."""
        if self.count <= size:
            yield self
            return
        parts = -(-self.count // size)
        step = -(-self.count // parts)
        for start in range(0, self.count, step):
            stop = min(start + step, self.count)
            columns = [column[start:stop] for column in self.columns]
            yield Rows(self.names, self.kinds, columns, stop - start)

    def to_csv(self) -> bytes:
        """One line of numbers per row; NaN for a NULL (what slipway's CSV reader takes)."""
        lines = (",".join(map(repr, row)) for row in self.matrix().tolist())
        return "\n".join(lines).encode()

    def to_json(self) -> bytes:
        """A list of ``{"parameter": value}`` records, ``null`` for a NULL."""
        columns = [_plain(column) for column in self.columns]
        records = [dict(zip(self.names, row, strict=True)) for row in zip(*columns, strict=True)]
        return orjson.dumps(records)


def _type_of(arrow: pa.DataType, index: int, spec: FunctionSpec) -> SqlType:
    found = of_arrow(arrow)
    if found is None:
        raise spec.error(
            f"argument {index + 1} is of type {arrow}, which a model cannot take; pass "
            f"{SUPPORTED} (cast it, e.g. CAST(x AS VARCHAR))"
        )
    return found


def _values(column: pa.ChunkedArray | pa.Array, kind: Kind) -> np.ndarray:
    if kind is Kind.STRING:
        if not pa.types.is_string(column.type):
            column = pc.cast(column, pa.string())
        return column.to_numpy(zero_copy_only=False)
    return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)


def _plain(column: np.ndarray) -> list[Any]:
    if column.dtype.kind == "f":
        missing = np.isnan(column)
        if missing.any():
            return np.where(missing, None, column).tolist()
    return column.tolist()

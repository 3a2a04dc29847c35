"""Streaming column profiles: exact moments plus Apache DataSketches (KLL, HLL, frequent items).

A profile is fed one Arrow array (a chunk of a column) at a time and never holds the
data, so a file of any length is profiled in bounded memory. Two profiles of parts of a
data set merge into the profile of the whole: moments by Chan's formulas, sketches by
their own merge. Each present value is also classified as Integral, Fractional or
String (Deequ's rule), which gives the inferred type and the data type check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import datasketches as ds
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

KLL_K = 2048
# datasketches' KLL shrinks each level's capacity by 2/3 (Deequ's sketch uses c=0.64).
KLL_C = 2.0 / 3.0
HLL_LG_K = 12
FREQUENT_LG_MAP = 12  # up to 3072 distinct strings counted exactly
HISTOGRAM_LIMIT = 1000  # Deequ's limit on categorical histograms
_INTEGRAL = r"^[+-]?\d+$"
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


@dataclass
class Moments:
    """Count, mean and sum of squared deviations of numbers: exact and mergeable."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf

    def add(self, values: np.ndarray) -> None:
        n_b = int(values.size)
        if n_b == 0:
            return
        total_b = float(values.sum())
        mean_b = total_b / n_b
        m2_b = float(np.square(values - mean_b).sum())
        self._combine(n_b, mean_b, m2_b)
        self.total += total_b
        self.minimum = min(self.minimum, float(values.min()))
        self.maximum = max(self.maximum, float(values.max()))

    def merge(self, other: Moments) -> None:
        if other.count == 0:
            return
        self._combine(other.count, other.mean, other.m2)
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    def _combine(self, n_b: int, mean_b: float, m2_b: float) -> None:
        n_a = self.count
        n = n_a + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta * delta * n_a * n_b / n
        self.count = n

    @property
    def std_dev(self) -> float:
        """Population standard deviation (Deequ's StandardDeviation)."""
        return math.sqrt(self.m2 / self.count) if self.count else 0.0


@dataclass
class ColumnProfile:
    """Everything slipway learns about one column, chunk by chunk."""

    name: str
    num_missing: int = 0
    integral: int = 0
    fractional: int = 0
    string: int = 0
    moments: Moments = field(default_factory=Moments)
    negative: int = 0
    kll: ds.kll_doubles_sketch = field(default_factory=lambda: ds.kll_doubles_sketch(KLL_K))
    hll: ds.hll_sketch = field(default_factory=lambda: ds.hll_sketch(HLL_LG_K))
    frequent: ds.frequent_strings_sketch = field(
        default_factory=lambda: ds.frequent_strings_sketch(FREQUENT_LG_MAP)
    )

    @property
    def num_present(self) -> int:
        return self.integral + self.fractional + self.string

    @property
    def inferred_type(self) -> str:
        """Deequ's rule: any string makes a String, any fraction a Fractional."""
        if self.string:
            return "String"
        if self.fractional:
            return "Fractional"
        if self.integral:
            return "Integral"
        return "Unknown"

    # --- feeding --------------------------------------------------------------------------

    def update(self, array: pa.Array | pa.ChunkedArray) -> None:
        kind = array.type
        if pa.types.is_dictionary(kind):
            array, kind = pc.cast(array, kind.value_type), kind.value_type
        if pa.types.is_integer(kind):
            self._update_numbers(array, integral=True)
        elif pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            self._update_numbers(array, integral=False)
        elif pa.types.is_null(kind):
            self.num_missing += len(array)
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            self._update_strings(array)
        else:
            self._update_strings(_as_strings(array))

    def _update_numbers(self, array: pa.Array, integral: bool) -> None:
        values = pc.drop_null(array).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        if not integral:
            finite = ~np.isnan(values)
            if not finite.all():
                values = values[finite]
        self.num_missing += len(array) - values.size
        if integral:
            self.integral += values.size
        else:
            self.fractional += values.size
        self._add_numbers(values)

    def _add_numbers(self, values: np.ndarray) -> None:
        if values.size == 0:
            return
        self.moments.add(values)
        self.negative += int(np.count_nonzero(values < 0))
        # datasketches takes only writable arrays; Arrow hands out read-only views.
        self.kll.update(np.require(values, np.float64, ["C", "W"]))

    def _update_strings(self, array: pa.Array) -> None:
        self.num_missing += array.null_count
        counts = pc.value_counts(pc.drop_null(array))
        if len(counts) == 0:
            return
        distinct = counts.field(0)
        weights = counts.field(1).to_numpy()
        is_integral = pc.match_substring_regex(distinct, _INTEGRAL).to_numpy(zero_copy_only=False)
        is_number = pc.match_substring_regex(distinct, _NUMBER).to_numpy(zero_copy_only=False)
        integral = int(weights[is_integral].sum())
        numbers = int(weights[is_number].sum())
        self.integral += integral
        self.fractional += numbers - integral
        self.string += int(weights.sum()) - numbers
        if numbers:
            numeric = pc.match_substring_regex(array, _NUMBER)
            self._add_numbers(
                pc.cast(pc.filter(array, numeric), pa.float64()).to_numpy(zero_copy_only=False)
            )
        for value, weight in zip(distinct.to_pylist(), weights.tolist(), strict=True):
            self.hll.update(value)
            self.frequent.update(value, weight)

    # --- merging and reading --------------------------------------------------------------

    def merge(self, other: ColumnProfile) -> None:
        self.num_missing += other.num_missing
        self.integral += other.integral
        self.fractional += other.fractional
        self.string += other.string
        self.negative += other.negative
        self.moments.merge(other.moments)
        self.kll.merge(other.kll)
        union = ds.hll_union(HLL_LG_K)
        union.update(self.hll)
        union.update(other.hll)
        self.hll = union.get_result()
        self.frequent.merge(other.frequent)

    def type_counts(self) -> dict[str, int]:
        return {"Integral": self.integral, "Fractional": self.fractional, "String": self.string}

    def categories(self) -> tuple[list[tuple[str, int]], bool]:
        """Most frequent values with counts, and whether the counts are exact."""
        items = self.frequent.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_NEGATIVES)
        exact = all(lower == upper for _, _, lower, upper in items)
        ranked = sorted(
            ((value, int(estimate)) for value, estimate, _, _ in items),
            key=lambda pair: (-pair[1], pair[0]),
        )
        return ranked[:HISTOGRAM_LIMIT], exact and len(ranked) <= HISTOGRAM_LIMIT


class DatasetProfile:
    """Column profiles of one data set in column order, fed batch by batch."""

    def __init__(self) -> None:
        self.columns: dict[str, ColumnProfile] = {}
        self.item_count = 0

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        rows = batch.num_rows
        for name, array in zip(batch.schema.names, batch.columns, strict=True):
            column = self.columns.get(name)
            if column is None:
                column = self.columns[name] = ColumnProfile(name)
                # A column first seen late was missing in every row before it.
                column.num_missing += self.item_count
            column.update(array)
        for name, column in self.columns.items():
            if name not in batch.schema.names:
                column.num_missing += rows
        self.item_count += rows

    def merge(self, other: DatasetProfile) -> None:
        for name, column in other.columns.items():
            mine = self.columns.get(name)
            if mine is None:
                mine = self.columns[name] = ColumnProfile(name)
                mine.num_missing += self.item_count
            mine.merge(column)
        for name, column in self.columns.items():
            if name not in other.columns:
                column.num_missing += other.item_count
        self.item_count += other.item_count


def _as_strings(array: pa.Array) -> pa.Array:
    """Booleans, dates and nested values are profiled as their text."""
    try:
        return pc.cast(array, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        import json

        return pa.array(
            [None if v is None else json.dumps(v, default=str) for v in array.to_pylist()],
            pa.string(),
        )

"""Distances between a baseline distribution and the current one, read from the sketches.

The reference method (Deequ's): for numbers, the L-infinity distance between the CDFs of
the two KLL sketches, evaluated at every retained point; for categories, the largest
difference of relative frequencies. ``Robust`` subtracts a Kolmogorov-Smirnov style
allowance for small samples. ChiSquared (categorical), PSI and a normalised Wasserstein
distance are there for those who prefer them.

A KLL sketch's compactor level i holds items of weight 2**i, so the ``data`` lists of a
statistics.json are enough to rebuild its distribution; that is how a baseline written
by any tool (or edited by hand) is compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ROBUST_COEFFICIENT = 1.8
_PSI_BINS = 10
_PSI_FLOOR = 1e-4


@dataclass(frozen=True)
class Weighted:
    """A distribution as sorted points with weights (from a sketch's levels)."""

    values: np.ndarray
    weights: np.ndarray

    @classmethod
    def of_levels(cls, levels: list[list[float]]) -> Weighted:
        values = np.fromiter((v for level in levels for v in level), np.float64)
        weights = np.fromiter((2.0**i for i, level in enumerate(levels) for _ in level), np.float64)
        order = np.argsort(values, kind="stable")
        return cls(values[order], weights[order])

    @property
    def empty(self) -> bool:
        return self.values.size == 0

    def cdf(self, points: np.ndarray) -> np.ndarray:
        cumulative = np.cumsum(self.weights) / self.weights.sum()
        index = np.searchsorted(self.values, points, side="right") - 1
        return np.where(index >= 0, cumulative[np.clip(index, 0, None)], 0.0)

    def quantiles(self, fractions: np.ndarray) -> np.ndarray:
        cumulative = np.cumsum(self.weights) / self.weights.sum()
        index = np.searchsorted(cumulative, fractions, side="left")
        return self.values[np.clip(index, 0, self.values.size - 1)]


def linf_numeric(baseline: Weighted, current: Weighted) -> float:
    points = np.union1d(baseline.values, current.values)
    return float(np.max(np.abs(baseline.cdf(points) - current.cdf(points))))


def robust(distance: float, n: int, m: int) -> float:
    """``linf_robust = max(0, linf_simple - 1.8 * sqrt((n + m) / (n * m)))``."""
    if n <= 0 or m <= 0:
        return distance
    return max(0.0, distance - ROBUST_COEFFICIENT * math.sqrt((n + m) / (n * m)))


def psi_numeric(baseline: Weighted, current: Weighted) -> float:
    """Population stability index over the baseline's deciles."""
    edges = np.unique(baseline.quantiles(np.linspace(0, 1, _PSI_BINS + 1)[1:-1]))
    expected = np.diff(np.concatenate([[0.0], baseline.cdf(edges), [1.0]]))
    actual = np.diff(np.concatenate([[0.0], current.cdf(edges), [1.0]]))
    return _psi(expected, actual)


def wasserstein(baseline: Weighted, current: Weighted, scale: float) -> float:
    """Earth mover's distance, in baseline standard deviations (so thresholds are unitless)."""
    from scipy import stats as sps  # imported when used: SciPy costs seconds to import

    distance = sps.wasserstein_distance(
        baseline.values, current.values, baseline.weights, current.weights
    )
    return float(distance / scale) if scale > 0 else float(distance)


def linf_categorical(baseline: dict[str, float], current: dict[str, float]) -> float:
    """Largest difference of relative frequencies; a key missing on one side counts 0."""
    keys = baseline.keys() | current.keys()
    return max((abs(baseline.get(k, 0.0) - current.get(k, 0.0)) for k in keys), default=0.0)


def psi_categorical(baseline: dict[str, float], current: dict[str, float]) -> float:
    keys = sorted(baseline.keys() | current.keys())
    expected = np.array([baseline.get(k, 0.0) for k in keys])
    actual = np.array([current.get(k, 0.0) for k in keys])
    return _psi(expected, actual)


def chi_squared_p_value(baseline: dict[str, float], current_counts: dict[str, float]) -> float:
    """p-value of Pearson's test that the current counts follow the baseline frequencies.

    Values the baseline never saw are pooled into one "other" category with a small
    expected share, so new categories count as evidence of drift instead of being dropped.
    """
    total = sum(current_counts.values())
    keys = sorted(baseline)
    if total <= 0 or len(keys) < 2:
        return 1.0
    observed = [current_counts.get(k, 0.0) for k in keys]
    unseen = total - sum(observed)
    share = np.array([max(baseline[k], 0.0) for k in keys])
    if unseen > 0:
        observed.append(unseen)
        share = np.append(share, _PSI_FLOOR)
    expected = share / share.sum() * total
    from scipy import stats as sps

    return float(sps.chisquare(np.array(observed), expected).pvalue)


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected = np.clip(expected, _PSI_FLOOR, None)
    actual = np.clip(actual, _PSI_FLOOR, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))

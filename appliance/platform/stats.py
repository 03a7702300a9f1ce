"""Small, dependable statistics for the dashboards: intervals, rank correlation, corrections.

No scipy on the appliance: the Wilson interval and a Student-t interval for means are exact
formulas; the p-value of a rank correlation is a permutation test with a fixed seed, so the
same data always give the same figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
PERMUTATIONS = 4000
MAX_PERMUTATIONS = 40_000
SEED = 20261207
# Student t 0.975 quantiles for 1..30 degrees of freedom (beyond: the normal's, within 0.04).
_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


@dataclass(frozen=True)
class Estimate:
    """A figure with its 95 % interval and the number of people it rests on."""

    value: float
    low: float
    high: float
    n: int


def wilson(successes: int, n: int) -> Estimate | None:
    """A proportion with its Wilson 95 % interval (None when n is 0)."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denominator
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n)


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t with `df` degrees of freedom."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    return _T975[df - 1] if df <= len(_T975) else Z95 + 2.4 / df


def mean_interval(values: Sequence[float]) -> Estimate | None:
    """A mean with its Student-t 95 % interval (None for fewer than 2 values)."""
    n = len(values)
    if n < 2:
        return None
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = t975(n - 1) * sd / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n)


def ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks from 1, ties given their average rank."""
    data = np.asarray(values, dtype=float)
    order = np.argsort(data, kind="mergesort")
    ranked = np.empty(len(data), dtype=float)
    ranked[order] = np.arange(1, len(data) + 1, dtype=float)
    for value in np.unique(data):
        tied = data == value
        if tied.sum() > 1:
            ranked[tied] = ranked[tied].mean()
    return ranked


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x = x - x.mean()
    y = y - y.mean()
    denominator = math.sqrt(float((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denominator) if denominator else 0.0


@dataclass(frozen=True)
class Correlation:
    """Spearman's rho, its two-sided permutation p-value and n."""

    rho: float
    p_value: float
    n: int


def permutations_for(tests: int) -> int:
    """Permutations enough for `tests` Holm-corrected tests: the smallest p-value a permutation
    test can give is 1/(N+1), which Holm multiplies by the number of tests; 20 per test keeps
    a clear effect significant (capped so a page stays quick)."""
    return min(MAX_PERMUTATIONS, max(PERMUTATIONS, 20 * tests))


def spearman(
    x: Sequence[float], y: Sequence[float], *, permutations: int = PERMUTATIONS
) -> Correlation | None:
    """Spearman's rank correlation with a permutation p-value (None when undefined)."""
    if len(x) != len(y):
        raise ValueError("the two samples differ in length")
    n = len(x)
    if n < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    rx, ry = ranks(x), ranks(y)
    rho = _pearson(rx, ry)
    generator = np.random.default_rng(SEED)
    centred_x = rx - rx.mean()
    centred_y = ry - ry.mean()
    scale = math.sqrt(float((centred_x**2).sum() * (centred_y**2).sum()))
    extreme = 0
    for start in range(0, permutations, 250):  # batches keep memory small for large samples
        count = min(250, permutations - start)
        shuffled = generator.permuted(np.tile(centred_y, (count, 1)), axis=1)
        permuted = shuffled @ centred_x / scale
        extreme += int((np.abs(permuted) >= abs(rho) - 1e-12).sum())
    return Correlation(rho, (extreme + 1) / (permutations + 1), n)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given (family-wise error control)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


__all__ = [
    "Correlation",
    "Estimate",
    "holm",
    "mean_interval",
    "permutations_for",
    "ranks",
    "spearman",
    "t975",
    "wilson",
]

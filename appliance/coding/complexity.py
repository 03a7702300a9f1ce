"""An empirical complexity estimate: which growth law fits a program's CPU times at growing n.

Each law is fitted as time = a + b * f(n) with a, b >= 0 (a is the start-up cost every run
pays, b the work); the slowest-growing law whose fit is as good as the best one within the
measurement noise wins, so noise never promotes O(n) to O(n log n). The exponent k of
time ~ n^k comes from the times with the start-up cost taken off, where the work dominates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]
# The growth laws tried, slowest first: (name, f(n)).
LAWS: tuple[tuple[str, Callable[[Vector], Vector]], ...] = (
    ("1", np.ones_like),
    ("log n", np.log2),
    ("n", lambda n: n),
    ("n log n", lambda n: n * np.log2(n)),
    ("n^2", lambda n: n**2),
    ("n^3", lambda n: n**3),
)
NOISE_FLOOR_S = 0.002  # CPU-time jitter of one run on a loaded box
NOISE_SHARE = 0.03  # and a share of the largest time
MIN_POINTS = 3
WORK_SHARE = 0.2  # a point counts for the exponent when the work is this share of its time


@dataclass(frozen=True)
class GrowthFit:
    """The law that fits best, the exponent k of time ~ n^k, and the start-up cost."""

    law: str | None  # None: too few sizes measured
    exponent: float | None
    startup_s: float
    measurable: bool  # False: the times do not grow beyond the noise (too fast to tell)


def _fit(f: Vector, times: Vector) -> tuple[float, float, float]:
    """Least squares of times = a + b*f with a, b >= 0: (a, b, sum of squared residuals)."""
    if np.ptp(f) == 0:
        a = float(times.mean())
        return a, 0.0, float(((times - a) ** 2).sum())
    matrix = np.column_stack([np.ones_like(f), f])
    (a, b), *_ = np.linalg.lstsq(matrix, times, rcond=None)
    if b < 0:
        a, b = float(times.mean()), 0.0
    elif a < 0:
        a, b = 0.0, float((f @ times) / (f @ f))
    residual = times - (a + b * f)
    return float(a), float(b), float((residual**2).sum())


def fit_growth(sizes: Sequence[int], times: Sequence[float]) -> GrowthFit:
    """Fit the growth laws to CPU `times` (seconds) measured at input `sizes`."""
    if len(sizes) != len(times):
        raise ValueError("one time per size")
    if len(sizes) < MIN_POINTS:
        return GrowthFit(None, None, min(times, default=0.0), measurable=False)
    n = np.asarray(sizes, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    noise = max(NOISE_FLOOR_S, NOISE_SHARE * float(t.max()))
    if float(np.ptp(t)) < 3 * noise:
        return GrowthFit("1", None, float(t.min()), measurable=False)
    fits = []
    for name, law in LAWS:
        f = law(n)
        # Each law scaled to 1 at the largest n: b is then the work there, whatever the law.
        fits.append((name, *_fit(f / float(f.max()), t)))
    best = min(residual for *_, residual in fits)
    allowance = best + len(t) * noise**2
    name, startup, _b, _residual = next(fit for fit in fits if fit[3] <= allowance)
    return GrowthFit(name, _exponent(n, t, startup, noise), startup, measurable=True)


def _exponent(n: Vector, t: Vector, startup: float, noise: float) -> float | None:
    """k of (time - start-up) ~ n^k over the points where the work dominates."""
    work = t - startup
    usable = (work > noise) & (work >= WORK_SHARE * t)
    if int(usable.sum()) < 2:
        return None
    slope, _ = np.polyfit(np.log(n[usable]), np.log(work[usable]), 1)
    value = float(slope)
    return round(value, 2) if math.isfinite(value) else None

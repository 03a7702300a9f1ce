"""Agreement figures with numpy alone (scipy is only a development dependency): rank
correlations with ties, mean absolute error, precision/recall/F1 and bootstrap intervals."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
RESAMPLES = 1000
# A fixed seed: the same items always give the same intervals.
SEED = 20240613


def average_ranks(values: Sequence[float] | Floats) -> Floats:
    """Ranks from 1, tied values sharing the mean of the ranks they span."""
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    order = np.argsort(x, kind="mergesort")
    ordered = x[order]
    starts_group = np.r_[True, ordered[1:] != ordered[:-1]] if n else np.zeros(0, bool)
    starts = np.flatnonzero(starts_group)
    ends = np.r_[starts[1:], n]
    mean_rank = (starts + ends - 1) / 2.0 + 1.0
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = mean_rank[np.cumsum(starts_group) - 1]
    return ranks


def _pearson(x: Floats, y: Floats) -> float | None:
    dx, dy = x - x.mean(), y - y.mean()
    denominator = float(np.sqrt((dx * dx).sum() * (dy * dy).sum()))
    if x.size < 2 or denominator == 0.0:
        return None  # undefined: fewer than two items, or one side is constant
    return float(np.clip((dx * dy).sum() / denominator, -1.0, 1.0))


def spearman(x: Sequence[float] | Floats, y: Sequence[float] | Floats) -> float | None:
    """Spearman's rho (Pearson correlation of average ranks); None where undefined."""
    return _pearson(average_ranks(x), average_ranks(y))


def kendall_tau_b(x: Sequence[float] | Floats, y: Sequence[float] | Floats) -> float | None:
    """Kendall's tau-b (ties in either variable corrected for); None where undefined."""
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    score = 0.0
    untied_x = untied_y = 0
    # One row of pairs at a time: O(n) memory for the O(n^2) pair count.
    for i in range(a.size - 1):
        sx = np.sign(a[i + 1 :] - a[i])
        sy = np.sign(b[i + 1 :] - b[i])
        score += float((sx * sy).sum())
        untied_x += int(np.count_nonzero(sx))
        untied_y += int(np.count_nonzero(sy))
    if untied_x == 0 or untied_y == 0:
        return None
    return float(np.clip(score / np.sqrt(float(untied_x) * float(untied_y)), -1.0, 1.0))


def mean_absolute_error(x: Sequence[float] | Floats, y: Sequence[float] | Floats) -> float | None:
    """Mean of |x - y|; None for no items."""
    a = np.asarray(x, dtype=np.float64)
    return float(np.abs(a - np.asarray(y, dtype=np.float64)).mean()) if a.size else None


def bootstrap_spearman(
    signals: Sequence[Sequence[float]],
    labels: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> list[tuple[float, float] | None]:
    """95 % percentile intervals of each signal's Spearman with the labels, resampling the
    items with replacement; every signal sees the same resamples, so they compare fairly."""
    y = np.asarray(labels, dtype=np.float64)
    if y.size < 2:
        return [None for _ in signals]
    picks = np.random.default_rng(seed).integers(0, y.size, size=(resamples, y.size))
    intervals: list[tuple[float, float] | None] = []
    for signal in signals:
        x = np.asarray(signal, dtype=np.float64)
        rhos = [spearman(x[pick], y[pick]) for pick in picks]
        found = np.array([rho for rho in rhos if rho is not None], dtype=np.float64)
        # A resample where one side is constant has no rho; too few defined ones, no interval.
        if found.size < resamples // 2:
            intervals.append(None)
            continue
        low, high = np.percentile(found, [2.5, 97.5])
        intervals.append((float(low), float(high)))
    return intervals


def precision_recall_f1(pairs: Iterable[tuple[bool, bool]]) -> dict[str, float | int | None]:
    """Precision, recall and F1 of (predicted, labelled) pairs, with the counts behind them;
    a ratio with nothing to divide by is None."""
    tp = fp = fn = n = 0
    for predicted, labelled in pairs:
        n += 1
        tp += predicted and labelled
        fp += predicted and not labelled
        fn += labelled and not predicted
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    # 2tp / (2tp + fp + fn): 0 when only one side has positives, None when neither has.
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "items": n,
    }

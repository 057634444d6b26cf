"""Statistics for honest comparisons: pure functions of counts and arrays (no torch, no I/O)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (default 95%). Returns (low, high)."""
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n={n}], got {successes}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact_p(a_success: ArrayLike, b_success: ArrayLike) -> float:
    """Two-sided exact McNemar test for paired binary outcomes (same evaluation seeds for a and b):
    the binomial test of the discordant pairs against 1/2."""
    a = np.asarray(a_success, dtype=bool)
    b = np.asarray(b_success, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes need equal shapes, got {a.shape} and {b.shape}")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def interquartile_mean(values: ArrayLike, axis: int | None = None) -> float | np.ndarray:
    """Mean of the middle 50% of ``values`` (the 25% lowest and highest dropped, as scipy's
    ``trim_mean(values, 0.25)``): robust to one outlying run, less noisy than the median (Agarwal et al. 2021).
    With ``axis``, one IQM per slice along it."""
    x = np.asarray(values, dtype=np.float64)
    x = np.sort(x.ravel() if axis is None else np.moveaxis(x, axis, -1), axis=-1)
    n = x.shape[-1]
    if n == 0:
        raise ValueError("interquartile_mean of no values")
    cut = int(0.25 * n)
    iqm = x[..., cut : n - cut].mean(axis=-1)
    return float(iqm) if axis is None else iqm


def bootstrap_iqm_interval(
    outcomes: list[np.ndarray], resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the IQM of per-run success rates: each resample draws runs with
    replacement and, within each drawn run, its evaluation episodes with replacement (``outcomes``: one bool
    array per run). Accounts for both training-seed and evaluation noise."""
    if not outcomes:
        raise ValueError("bootstrap_iqm_interval needs at least one run")
    rng = np.random.default_rng(seed)
    n = np.array([len(o) for o in outcomes])
    rate = np.array([np.mean(o) for o in outcomes])
    picked = rng.integers(0, len(outcomes), size=(resamples, len(outcomes)))
    # resampling a run's episodes with replacement = a binomial draw of its successes
    rates = rng.binomial(n[picked], rate[picked]) / n[picked]
    stats = interquartile_mean(rates, axis=1)
    alpha = (1 - confidence) / 2
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def mean_interval(values: np.ndarray, z: float = 1.959963984540054) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``values`` (n, T), ignoring NaN: mean, and the normal-approximation 95% interval of the
    mean (mean -/+ z * std / sqrt(n)). Returns (mean, low, high), each (T,); a column with one value has a
    zero-width interval."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"values must be 2-D (n, T), got shape {x.shape}")
    n = np.sum(~np.isnan(x), axis=0)
    if (n == 0).any():
        raise ValueError(f"column {int(np.argmax(n == 0))} of values has no finite entry")
    mean = np.nanmean(x, axis=0)
    sd = np.sqrt(np.nansum((x - mean) ** 2, axis=0) / np.maximum(n - 1, 1))
    half = z * sd / np.sqrt(n)
    return mean, mean - half, mean + half

"""Statistics for honest comparisons: pure functions of counts and arrays (no torch, no I/O)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
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


def mean_interval(values: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


# --------------------------------------------------------------------------------------------------------------
# several trained policies: the training seed is the unit


def t_quantile(confidence: float, df: int) -> float:
    """The two-sided Student-t critical value: t with P(|T_df| < t) = ``confidence`` (e.g. 2.776 for 0.95 and
    df = 4), by bisection on the exact CDF for integer df (Abramowitz & Stegun 26.7.3-4)."""
    if df < 1:
        raise ValueError(f"df must be at least 1, got {df}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")

    def inside(t: float) -> float:  # P(|T| < t)
        theta = math.atan(t / math.sqrt(df))
        c2 = math.cos(theta) ** 2
        if df % 2 == 1:
            term, total = math.cos(theta), 0.0
            for k in range(1, (df - 1) // 2 + 1):
                total += term
                term *= c2 * 2 * k / (2 * k + 1)
            return 2 / math.pi * (theta + math.sin(theta) * total)
        term, total = 1.0, 0.0
        for k in range(1, df // 2 + 1):
            total += term
            term *= c2 * (2 * k - 1) / (2 * k)
        return math.sin(theta) * total

    low, high = 0.0, 1.0
    while inside(high) < confidence:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if inside(mid) < confidence else (low, mid)
    return (low + high) / 2


def _expanded_tail(confidence: float, n: int) -> float:
    """The tail probability at which to read a bootstrap distribution of a mean over ``n`` units so that its
    percentile interval is as wide as the t interval (the expanded percentile interval, Hesterberg 2015): the
    plain percentile interval is too narrow by sqrt((n-1)/n) and a normal instead of a t quantile, which with
    5 training seeds and normally distributed rates covers about 85% instead of 95%."""
    z = math.sqrt(n / (n - 1)) * t_quantile(confidence, n - 1)
    return 0.5 * math.erfc(z / math.sqrt(2))


def _percentile_interval(stats: np.ndarray, tail: float) -> tuple[float, float]:
    return float(np.quantile(stats, tail)), float(np.quantile(stats, 1 - tail))


def hierarchical_bootstrap_interval(
    successes: Sequence[int],
    episodes: Sequence[int],
    resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Two-stage bootstrap interval of the mean over training seeds of the per-seed success rate: each resample
    draws the seeds with replacement, then, within each drawn seed, its evaluation episodes with replacement
    (a binomial draw of its successes). ``successes``, ``episodes``: (S,) counts per training seed, S >= 2.
    Read at expanded percentiles (``_expanded_tail``) so that it keeps its coverage with few seeds."""
    k, n = np.asarray(successes, dtype=np.int64), np.asarray(episodes, dtype=np.int64)
    _check_counts(k, n)
    if len(k) < 2:
        raise ValueError(f"a bootstrap over training seeds needs at least 2 seeds, got {len(k)}")
    rng = np.random.default_rng(seed)
    picked = rng.integers(0, len(k), size=(resamples, len(k)))
    means = (rng.binomial(n[picked], k[picked] / n[picked]) / n[picked]).mean(axis=1)
    return _percentile_interval(means, _expanded_tail(confidence, len(k)))


def _check_counts(k: np.ndarray, n: np.ndarray) -> None:
    if k.shape != n.shape or k.ndim != 1 or len(k) == 0:
        raise ValueError(f"successes and episodes must be equal-length 1-D counts, got shapes {k.shape}, {n.shape}")
    if (n <= 0).any() or (k < 0).any() or (k > n).any():
        raise ValueError(f"need 0 <= successes <= episodes and episodes > 0 per seed, got {k.tolist()} / {n.tolist()}")


@dataclass(frozen=True)
class SeedSuccess:
    """Success of one config over its training seeds: ``rate`` is the mean of the per-seed rates (each trained
    policy counts once, however many episodes it ran), ``low``/``high`` its 95% interval."""

    rate: float
    low: float
    high: float
    successes: int  # over every seed's episodes
    episodes: int
    per_seed: tuple[float, ...]  # success rate of each training seed, in the order given

    @property
    def seeds(self) -> int:
        return len(self.per_seed)


def success_over_seeds(
    successes: Sequence[int], episodes: Sequence[int], resamples: int = 10_000, seed: int = 0
) -> SeedSuccess:
    """The headline success of a config trained with S seeds (``successes``, ``episodes``: (S,) counts). One seed:
    the Wilson interval (it describes that trained policy only). Several: the hierarchical bootstrap interval,
    widened where needed to contain the Wilson interval of all episodes pooled (that interval is right when the
    seeds agree; the bootstrap alone shrinks to a point when every episode of every seed has the same outcome)."""
    k, n = np.asarray(successes, dtype=np.int64), np.asarray(episodes, dtype=np.int64)
    _check_counts(k, n)
    rates = k / n
    pooled_low, pooled_high = wilson_interval(int(k.sum()), int(n.sum()))
    if len(k) == 1:
        low, high = pooled_low, pooled_high
    else:
        low, high = hierarchical_bootstrap_interval(successes, episodes, resamples, seed=seed)
        low, high = min(low, pooled_low), max(high, pooled_high)
    return SeedSuccess(float(rates.mean()), low, high, int(k.sum()), int(n.sum()), tuple(float(r) for r in rates))


@dataclass(frozen=True)
class PairedSeeds:
    """Method a against method b, trained with the same seeds and evaluated on the same evaluation seeds.
    ``difference``: mean over training seeds of (success of a - success of b); ``low``/``high``: its 95% interval
    (NaN with one training seed: nothing to resample); ``a_better``/``b_better``/``ties``: how many training seeds
    favour each; ``mcnemar_p``: the exact McNemar p per training seed (a per-policy detail)."""

    difference: float
    low: float
    high: float
    a_better: int
    b_better: int
    ties: int
    per_seed: tuple[float, ...]
    mcnemar_p: tuple[float, ...] = field(default=())

    @property
    def seeds(self) -> int:
        return len(self.per_seed)


def paired_over_seeds(
    a: Sequence[np.ndarray],
    b: Sequence[np.ndarray],
    resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedSeeds:
    """Compare two methods seed by seed: ``a[s]`` and ``b[s]`` are (episodes,) bool outcomes of training seed s on
    the same evaluation seeds. The interval of the mean difference is a two-stage bootstrap over the per-seed
    differences (seeds with replacement, then episode pairs within each: a multinomial draw of a-only, both-or-
    neither and b-only), read at expanded percentiles as in ``hierarchical_bootstrap_interval``."""
    if len(a) != len(b) or len(a) == 0:
        raise ValueError(f"need the same training seeds for both methods, got {len(a)} and {len(b)}")
    a = [np.asarray(x, dtype=bool) for x in a]
    b = [np.asarray(x, dtype=bool) for x in b]
    for s, (x, y) in enumerate(zip(a, b)):
        if x.shape != y.shape or x.ndim != 1 or len(x) == 0:
            raise ValueError(f"training seed {s}: paired outcomes need equal 1-D shapes, got {x.shape} and {y.shape}")
    n = np.array([len(x) for x in a])
    only_a = np.array([(x & ~y).sum() for x, y in zip(a, b)])
    only_b = np.array([(~x & y).sum() for x, y in zip(a, b)])
    diffs = (only_a - only_b) / n
    p_values = tuple(mcnemar_exact_p(x, y) for x, y in zip(a, b))
    low = high = math.nan
    if len(a) > 1:
        rng = np.random.default_rng(seed)
        picked = rng.integers(0, len(a), size=(resamples, len(a)))
        probs = np.stack([only_a, n - only_a - only_b, only_b], axis=-1) / n[:, None]
        draws = rng.multinomial(n[picked], probs[picked])  # (resamples, S, 3)
        means = ((draws[..., 0] - draws[..., 2]) / n[picked]).mean(axis=1)
        low, high = _percentile_interval(means, _expanded_tail(confidence, len(a)))
    return PairedSeeds(
        float(diffs.mean()),
        low,
        high,
        int((diffs > 0).sum()),
        int((diffs < 0).sum()),
        int((diffs == 0).sum()),
        tuple(float(d) for d in diffs),
        p_values,
    )

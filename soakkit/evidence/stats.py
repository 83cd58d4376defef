"""Small, seeded statistics for comparing configurations: bootstrap intervals, paired tests,
multiple-comparison correction, the Pareto front.

Every random draw comes from the :class:`numpy.random.Generator` passed in, so the same
data and seed give the same intervals and p-values on every machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["MAX_RESAMPLES", "MIN_RESAMPLES", "bootstrap_mean_ci", "holm", "paired_sign_flip_p",
           "pareto_front"]

#: Bounds of ``resamples`` (bootstrap and permutation draws): below, the percentiles are
#: too coarse to mean anything; above, one report would run for hours (the cost grows with
#: resamples x cells x configurations).
MIN_RESAMPLES, MAX_RESAMPLES = 100, 1_000_000

_CHUNK = 2_000  # resamples per block: bounded memory for many units
_EXACT_UNITS = 12  # up to this many pairs, the sign-flip test enumerates every sign pattern


def bootstrap_mean_ci(values: np.ndarray, rng: np.random.Generator, *, resamples: int = 10_000,
                      level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampling the values).

    One value gives a zero-width interval; no value gives ``(nan, nan)``.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return math.nan, math.nan
    if x.size == 1:
        return float(x[0]), float(x[0])
    means = []
    for start in range(0, resamples, _CHUNK):
        n = min(_CHUNK, resamples - start)
        means.append(x[rng.integers(0, x.size, size=(n, x.size))].mean(axis=1))
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(np.concatenate(means), [tail, 100.0 - tail])
    return float(lo), float(hi)


def paired_sign_flip_p(diffs: np.ndarray, rng: np.random.Generator, *,
                       resamples: int = 10_000) -> float:
    """Two-sided p-value of "the mean paired difference is 0" by a sign-flip permutation test.

    Under the null hypothesis each difference is as likely to have either sign. Up to
    12 pairs every sign pattern is enumerated (exact); beyond, ``resamples`` random patterns
    are drawn and ``p = (1 + hits) / (1 + resamples)``.
    """
    d = np.asarray(diffs, dtype=np.float64)
    if d.size == 0:
        return math.nan
    observed = abs(float(d.mean()))
    if observed == 0.0:
        return 1.0
    tolerance = 1e-12 * max(1.0, float(np.abs(d).max()))
    if d.size <= _EXACT_UNITS:
        patterns = ((np.arange(2 ** d.size)[:, None] >> np.arange(d.size)) & 1) * 2 - 1
        stats = np.abs((patterns * d).mean(axis=1))
        return float((stats >= observed - tolerance).mean())
    hits = 0
    for start in range(0, resamples, _CHUNK):
        n = min(_CHUNK, resamples - start)
        signs = rng.integers(0, 2, size=(n, d.size)) * 2 - 1
        hits += int((np.abs((signs * d).mean(axis=1)) >= observed - tolerance).sum())
    return (1 + hits) / (1 + resamples)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (family-wise error control; NaN stays NaN)."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.size, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p[index])))
        out[index] = running
    return [float(v) for v in out]


def pareto_front(risk: Sequence[float], reward: Sequence[float]) -> list[bool]:
    """Which points no other point beats: lower-or-equal risk and higher-or-equal reward,
    better in at least one. Points with a NaN coordinate are never on the front."""
    r = np.asarray(risk, dtype=np.float64)
    g = np.asarray(reward, dtype=np.float64)
    ok = ~(np.isnan(r) | np.isnan(g))
    front = []
    for i in range(r.size):
        if not ok[i]:
            front.append(False)
            continue
        dominated = ok & (r <= r[i]) & (g >= g[i]) & ((r < r[i]) | (g > g[i]))
        front.append(not bool(dominated.any()))
    return front

"""Volatility and order-arrival intensity: what closed-form market-making quotes need.

Avellaneda–Stoikov and Guéant–Lehalle–Fernandez-Tapia price from the mid's volatility
``σ`` and the intensity ``λ(δ) = A·exp(−κ·δ)`` at which the market reaches a quote ``δ``
bps from the mid. Both are measured the way hftbacktest's GLFT example does:

* time is cut into buckets of ``QUOTING_FIT.bucket_s``; in each, the furthest a buyer
  lifted above the bucket's opening mid (and a seller hit below it) is that side's reach;
* ``λ(δ)`` = buckets whose reach is at least ``δ``, per second and side, on a grid of ``δ``
  (:func:`depth_grid`); ``A`` and ``κ`` by least squares of ``ln λ`` on ``δ`` from the
  quoted half-spread out (where a quote can sit), over the levels reached often enough;
* ``σ``: the root mean square of 1-s mid returns, bps per √s.

:func:`fit_prior` fits a whole tape (``soakkit calibrate`` writes the result into the
market profile); the model strategies use :func:`trade_reaches`, :func:`bucket_reaches` and
:func:`fit_intensity` on the trailing window of what their feed showed them
(:mod:`soakkit.strategy.estimators`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from soakkit.sim.tape import NS

__all__ = ["QUOTING_FIT", "IntensityFit", "QuotingFitConstants", "bucket_reaches", "depth_grid",
           "fit_intensity", "fit_prior", "realised_sigma", "trade_reaches"]


@dataclass(frozen=True)
class QuotingFitConstants:
    """How the intensity and volatility fits read a market (reasons beside each)."""

    bucket_s: float = 0.1  #: reach buckets (hftbacktest's example measures on 100 ms)
    grid_levels: int = 40  #: distances of the λ(δ) grid
    min_step_bps: float = 0.25  #: grid step: the tick, at least this (fine ticks: 0.25 bps)
    min_count: int = 5  #: a level enters the fit when reached at least this often
    sigma_sample_s: float = 1.0  #: volatility from returns over this step


QUOTING_FIT = QuotingFitConstants()


@dataclass(frozen=True)
class IntensityFit:
    """``λ(δ) = a_per_s · exp(−kappa_per_bps · δ)`` and how many levels supported it."""

    a_per_s: float
    kappa_per_bps: float
    levels: int


def depth_grid(tick_bps: float) -> np.ndarray:
    """The distances (bps) ``λ`` is measured at: steps of the tick, at least the minimum."""
    step = max(float(tick_bps), QUOTING_FIT.min_step_bps)
    return np.arange(QUOTING_FIT.grid_levels) * step


def trade_reaches(trade_ns: np.ndarray, trade_side: np.ndarray, trade_px: np.ndarray,
                  quote_ns: np.ndarray, mid_ticks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per trade: its (bucket, side) key and how far (bps) it went beyond the bucket's
    opening mid (the mid in force at the bucket's start on the path ``quote_ns``/``mid``)."""
    width = round(QUOTING_FIT.bucket_s * NS)
    bucket = trade_ns // width
    at = np.maximum(np.searchsorted(quote_ns, bucket * width, side="right") - 1, 0)
    ref = mid_ticks[at]
    return bucket * 2 + (trade_side > 0), trade_side * (trade_px - ref) / ref * 1e4


def bucket_reaches(key: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """The furthest reach of each (bucket, side) key (one value per key)."""
    if key.size == 0:
        return np.zeros(0)
    order = np.lexsort((-reach, key))
    first = np.ones(order.size, dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    return np.asarray(reach[order[first]])


def fit_intensity(reach_bps: np.ndarray, seconds: float, grid: np.ndarray,
                  half_spread_bps: float) -> IntensityFit | None:
    """Fit ``A`` and ``κ`` to the reaches of ``seconds`` of market (both sides).

    Levels from the half-spread out that were reached at least ``min_count`` times; ``None``
    when fewer than two such levels (or a non-decaying fit) leave nothing to fit.
    """
    if seconds <= 0 or reach_bps.size == 0:
        return None
    ordered = np.sort(reach_bps)
    counts = ordered.size - np.searchsorted(ordered, grid, side="left")
    use = (grid >= half_spread_bps - 1e-9) & (counts >= QUOTING_FIT.min_count)
    if use.sum() < 2:
        return None
    x, y = grid[use], np.log(counts[use] / (2.0 * seconds))
    slope, intercept = np.polyfit(x, y, 1)
    if not slope < 0:
        return None
    return IntensityFit(float(np.exp(intercept)), float(-slope), int(use.sum()))


def realised_sigma(quote_ns: np.ndarray, mid_ticks: np.ndarray, start_ns: int, end_ns: int
                   ) -> float | None:
    """Root mean square of the mid's returns over ``sigma_sample_s`` (bps per √s)."""
    step = round(QUOTING_FIT.sigma_sample_s * NS)
    grid = np.arange(start_ns, end_ns + 1, step, dtype=np.int64)
    if grid.size < 3:
        return None
    at = np.maximum(np.searchsorted(quote_ns, grid, side="right") - 1, 0)
    r = np.diff(np.log(mid_ticks[at])) * 1e4
    return float(np.sqrt(np.mean(r * r) / QUOTING_FIT.sigma_sample_s))


def fit_prior(trade_ns: np.ndarray, trade_side: np.ndarray, trade_px: np.ndarray,
              quote_ns: np.ndarray, bid_px: np.ndarray, ask_px: np.ndarray, start_ns: int,
              end_ns: int) -> dict[str, float] | None:
    """``sigma_bps``, ``a_per_s``, ``kappa_per_bps`` and ``half_spread_bps`` of a stretch of
    tape (prices in ticks), or ``None`` when its trades support no intensity fit."""
    mid = (bid_px + ask_px) / 2.0
    half = float(np.median((ask_px - bid_px) / 2.0 / mid * 1e4))
    reach = bucket_reaches(*trade_reaches(trade_ns, trade_side.astype(np.int64), trade_px,
                                          quote_ns, mid))
    fit = fit_intensity(reach, (end_ns - start_ns) / NS, depth_grid(1e4 / float(np.median(mid))),
                        half)
    sigma = realised_sigma(quote_ns, mid, start_ns, end_ns)
    if fit is None or sigma is None:
        return None
    return {"sigma_bps": round(sigma, 6), "a_per_s": round(fit.a_per_s, 6),
            "kappa_per_bps": round(fit.kappa_per_bps, 6), "half_spread_bps": round(half, 6)}

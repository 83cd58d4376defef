"""Calibration of the synthetic order flow (:mod:`soakkit.sim.flow`) from a tape's prints.

* **Taker orders**: the prints at one time on one side are one order (a taker order that
  meets several resting orders prints once per order, all at its time). Rate: orders per
  second; sizes: the heavy-tailed :class:`~soakkit.sim.sizes.SizeLaw` of their notionals.
* **Metaorders** (sign persistence): the length tail ``meta_len_alpha`` and the children's
  spacing ``meta_gap_s`` by the method of simulated moments — the generator's own flow at
  the fitted rate, on a grid of both (common random numbers), against the order signs'
  autocorrelation at lags 1, 2, 3, 5 and 10; the closest grid point wins.
* **Maker orders** (prints per order and print size): the tape's own orders are cut
  against a conveyor of lognormal maker orders level by level; for each sigma of a grid
  the median is found by bisection so that they print as many times as they did, and the
  sigma whose prints have the tape's median print size wins (one lognormal cannot match
  both with the sigma of complete maker orders alone: real resting orders range from a
  few lots to thousands).
* **Sweeps**: the levels an order printed at strictly between its first and last price
  were walked through whole: the depth law of the first of them (the levels behind it
  hold more, ``walk_growth``, fitted with the book), and the mean spacing of an order's
  prices; how far the large orders reached (:func:`large_order_reach`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from soakkit.sim.facts import order_groups
from soakkit.sim.flow import taker_flow
from soakkit.sim.prints import split_prints
from soakkit.sim.sizes import SizeLaw, fit_size_law
from soakkit.sim.tape import MarketTape

__all__ = ["FlowFit", "fit_flow", "large_order_reach", "side_burst", "sign_acf"]

ACF_LAGS = (1, 2, 3, 5, 10)
_ALPHAS = (1.2, 1.35, 1.5, 1.7, 2.0, 2.5, 3.5)
_GAPS = tuple(float(x) for x in np.geomspace(0.002, 8.0, 13))
_FIT_SEED = 20_240_809  #: common random numbers of the simulated-moments fit


def sign_acf(signs: np.ndarray, lags: tuple[int, ...] = ACF_LAGS) -> np.ndarray:
    """Autocorrelation of a ±1 sequence at ``lags`` (nan where it is too short)."""
    x = signs.astype(np.float64) - signs.mean() if signs.size else signs.astype(np.float64)
    denom = float((x * x).sum())
    return np.array([float((x[k:] * x[:-k]).sum() / denom) if denom > 0 and x.size > k
                     else np.nan for k in lags])


@dataclass(frozen=True)
class FlowFit:
    """Taker orders, metaorders and maker orders over the minutes measured."""

    order_rate_per_s: float
    size: SizeLaw
    meta_len_alpha: float
    meta_gap_s: float
    maker_median_usd: float
    maker_size_sigma: float
    walk: SizeLaw | None  #: depth of the levels sweeping orders walked through (None: few)
    walk_gap_bps: float | None  #: mean ticks between their consecutive prices, in bps
    orders: int
    sign_acf: tuple[float, ...]  #: what the metaorder fit matched (lags ACF_LAGS)
    burst: float  #: ... and its burst moment (:func:`side_burst`)
    large_reach_ticks: float  #: how far the large orders reach (:func:`large_order_reach`)
    large_usd: float  #: ... their median size (USD)


BURST_QUANTILE = 99.0  #: the burst moment: this percentile of one side's orders per second
_BURST_WEIGHT = 0.1  #: weight of its squared log ratio against the autocorrelations'


def side_burst(t_s: np.ndarray, side: np.ndarray) -> float:
    """The :data:`BURST_QUANTILE` percentile, over whole seconds, of the larger of the
    buy and sell order counts in the second (how many orders one side sends at once)."""
    if t_s.size == 0:
        return float("nan")
    sec = np.floor(t_s - t_s.min()).astype(np.int64)
    buys = np.bincount(sec, weights=(side > 0).astype(np.float64))
    sells = np.bincount(sec, weights=(side < 0).astype(np.float64))
    return float(np.percentile(np.maximum(buys, sells), BURST_QUANTILE))


LARGE_ORDER_QUANTILE = 95.0  #: the large orders: at or above this percentile of size


def large_order_reach(group: np.ndarray, px: np.ndarray, size: np.ndarray
                      ) -> tuple[float, float]:
    """How far the large orders (:data:`LARGE_ORDER_QUANTILE`) reach: the root mean square
    of the distance, in ticks, from an order's first print price to its last (the far
    reaches weigh most: a reach to a quote's distance fills it), and their median size (``group``:
    each print's order, in order; ``px`` in ticks; ``size`` per print). nan with fewer
    than 20 large orders."""
    if group.size == 0:
        return float("nan"), float("nan")
    first = np.flatnonzero(np.diff(group, prepend=-1) != 0)
    last = np.append(first[1:] - 1, group.size - 1)
    reach = np.abs(px[last] - px[first]).astype(np.float64)
    total = np.add.reduceat(size.astype(np.float64), first)
    large = total >= np.percentile(total, LARGE_ORDER_QUANTILE)
    if large.sum() < 20:
        return float("nan"), float("nan")
    return float(np.sqrt((reach[large] ** 2).mean())), float(np.median(total[large]))


def _meta_fit(rate: float, target: np.ndarray, burst: float) -> tuple[float, float]:
    """The (alpha, gap) of the grid whose simulated sign autocorrelation and burst moment
    (:func:`side_burst`) are closest."""
    ok = np.isfinite(target)
    if not ok.any() or rate <= 0:
        return 2.0, 1.0
    seconds = float(np.clip(4_000.0 / rate, 300.0, 3_600.0))
    minutes = int(np.ceil(seconds / 60.0))
    regimes = np.zeros(minutes, dtype=np.int64)
    law = [SizeLaw(1.0, 0.0, 0.0)]
    best, best_err = (2.0, 1.0), np.inf
    for alpha in _ALPHAS:
        for gap in _GAPS:
            values = {"order_rate_per_s": rate, "meta_len_alpha": alpha, "meta_gap_s": gap}

            def column(key: str, v: dict[str, float] = values) -> np.ndarray:
                return np.array([v[key]])

            flow = taker_flow(regimes, column, law,
                              np.random.default_rng(_FIT_SEED), np.zeros(0), np.zeros(0))
            err = float(np.sum((sign_acf(flow.side)[ok] - target[ok]) ** 2))
            if burst > 0:
                err += _BURST_WEIGHT * float(np.log(max(side_burst(flow.t, flow.side), 0.5)
                                                    / burst)) ** 2
            if err < best_err:
                best, best_err = (alpha, gap), err
    return best


_MAKER_SIGMAS = tuple(float(x) for x in np.arange(0.5, 3.51, 0.25))
_BISECTION_STEPS = 24


def _cut(side: np.ndarray, level_owner: np.ndarray, level_px: np.ndarray,
         level_lots: np.ndarray, median_lots: float, sigma: float) -> np.ndarray:
    """The print sizes (lots) of the orders' levels against a maker conveyor."""
    rng = np.random.default_rng(_FIT_SEED)
    return split_prints(side, level_owner, level_px, level_lots,
                        lambda k: np.maximum(1, np.round(median_lots * np.exp(
                            sigma * rng.standard_normal(k)))).astype(np.int64)).lots


def _maker_law(orders: int, side: np.ndarray, level_owner: np.ndarray, level_px: np.ndarray,
               level_lots: np.ndarray, prints: int, print_median: float
               ) -> tuple[float, float]:
    """Maker order median (lots) and sigma: the tape's prints per order and median print."""
    target_ppo = prints / max(orders, 1)
    best, best_err = (float(np.median(level_lots)), 1.0), np.inf
    for sigma in _MAKER_SIGMAS:
        lo, hi = np.log(0.5), np.log(max(float(level_lots.sum()), 2.0))
        for _ in range(_BISECTION_STEPS):  # prints per order fall as maker orders grow
            mid = 0.5 * (lo + hi)
            got = _cut(side, level_owner, level_px, level_lots, float(np.exp(mid)), sigma)
            if got.size / max(orders, 1) > target_ppo:
                lo = mid
            else:
                hi = mid
        median = float(np.exp(0.5 * (lo + hi)))
        got = _cut(side, level_owner, level_px, level_lots, median, sigma)
        err = abs(np.log(max(float(np.median(got)), 1e-9) / max(print_median, 1e-9)))
        if err < best_err:
            best, best_err = (median, sigma), err
    return best


def fit_flow(tape: MarketTape, prints: np.ndarray, seconds: float, usd_per_lot: float,
             tick_bps: float) -> FlowFit:
    """Fit the order flow on the prints selected by the bool mask ``prints`` (``tick_bps``:
    one tick in bps at the opening price)."""
    ns, side = tape.trade_ns[prints], tape.trade_side[prints]
    px, lots = tape.trade_px[prints], tape.trade_qty[prints]
    group = order_groups(ns, side)
    n = int(group[-1]) + 1 if group.size else 0
    if n == 0:
        raise ValueError("no taker orders to fit")
    usd = lots * usd_per_lot
    order_usd = np.bincount(group, weights=usd, minlength=n)
    first = np.flatnonzero(np.diff(group, prepend=-1) != 0)
    o_side = side[first].astype(np.int8)
    rate = n / max(seconds, 1e-9)
    target = sign_acf(o_side)
    burst = side_burst(ns[first] / 1e9, o_side)
    alpha, gap = _meta_fit(rate, target, burst)

    reach, large_lots = large_order_reach(group, px, lots)
    # each order's levels: (order, price) runs, in print order
    new_level = np.ones(group.size, dtype=bool)
    new_level[1:] = (group[1:] != group[:-1]) | (px[1:] != px[:-1])
    lv = np.cumsum(new_level) - 1
    lv_lots = np.bincount(lv, weights=lots).astype(np.int64)
    lv_owner, lv_px = group[new_level], px[new_level]
    maker_lots, sigma = _maker_law(n, o_side.astype(np.int64), lv_owner, lv_px, lv_lots,
                                   group.size, float(np.median(lots)))
    # the levels sweeping orders walked through: those strictly between their first and last
    per_order = np.bincount(lv_owner, minlength=n)
    at = np.arange(lv_owner.size) - np.searchsorted(lv_owner, lv_owner)
    inner_level = (at == 1) & (per_order[lv_owner] > 2)  # the first one: deeper ones grow
    steps = np.abs(np.diff(lv_px))[lv_owner[1:] == lv_owner[:-1]]
    walk = (fit_size_law(lv_lots[inner_level] * usd_per_lot, tail=False)
            if inner_level.sum() >= 20 else None)
    return FlowFit(order_rate_per_s=rate, size=fit_size_law(order_usd),
                   meta_len_alpha=alpha, meta_gap_s=gap,
                   maker_median_usd=maker_lots * usd_per_lot,
                   maker_size_sigma=max(sigma, 0.0), walk=walk,
                   walk_gap_bps=(float(steps.mean()) * tick_bps if steps.size >= 20 else None),
                   orders=n,
                   sign_acf=tuple(float(x) for x in target), burst=burst,
                   large_reach_ticks=reach, large_usd=large_lots * usd_per_lot)

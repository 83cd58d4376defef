"""The synthetic market's order flow: taker metaorders, and the other makers' messages.

**Taker orders come in metaorders.** A trader with a large position to build splits it into
child orders sent one after another (Lillo, Mike & Farmer 2005): every metaorder has a side
and a length ``L`` (child orders) with a power-law tail, ``P(L ≥ l) = l^−meta_len_alpha``
(capped at ``MARKET.meta_max_len``); its children are spaced by exponential gaps of mean
``meta_gap_s``. Metaorders start as a Poisson process (rate: the regime's order rate over
the mean length), and interleave. This one mechanism gives the order flow its two facts
that independent orders lack: **sign persistence** (consecutive orders often belong to one
metaorder: real lag-1 autocorrelation of order signs 0.3–0.5, slowly decaying) and
**clustered arrivals** (counts per second over-dispersed). Child sizes are drawn from the
regime's heavy-tailed :class:`~soakkit.sim.sizes.SizeLaw`. Every price jump starts a
metaorder in its direction. The process starts ``MARKET.meta_warmup_s`` before the window,
so the window opens in its stationary state.

**The other makers** add to and cancel from each side's best level (Poisson, ``book_rate_per_s``
per side, a ``cancel_share`` of them cancels): an add brings a size drawn from its split
lognormal, a cancel takes a *share* of what the level holds (:mod:`soakkit.sim.levels`).
They improve a spread wider than usual (``improve_rate_per_s``: a gap left by a level that
went closes at the next improvement), and now and then pull a whole level
(``fade_rate_per_s`` per side).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from soakkit.sim.regimes import MARKET
from soakkit.sim.sizes import MAX_TAIL, SizeLaw, ndtri

__all__ = ["ADD", "CANCEL", "FADE", "IMPROVE", "MakerFlow", "TakerFlow", "maker_flow",
           "meta_mean_length", "poisson_times", "taker_flow"]

Column = Callable[[str], np.ndarray]


def poisson_times(rate_per_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sorted times of a Poisson process whose rate is given per minute (per second)."""
    counts = rng.poisson(np.maximum(rate_per_s, 0.0) * 60.0)
    minute = np.repeat(np.arange(rate_per_s.size), counts)
    return np.sort(minute * 60.0 + rng.random(minute.size) * 60.0)


def meta_mean_length(alpha: float) -> float:
    """Mean metaorder length for ``P(L ≥ l) = l^−alpha``, capped at ``MARKET.meta_max_len``."""
    lengths = np.arange(1, MARKET.meta_max_len + 1, dtype=np.float64)
    return float((lengths ** -max(alpha, 1e-9)).sum())


@dataclass(frozen=True)
class TakerFlow:
    """Taker orders in time order."""

    t: np.ndarray  #: seconds since the window's start
    side: np.ndarray  #: int8, +1 buy (takes the ask), -1 sell
    usd: np.ndarray  #: notional at the opening price
    meta: np.ndarray  #: int64, the metaorder each belongs to


def taker_flow(regimes: np.ndarray, col: Column, laws: list[SizeLaw], rng: np.random.Generator,
               jump_t: np.ndarray, jump_dir: np.ndarray) -> TakerFlow:
    """Metaorders of every minute (and the jumps'), cut into child orders (module doc)."""
    minutes = regimes.size
    warm = MARKET.meta_warmup_s
    rate, alpha, gap = (col(k)[regimes] for k in ("order_rate_per_s", "meta_len_alpha",
                                                  "meta_gap_s"))
    mean_len = np.array([meta_mean_length(a) for a in col("meta_len_alpha")])[regimes]
    starts = poisson_times(rate / mean_len, rng)
    n_warm = rng.poisson(rate[0] / mean_len[0] * warm)
    starts = np.concatenate((rng.random(n_warm) * warm - warm, starts, jump_t))
    n = starts.size
    start_min = np.clip((starts // 60).astype(np.int64), 0, minutes - 1)
    a = alpha[start_min]
    length = np.minimum(np.floor(rng.random(n) ** (-1.0 / np.maximum(a, 1e-9))),
                        MARKET.meta_max_len).astype(np.int64)
    side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    side[n - jump_t.size:] = jump_dir.astype(np.int8)
    owner = np.repeat(np.arange(n), length)
    head = np.repeat(np.cumsum(length) - length, length)
    spacing = rng.exponential(1.0, owner.size) * gap[start_min][owner]
    spacing[np.arange(owner.size) == head] = 0.0
    elapsed = np.cumsum(spacing)
    t = starts[owner] + elapsed - elapsed[head]
    keep = (t >= 0.0) & (t < minutes * 60.0)
    t, owner = t[keep], owner[keep]
    order = np.argsort(t, kind="stable")
    t, owner = t[order], owner[order]
    minute = np.minimum((t // 60).astype(np.int64), minutes - 1)
    u = rng.random(t.size)
    usd = np.empty(t.size)
    reg = regimes[minute]
    for r in np.unique(reg).tolist():
        at = reg == r
        usd[at] = laws[r].quantile(u[at])
    return TakerFlow(t, side[owner], usd, owner)


@dataclass(frozen=True)
class MakerFlow:
    """The other makers' messages at the best levels, improvements and fades, in time order."""

    t: np.ndarray  #: seconds
    side: np.ndarray  #: int8, +1 bid side, -1 ask side (0: an improvement, either side)
    kind: np.ndarray  #: int8: ADD, CANCEL, IMPROVE or FADE
    usd: np.ndarray  #: an add's notional (0 for the others)
    keep: np.ndarray  #: log of the share of the level a cancel leaves (0 for the others)


ADD, CANCEL, IMPROVE, FADE = 0, 1, 2, 3


def _law(col: Column, prefix: str, reg: np.ndarray, median: np.ndarray,
         rng: np.random.Generator) -> np.ndarray:
    """Draws of a split lognormal with ``median`` and the ``prefix`` sigmas of ``reg``."""
    z = ndtri(rng.random(reg.size) * (1.0 - 2 * MAX_TAIL) + MAX_TAIL)
    sigma = np.where(z < 0, col(f"{prefix}_sigma_lo")[reg], col(f"{prefix}_sigma_hi")[reg])
    return np.asarray(median * np.exp(sigma * z))


def maker_flow(regimes: np.ndarray, col: Column, rng: np.random.Generator) -> MakerFlow:
    """Adds and cancels at each side's best level, improvements and fades (module doc)."""
    book = poisson_times(2.0 * col("book_rate_per_s")[regimes], rng)
    b_min = np.minimum((book // 60).astype(np.int64), regimes.size - 1)
    b_reg = regimes[b_min]
    b_side = np.where(rng.random(book.size) < 0.5, 1, -1).astype(np.int8)
    cancel = rng.random(book.size) < col("cancel_share")[b_reg]
    add = _law(col, "add", b_reg, col("add_median_usd")[b_reg], rng)
    y_median = -np.log1p(-np.minimum(col("cancel_frac_median")[b_reg], 0.999))
    keep = -_law(col, "cancel_frac", b_reg, y_median, rng)
    improve = poisson_times(col("improve_rate_per_s")[regimes], rng)
    fade = poisson_times(2.0 * col("fade_rate_per_s")[regimes], rng)
    f_side = np.where(rng.random(fade.size) < 0.5, 1, -1).astype(np.int8)
    t = np.concatenate((book, improve, fade))
    side = np.concatenate((b_side, np.zeros(improve.size, np.int8), f_side))
    kind = np.concatenate((np.where(cancel, CANCEL, ADD).astype(np.int8),
                           np.full(improve.size, IMPROVE, np.int8),
                           np.full(fade.size, FADE, np.int8)))
    usd = np.concatenate((np.where(cancel, 0.0, add), np.zeros(improve.size + fade.size)))
    keep = np.concatenate((np.where(cancel, keep, 0.0), np.zeros(improve.size + fade.size)))
    order = np.argsort(t, kind="stable")
    return MakerFlow(t[order], side[order], kind[order], usd[order], keep[order])

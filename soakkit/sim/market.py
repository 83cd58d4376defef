"""Seeded, event-level market: market orders arriving on a mid-price path.

Everything is vectorised with numpy (no per-event Python loop) and drawn from the
:class:`numpy.random.Generator` passed in, never from global random state, so the same
seed gives the same tape byte for byte. The tape does not depend on the bot's
parameters: tuned and untuned runs of one seed see the same market.

Model (constants in :mod:`soakkit.sim.regimes`):

* market orders arrive as a Poisson process whose rate follows the regime of each
  simulated minute; notional sizes are lognormal;
* order sides are balanced, except during *informed bursts* (and after jumps), when a
  share of orders goes the burst's way;
* the mid follows a diffusion, permanent square-root impact of every market order, and
  jumps; the mid between orders is the mid after the last order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from soakkit.sim.regimes import MARKET, REGIME_NAMES, REGIMES, regime_schedule

__all__ = ["MarketTape", "regime_column", "simulate_market"]


def regime_column(field: str) -> np.ndarray:
    """One regime constant as an array indexed like :data:`REGIME_NAMES`."""
    return np.array([getattr(REGIMES[name], field) for name in REGIME_NAMES], dtype=np.float64)


@dataclass(frozen=True)
class MarketTape:
    """The simulated market of one iteration (arrays are aligned per market order)."""

    duration_s: float
    regime_by_minute: np.ndarray  #: regime index of each simulated minute
    t: np.ndarray  #: order times in seconds since the start, sorted
    side: np.ndarray  #: +1 market buy (lifts asks), -1 market sell (hits bids)
    size: np.ndarray  #: order notional, USD
    regime: np.ndarray  #: regime index per order
    mid_before: np.ndarray  #: mid just before the order trades
    mid_after: np.ndarray  #: mid after the order's impact
    fill_u: np.ndarray  #: uniform draws deciding whether an order reaches the bot's quote
    bursts: int
    jumps: int

    @property
    def events(self) -> int:
        """Number of market orders."""
        return int(self.t.size)

    @property
    def mid_end(self) -> float:
        """The mid at the end of the window."""
        return float(self.mid_after[-1]) if self.t.size else MARKET.mid0

    def mid_at(self, times: np.ndarray) -> np.ndarray:
        """Mid at arbitrary times: the mid after the last order at or before each time."""
        idx = np.searchsorted(self.t, times, side="right") - 1
        safe = np.maximum(idx, 0)
        out = self.mid_after[safe] if self.t.size else np.full(np.shape(times), MARKET.mid0)
        return np.asarray(np.where(idx >= 0, out, MARKET.mid0), dtype=np.float64)

    def regime_mix(self) -> dict[str, float]:
        """Share of simulated minutes spent in each regime."""
        counts = np.bincount(self.regime_by_minute, minlength=len(REGIME_NAMES))
        total = max(1, int(counts.sum()))
        return {name: round(float(c) / total, 6) for name, c in zip(REGIME_NAMES, counts,
                                                                      strict=True)}


def _arrival_times(counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sorted uniform arrival times within each minute, via exponential spacings."""
    minutes = counts.size
    n = int(counts.sum())
    gaps = rng.exponential(1.0, size=n + minutes)
    cum = np.cumsum(gaps)
    ends = np.cumsum(counts + 1) - 1  # index of each minute's closing spacing
    base = np.concatenate(([0.0], cum[ends[:-1]]))
    total = cum[ends] - base
    keep = np.ones(n + minutes, dtype=bool)
    keep[ends] = False
    minute_of = np.repeat(np.arange(minutes), counts)
    times = (cum[keep] - base[minute_of]) / total[minute_of] * 60.0 + minute_of * 60.0
    return np.asarray(times, dtype=np.float64)


def _events_per_minute(rates_per_min: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Times of a Poisson process whose rate is given per minute."""
    counts = rng.poisson(rates_per_min)
    minute_of = np.repeat(np.arange(rates_per_min.size), counts)
    return np.sort(minute_of * 60.0 + rng.random(minute_of.size) * 60.0)


def simulate_market(mode: str, minutes: int, rng: np.random.Generator) -> MarketTape:
    """Simulate ``minutes`` minutes of market in ``mode`` (a regime name or ``mixed``)."""
    if minutes < 1:
        raise ValueError("minutes must be >= 1")
    regimes = regime_schedule(mode, minutes, rng)
    rate = regime_column("order_rate_per_s")[regimes]
    counts = rng.poisson(rate * 60.0)
    t = _arrival_times(counts, rng)
    n = t.size
    reg = np.repeat(regimes, counts)
    duration = minutes * 60.0

    size = regime_column("order_median_usd")[reg] * np.exp(
        regime_column("order_size_sigma")[reg] * rng.standard_normal(n))

    # jumps, then informed bursts (random ones, and one after every jump)
    jump_t = _events_per_minute(regime_column("jump_rate_per_min")[regimes], rng)
    jump_min = np.minimum((jump_t // 60).astype(np.int64), minutes - 1)
    jump_dir = np.where(rng.random(jump_t.size) < 0.5, -1.0, 1.0)
    jump_bps = jump_dir * rng.exponential(1.0, jump_t.size) * regime_column("jump_bps")[
        regimes[jump_min]]
    burst_t = _events_per_minute(regime_column("burst_rate_per_min")[regimes], rng)
    burst_dir = np.where(rng.random(burst_t.size) < 0.5, -1.0, 1.0)
    starts = np.concatenate((burst_t, jump_t))
    dirs = np.concatenate((burst_dir, jump_dir))
    start_min = np.minimum((starts // 60).astype(np.int64), minutes - 1)
    lengths = rng.exponential(1.0, starts.size) * regime_column("burst_len_s")[regimes[start_min]]
    step = MARKET.burst_grid_s
    bins = int(np.ceil(duration / step)) + 2
    signal = np.zeros(bins + 1)
    np.add.at(signal, np.minimum((starts / step).astype(np.int64), bins), dirs)
    np.add.at(signal, np.minimum(((starts + lengths) / step).astype(np.int64), bins), -dirs)
    burst_dir_at = np.sign(np.cumsum(signal)[np.minimum((t / step).astype(np.int64), bins)])
    share = regime_column("burst_side_share")[reg]
    p_buy = np.where(burst_dir_at > 0, share, np.where(burst_dir_at < 0, 1.0 - share, 0.5))
    side = np.where(rng.random(n) < p_buy, 1, -1).astype(np.int8)

    # mid path in log-bps: diffusion and jumps before each order, impact after it
    dt = np.diff(t, prepend=0.0)
    shock = regime_column("vol_bps_per_sqrt_s")[reg] * np.sqrt(dt) * rng.standard_normal(n)
    if n:
        jump_at = np.searchsorted(t, jump_t, side="left")
        inside = jump_at < n
        np.add.at(shock, jump_at[inside], jump_bps[inside])
    impact = side * regime_column("impact_bps_per_10k")[reg] * np.sqrt(size / 10_000.0)
    pre = np.cumsum(shock) + np.cumsum(impact) - impact
    post = pre + impact
    return MarketTape(
        duration_s=duration,
        regime_by_minute=regimes,
        t=t,
        side=side,
        size=size,
        regime=reg,
        mid_before=MARKET.mid0 * np.exp(pre / 1e4),
        mid_after=MARKET.mid0 * np.exp(post / 1e4),
        fill_u=rng.random(n),
        bursts=int(starts.size),
        jumps=int(jump_t.size),
    )

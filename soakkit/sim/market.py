"""Seeded, event-level synthetic market: an L1 tape of trades and best quotes.

Everything is vectorised with numpy (no per-event Python loop) and drawn from the
:class:`numpy.random.Generator` passed in, never from global random state, so the same
seed gives the same tape byte for byte. The tape does not depend on the bot's parameters:
tuned and untuned runs of one seed see the same market.

Model (constants in :mod:`soakkit.sim.regimes`, one :class:`MarketProfile`):

* market orders arrive as a Poisson process whose rate follows the regime of each minute
  (times ``burst_activity`` during informed bursts); notional sizes are lognormal; each
  trades at the best price of its side as the book showed it, and one larger than the
  best level walks the book (every deeper level holds ``depth_usd``);
* other makers add to and cancel from each side's best level (another Poisson process);
  a level that trades or cancels away is refilled to :data:`REFILL_RATIO` of its typical
  size at once, and every new best level starts with a fresh lognormal depth;
* order sides are balanced, except during *informed bursts* (and after jumps), when a
  share of orders goes the burst's way;
* the mid follows a diffusion, permanent square-root impact of every market order, and
  jumps; the best quotes sit ``half_spread_bps`` from it (times a lognormal factor redrawn
  every few seconds: spreads breathe), rounded to the nearest tick.
"""

from __future__ import annotations

import numpy as np

from soakkit.sim.regimes import DEFAULT_MARKET, MARKET, MarketProfile, regime_schedule
from soakkit.sim.tape import NS, MarketTape

__all__ = ["REFILL_RATIO", "MarketTape", "segmented_cummin", "simulate_market"]

#: A best level that trades or cancels away is refilled at once to this share of
#: ``depth_usd`` (reason: other makers re-join a thin best level within a message or two).
REFILL_RATIO = 0.2
_MAX_SWEEP = 20  # a market order walks at most this many levels past the best


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


def segmented_cummin(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Running minimum of int64 ``values`` that restarts where ``starts`` is True (exact)."""
    if values.size == 0:
        return values.copy()
    seg = np.cumsum(starts) - 1
    big = int(values.max() - values.min()) + 1
    shifted = values - seg * big  # every segment lies entirely below the ones before it
    return np.asarray(np.minimum.accumulate(shifted) + seg * big, dtype=np.int64)


def _bursts(market: MarketProfile, regimes: np.ndarray, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Jump times and sizes, and the burst direction/activity signal on a fine grid."""
    minutes = regimes.size
    jump_t = _events_per_minute(market.column("jump_rate_per_min")[regimes], rng)
    jump_min = np.minimum((jump_t // 60).astype(np.int64), minutes - 1)
    jump_dir = np.where(rng.random(jump_t.size) < 0.5, -1.0, 1.0)
    jump_bps = jump_dir * rng.exponential(1.0, jump_t.size) * market.column("jump_bps")[
        regimes[jump_min]]
    burst_t = _events_per_minute(market.column("burst_rate_per_min")[regimes], rng)
    burst_dir = np.where(rng.random(burst_t.size) < 0.5, -1.0, 1.0)
    starts = np.concatenate((burst_t, jump_t))
    dirs = np.concatenate((burst_dir, jump_dir))
    start_min = np.minimum((starts // 60).astype(np.int64), minutes - 1)
    lengths = rng.exponential(1.0, starts.size) * market.column("burst_len_s")[
        regimes[start_min]]
    step = MARKET.burst_grid_s
    bins = int(np.ceil(minutes * 60.0 / step)) + 2
    direction = np.zeros(bins + 1)
    active = np.zeros(bins + 1)
    first = np.minimum((starts / step).astype(np.int64), bins)
    last = np.minimum(((starts + lengths) / step).astype(np.int64), bins)
    np.add.at(direction, first, dirs)
    np.add.at(direction, last, -dirs)
    np.add.at(active, first, 1.0)
    np.add.at(active, last, -1.0)
    return (jump_t, jump_bps, np.sign(np.cumsum(direction)), np.cumsum(active) > 0.5,
            int(starts.size))


def _thinned(rate_per_s: np.ndarray, boost: np.ndarray, in_burst: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
    """Times of a Poisson process with the minute's rate, ``boost`` times higher in bursts."""
    t = _arrival_times(rng.poisson(rate_per_s * boost * 60.0), rng)
    minute = np.minimum((t // 60).astype(np.int64), rate_per_s.size - 1)
    grid = np.minimum((t / MARKET.burst_grid_s).astype(np.int64), in_burst.size - 1)
    keep = in_burst[grid] | (rng.random(t.size) * boost[minute] < 1.0)
    return np.asarray(t[keep])


def simulate_market(mode: str, minutes: int, rng: np.random.Generator,
                    market: MarketProfile = DEFAULT_MARKET) -> MarketTape:
    """Simulate ``minutes`` minutes of ``market`` in ``mode`` (a regime name or ``mixed``)."""
    if minutes < 1:
        raise ValueError("minutes must be >= 1")
    regimes = regime_schedule(mode, minutes, rng, np.asarray(market.transitions))
    col = market.column
    jump_t, jump_size, burst_dir, in_burst, bursts = _bursts(market, regimes, rng)
    boost = col("burst_activity")[regimes]
    order_t = _thinned(col("order_rate_per_s")[regimes], boost, in_burst, rng)
    book_t = _thinned(2.0 * col("book_rate_per_s")[regimes], boost, in_burst, rng)

    # one merged event stream: market orders (kind 0) and other makers' adds/cancels (1)
    n = order_t.size + book_t.size
    at_order = np.arange(order_t.size) + np.searchsorted(book_t, order_t, side="left")
    t = np.empty(n)
    kind = np.ones(n, np.int8)
    t[at_order] = order_t
    kind[at_order] = 0
    t[kind == 1] = book_t
    reg = regimes[np.minimum((t // 60).astype(np.int64), minutes - 1)]
    is_trade = kind == 0
    usd_per_lot = market.mid0 * market.lot

    grid = np.minimum((t / MARKET.burst_grid_s).astype(np.int64), burst_dir.size - 1)
    share = col("burst_side_share")[reg]
    p_buy = np.where(burst_dir[grid] > 0, share, np.where(burst_dir[grid] < 0, 1.0 - share, 0.5))
    side = np.where(rng.random(n) < p_buy, 1, -1).astype(np.int8)  # trades: aggressor side
    usd = col("order_median_usd")[reg] * np.exp(col("order_size_sigma")[reg]
                                                * rng.standard_normal(n))
    book_usd = MARKET.book_size_ratio * col("depth_usd")[reg] * np.exp(
        0.8 * rng.standard_normal(n))
    qty = np.maximum(1, np.round(np.where(is_trade, usd, book_usd) / usd_per_lot)).astype(
        np.int64)
    add = rng.random(n) < 0.5  # book events: add or cancel

    # mid path in log-bps: diffusion and jumps up to each event, then its impact
    dt = np.diff(t, prepend=0.0)
    shock = col("vol_bps_per_sqrt_s")[reg] * np.sqrt(dt) * rng.standard_normal(n)
    if n:
        at = np.searchsorted(t, jump_t, side="left")
        inside = at < n
        np.add.at(shock, at[inside], jump_size[inside])
    impact = np.where(is_trade, side * col("impact_bps_per_10k")[reg]
                      * np.sqrt(qty * usd_per_lot / 10_000.0), 0.0)
    mid = market.mid0 * np.exp(np.concatenate(([0.0], np.cumsum(shock + impact))) / 1e4)
    # the market's spread breathes: a lognormal factor, redrawn at Poisson epochs
    duration = minutes * 60.0
    epochs = np.cumsum(rng.exponential(MARKET.spread_epoch_s,
                                       int(duration / MARKET.spread_epoch_s * 2) + 16))
    factor = np.exp(MARKET.spread_sigma * rng.standard_normal(epochs.size + 1))
    width = factor[np.searchsorted(epochs, np.concatenate(([0.0], t)), side="right")]
    half = width * np.concatenate((col("half_spread_bps")[regimes[:1]],
                                   col("half_spread_bps")[reg]))
    bid_px = np.round(mid * (1.0 - half / 1e4) / market.tick).astype(np.int64)
    ask_px = np.maximum(np.round(mid * (1.0 + half / 1e4) / market.tick).astype(np.int64),
                        bid_px + 1)

    depth_lots = np.concatenate((col("depth_usd")[regimes[:1]], col("depth_usd")[reg])
                                ) / usd_per_lot
    fresh = np.maximum(1, np.round(depth_lots * np.exp(
        MARKET.depth_sigma * rng.standard_normal((2, n + 1))))).astype(np.int64)
    refill = np.maximum(1, np.round(REFILL_RATIO * depth_lots)).astype(np.int64)
    book_side = np.where(rng.random(n) < 0.5, 1, -1)
    signed = np.where(add, qty, -qty)
    depths = []
    for k, (px, hit_by) in enumerate(((bid_px, -1), (ask_px, 1))):
        flow = np.zeros(n + 1, np.int64)
        flow[1:] = np.where(is_trade, np.where(side == hit_by, -qty, 0),
                            np.where(book_side == -hit_by, signed, 0))
        starts = np.ones(n + 1, dtype=bool)
        starts[1:] = px[1:] != px[:-1]
        flow[starts] = fresh[k][starts]  # a new best level starts from a fresh depth
        seg = np.cumsum(starts) - 1
        level = np.cumsum(flow)
        level -= (level - flow)[np.flatnonzero(starts)][seg]  # cumulative flow per level
        low = segmented_cummin(level - refill, starts)
        depths.append(np.asarray(level - np.minimum(low, 0), dtype=np.float64))

    prints = _sweep(np.flatnonzero(is_trade), side, qty, bid_px, ask_px, depths,
                    np.maximum(1, np.round(depth_lots[1:])).astype(np.int64))
    ns = np.round(t * NS).astype(np.int64)
    at, px, lots = prints
    return MarketTape(
        duration_s=minutes * 60.0, tick=market.tick, lot=market.lot,
        regime_by_minute=regimes,
        trade_ns=ns[at], trade_side=side[at], trade_px=px, trade_qty=lots.astype(np.float64),
        quote_ns=np.concatenate(([0], ns)), bid_px=bid_px, bid_qty=depths[0],
        ask_px=ask_px, ask_qty=depths[1], bursts=bursts, jumps=int(jump_t.size))


def _sweep(trades: np.ndarray, side: np.ndarray, qty: np.ndarray, bid_px: np.ndarray,
           ask_px: np.ndarray, depths: list[np.ndarray], deep: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prints of each market order: the best level's depth first, then deeper levels.

    A market order larger than the displayed best level walks the book; every deeper
    level holds the regime's typical depth (``deep``). Returns the event index, price
    (ticks) and lots of each print, in time order (a sweep's prints share its time).
    """
    s = side[trades]
    q = qty[trades]
    touch_px = np.where(s > 0, ask_px[trades], bid_px[trades])  # row k = book before event k
    shown = np.where(s > 0, depths[1][trades], depths[0][trades]).astype(np.int64)
    first = np.minimum(q, np.maximum(shown, 1))
    rest = q - first
    d = deep[trades]
    extra = np.minimum(-(-rest // d), _MAX_SWEEP)
    n = 1 + extra
    owner = np.repeat(np.arange(trades.size), n)
    level = np.arange(owner.size) - np.repeat(np.cumsum(n) - n, n)
    left = rest[owner] - (level - 1) * d[owner]  # what remains for deeper level `level`
    lots = np.where(level == 0, first[owner],
                    np.where(level == n[owner] - 1, left, np.minimum(left, d[owner])))
    return trades[owner], touch_px[owner] + s[owner] * level, lots

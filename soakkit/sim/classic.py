"""The classic synthetic market (the built-in market's generator): an L1 tape of trades
and best quotes.

It generates :data:`soakkit.sim.regimes.DEFAULT_MARKET` and any market whose regimes are
classic :class:`~soakkit.sim.regimes.RegimeSpec` (profiles calibrated before the order-book
generator); :func:`soakkit.sim.market.simulate_market` chooses. Kept unchanged so that the
built-in modes, the notebook goldens and the tuning evidence built on them stay as they were.

Everything is vectorised with numpy (no per-event Python loop) and drawn from the
:class:`numpy.random.Generator` passed in, never from global random state, so the same
seed gives the same tape byte for byte. The tape does not depend on the bot's parameters:
tuned and untuned runs of one seed see the same market.

Model (constants in :mod:`soakkit.sim.regimes`, one :class:`MarketProfile`):

* market orders arrive as a Poisson process whose rate follows the regime of each minute
  (times ``burst_activity`` during informed bursts); notional sizes are lognormal; each
  trades at the best price of its side as the book showed it, and one larger than the
  best level walks the book (every deeper level holds ``deep_depth_usd``, by default
  ``depth_usd``);
* other makers add to and cancel from each side's best level (another Poisson process);
  a level that trades or cancels away is refilled to ``MARKET.refill_ratio`` of its typical
  size at once, and every new best level starts with a fresh lognormal depth;
* order sides are balanced, except during *informed bursts* (and after jumps), when a
  share of orders goes the burst's way;
* the mid follows a diffusion, permanent square-root impact of every market order, and
  jumps; the best quotes sit ``half_spread_bps`` from it (times a lognormal factor redrawn
  every few seconds: spreads breathe), rounded to the nearest tick.
"""

from __future__ import annotations

import numpy as np

from soakkit.sim.instrument import Instrument
from soakkit.sim.regimes import MARKET, MarketProfile, regime_schedule
from soakkit.sim.stats import merge_sorted
from soakkit.sim.tape import NS, MarketTape

__all__ = ["segmented_cummin", "simulate_classic"]


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
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Jumps (times, signed sizes), bursts (starts, lengths) and the burst direction signal.

    Every jump starts a burst in its direction; the direction signal is sampled on a grid
    of ``burst_grid_s`` (+1 buying, -1 selling, 0 none).
    """
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
    np.add.at(direction, np.minimum((starts / step).astype(np.int64), bins), dirs)
    np.add.at(direction, np.minimum(((starts + lengths) / step).astype(np.int64), bins), -dirs)
    return jump_t, jump_bps, starts, lengths, np.sign(np.cumsum(direction))


def _with_bursts(rate_per_s: np.ndarray, boost: np.ndarray, starts: np.ndarray,
                 lengths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson times at the minute's rate, plus ``boost − 1`` times that rate inside bursts."""
    base = _arrival_times(rng.poisson(rate_per_s * 60.0), rng)
    minute = np.minimum((starts // 60).astype(np.int64), rate_per_s.size - 1)
    count = rng.poisson(rate_per_s[minute] * (boost[minute] - 1.0) * lengths)
    extra = np.repeat(starts, count) + rng.random(int(count.sum())) * np.repeat(lengths, count)
    extra = np.sort(extra[extra < rate_per_s.size * 60.0])
    return merge_sorted(base, extra)[0]


def simulate_classic(mode: str, minutes: int, rng: np.random.Generator,
                     market: MarketProfile, start_mid: float | None = None) -> MarketTape:
    """Simulate ``minutes`` minutes of ``market`` in ``mode`` (a regime name or ``mixed``),
    the mid opening at ``start_mid`` (the profile's ``mid0`` when ``None``); USD sizes are
    converted to lots at the opening mid (spreads are relative to the mid already)."""
    if minutes < 1:
        raise ValueError("minutes must be >= 1")
    regimes = regime_schedule(mode, minutes, rng, np.asarray(market.transitions))
    col = market.column
    jump_t, jump_size, starts, lengths, burst_dir = _bursts(market, regimes, rng)
    boost = col("burst_activity")[regimes]
    order_t = _with_bursts(col("order_rate_per_s")[regimes], boost, starts, lengths, rng)
    book_t = _with_bursts(2.0 * col("book_rate_per_s")[regimes], boost, starts, lengths, rng)
    instrument = Instrument(market.tick, market.lot, market.kind, market.contract_size)
    opening = market.mid0 if start_mid is None else start_mid
    usd_per_lot = float(instrument.usd_per_lot(opening))  # USD sizes in lots where it opens
    last = minutes - 1

    # market orders: aggressor side (bursts tilt it) and size
    o_reg = regimes[np.minimum((order_t // 60).astype(np.int64), last)]
    tilt = burst_dir[np.minimum((order_t / MARKET.burst_grid_s).astype(np.int64),
                                burst_dir.size - 1)]
    share = col("burst_side_share")[o_reg]
    p_buy = np.where(tilt > 0, share, np.where(tilt < 0, 1.0 - share, 0.5))
    o_side = np.where(rng.random(order_t.size) < p_buy, 1, -1).astype(np.int8)
    o_qty = np.maximum(1, np.round(col("order_median_usd")[o_reg] / usd_per_lot * np.exp(
        col("order_size_sigma")[o_reg] * rng.standard_normal(order_t.size)))).astype(np.int64)
    # other makers: which side, add or cancel, how much
    b_reg = regimes[np.minimum((book_t // 60).astype(np.int64), last)]
    b_side = np.where(rng.random(book_t.size) < 0.5, 1, -1)
    b_qty = np.maximum(1, np.round(MARKET.book_size_ratio * col("depth_usd")[b_reg]
                                   / usd_per_lot * np.exp(0.8 * rng.standard_normal(
                                       book_t.size)))).astype(np.int64)
    b_signed = np.where(rng.random(book_t.size) < 0.5, b_qty, -b_qty)

    # one merged event stream; quote row k + 1 is the book after event k
    t, at_order = merge_sorted(order_t, book_t)
    n = t.size
    is_trade = np.zeros(n, dtype=bool)
    is_trade[at_order] = True
    at_book = np.flatnonzero(~is_trade)
    reg = np.empty(n, np.int64)
    reg[at_order], reg[at_book] = o_reg, b_reg

    # mid path in log-bps: diffusion and jumps up to each event, then its impact
    shock = col("vol_bps_per_sqrt_s")[reg] * np.sqrt(np.diff(t, prepend=0.0)) * (
        rng.standard_normal(n))
    if n:
        at = np.searchsorted(t, jump_t, side="left")
        inside = at < n
        np.add.at(shock, at[inside], jump_size[inside])
    shock[at_order] += o_side * col("impact_bps_per_10k")[o_reg] * np.sqrt(
        o_qty * (usd_per_lot / 10_000.0))
    mid = opening * np.exp(np.concatenate(([0.0], np.cumsum(shock))) / 1e4)
    # the market's spread breathes: a lognormal factor, redrawn at Poisson epochs
    epochs = np.cumsum(rng.exponential(MARKET.spread_epoch_s,
                                       int(minutes * 60.0 / MARKET.spread_epoch_s * 2) + 16))
    factor = np.exp(MARKET.spread_sigma * rng.standard_normal(epochs.size + 1))
    row_reg = np.concatenate((regimes[:1], reg))
    half = factor[np.searchsorted(epochs, np.concatenate(([0.0], t)), side="right")] * col(
        "half_spread_bps")[row_reg] / 1e4
    bid_px = np.round(mid * (1.0 - half) / market.tick).astype(np.int64)
    ask_px = np.maximum(np.round(mid * (1.0 + half) / market.tick).astype(np.int64), bid_px + 1)

    typical = np.maximum(1, np.round(col("depth_usd") / usd_per_lot)).astype(np.int64)
    refill = np.maximum(1, np.round(MARKET.refill_ratio * typical))[row_reg]
    depths = []
    for px, sign in ((bid_px, 1), (ask_px, -1)):
        flow = np.zeros(n + 1, np.int64)
        flow[at_order + 1] = np.where(o_side == -sign, -o_qty, 0)  # trades take depth
        flow[at_book + 1] = np.where(b_side == sign, b_signed, 0)
        new_level = np.ones(n + 1, dtype=bool)
        new_level[1:] = px[1:] != px[:-1]
        first = np.flatnonzero(new_level)
        flow[first] = np.maximum(1, np.round(typical[row_reg[first]] * np.exp(
            MARKET.depth_sigma * rng.standard_normal(first.size)))).astype(np.int64)
        level = np.cumsum(flow)
        level -= np.repeat((level - flow)[first], np.diff(np.append(first, n + 1)))
        low = segmented_cummin(level - refill, new_level)
        depths.append(np.asarray(level - np.minimum(low, 0), dtype=np.float64))

    trade_row = at_order  # the book a market order meets is row at_order (before it)
    deep_usd = np.where(col("deep_depth_usd") > 0, col("deep_depth_usd"), col("depth_usd"))
    deep = np.maximum(1, np.round(deep_usd / usd_per_lot)).astype(np.int64)
    prints = _sweep(trade_row, o_side, o_qty, bid_px, ask_px, depths, deep[o_reg])
    ns = np.round(t * NS).astype(np.int64)
    k, px, lots = prints
    return MarketTape(
        duration_s=minutes * 60.0, tick=market.tick, lot=market.lot,
        regime_by_minute=regimes,
        trade_ns=ns[at_order][k], trade_side=o_side[k], trade_px=px,
        trade_qty=lots.astype(np.float64),
        quote_ns=np.concatenate(([0], ns)), bid_px=bid_px, bid_qty=depths[0],
        ask_px=ask_px, ask_qty=depths[1], bursts=int(starts.size), jumps=int(jump_t.size),
        kind=market.kind, contract_size=market.contract_size, latency=market.latency)


def _sweep(rows: np.ndarray, side: np.ndarray, qty: np.ndarray, bid_px: np.ndarray,
           ask_px: np.ndarray, depths: list[np.ndarray], deep: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prints of each market order: the best level's depth first, then deeper levels.

    A market order larger than the displayed best level walks the book; every deeper
    level holds the regime's typical depth (``deep``). ``rows`` is the quote row each
    order meets. Returns the order index, price (ticks) and lots of each print, in time
    order (a sweep's prints share its time).
    """
    touch_px = np.where(side > 0, ask_px[rows], bid_px[rows])
    shown = np.where(side > 0, depths[1][rows], depths[0][rows]).astype(np.int64)
    first = np.minimum(qty, np.maximum(shown, 1))
    rest = qty - first
    extra = np.minimum(-(-rest // deep), MARKET.max_sweep_levels)
    if not extra.any():
        return np.arange(qty.size), touch_px, first
    n = 1 + extra
    owner = np.repeat(np.arange(qty.size), n)
    level = np.arange(owner.size) - np.repeat(np.cumsum(n) - n, n)
    left = rest[owner] - (level - 1) * deep[owner]  # what remains for deeper level `level`
    lots = np.where(level == 0, first[owner],
                    np.where(level == n[owner] - 1, left, np.minimum(left, deep[owner])))
    return owner, touch_px[owner] + side[owner].astype(np.int64) * level, lots

"""Seeded, event-level synthetic market: an L1 tape of trades and best quotes.

Two generators: the built-in market (classic :class:`~soakkit.sim.regimes.RegimeSpec`
regimes) keeps the classic one (:mod:`soakkit.sim.classic`: Poisson orders, a diffusing
mid, bursts); a calibrated market (:class:`~soakkit.sim.bookspec.BookSpec` regimes, what
``soakkit calibrate`` writes) is generated as an order book, described below.

Everything is drawn from the :class:`numpy.random.Generator` passed in, never from global
random state, so the same seed gives the same tape byte for byte. The tape does not depend
on the bot's parameters: tuned and untuned runs of one seed see the same market.

The parts (constants in :mod:`soakkit.sim.regimes`, one :class:`MarketProfile`):

* **order flow** (:mod:`soakkit.sim.flow`): taker orders in metaorders (persistent signs,
  clustered arrivals), heavy-tailed sizes (:mod:`soakkit.sim.sizes`); other makers' adds,
  cancels, improvements and fades;
* **the book** (:mod:`soakkit.sim.lob`): each side's best level holds what makers added and
  takers left; a price moves only when its level runs out, by a gap to the next level, and
  a widened spread closes at the next improvement, mostly by the other side following;
* **prints** (:mod:`soakkit.sim.prints`): a taker order prints once per resting maker order
  it meets, at one timestamp, walking the book level by level when it is larger than the
  best;
* **jumps**: a jump shifts the book and starts a metaorder its way; every minute starts by
  re-centring the book on its regime's spread (a regime change is a jump of 0).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from soakkit.sim import flow, lob
from soakkit.sim.bookdepth import book_depth, conflated
from soakkit.sim.classic import simulate_classic
from soakkit.sim.depth import MAX_CONFLATE_MS, MAX_LEVELS
from soakkit.sim.flow import maker_flow, poisson_times, taker_flow
from soakkit.sim.instrument import Instrument
from soakkit.sim.lob import JUMP, TAKER, BookInputs, run_book
from soakkit.sim.prints import split_prints
from soakkit.sim.regimes import DEFAULT_MARKET, MarketProfile, regime_schedule
from soakkit.sim.sizes import MAX_TAIL, SizeLaw, ndtri
from soakkit.sim.tape import NS, MarketTape

__all__ = ["MarketTape", "simulate_market", "size_laws"]

def size_laws(market: MarketProfile) -> list[SizeLaw]:
    """Each regime's taker order size law (USD), in :data:`REGIME_NAMES` order (an
    order-book market)."""
    col = market.column
    return [SizeLaw(*args) for args in zip(
        col("order_median_usd").tolist(), col("order_size_sigma").tolist(),
        col("order_sigma_hi").tolist(), col("order_tail_alpha").tolist(), strict=True)]


def _jumps(market: MarketProfile, regimes: np.ndarray, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Jump times (s), directions and sizes (bps, signed)."""
    col = market.column
    t = poisson_times(col("jump_rate_per_min")[regimes] / 60.0, rng)
    minute = np.minimum((t // 60).astype(np.int64), regimes.size - 1)
    direction = np.where(rng.random(t.size) < 0.5, -1, 1).astype(np.int8)
    size = direction * rng.exponential(1.0, t.size) * col("jump_bps")[regimes[minute]]
    return t, direction, size


def _law_draw(market: MarketProfile, law: str, reg: np.ndarray, rng: np.random.Generator
              ) -> np.ndarray:
    """Depths (USD) of the regimes ``reg`` from the ``depth`` (improving level), ``deep``
    (level revealed when the best goes) or ``walk`` (level a sweep walks through) law."""
    col = market.column
    median = col("depth_usd" if law == "depth" else f"{law}_depth_usd")[reg]
    lo, hi = col(f"{law}_sigma_lo")[reg], col(f"{law}_sigma_hi")[reg]
    z = ndtri(rng.random(reg.size) * (1.0 - 2 * MAX_TAIL) + MAX_TAIL)
    return np.asarray(median * np.exp(np.where(z < 0, lo, hi) * z))


def _gaps(mean_ticks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ticks to the next level: exponential of the given mean, at least one tick."""
    return np.asarray(np.maximum(1, np.round(rng.exponential(1.0, mean_ticks.size)
                                             * mean_ticks)), dtype=np.int64)


def simulate_market(mode: str, minutes: int, rng: np.random.Generator,
                    market: MarketProfile = DEFAULT_MARKET,
                    start_mid: float | None = None, levels: int = 0,
                    conflate_ms: int = 0) -> MarketTape:
    """Simulate ``minutes`` minutes of ``market`` in ``mode`` (a regime name or ``mixed``).

    ``start_mid``: where the mid opens (the previous iteration's closing mid, so a run's
    market is one continuous path); the profile's ``mid0`` when ``None``. Sizes stay in
    the profile's USD terms and spreads, gaps and jumps in its bps: both are converted to
    lots and ticks at the opening mid, not at ``mid0``.

    ``levels``: with ``N`` in 1..:data:`~soakkit.sim.depth.MAX_LEVELS`, an order-book
    market also writes its depth, the ``N`` best levels of each side after every quote row
    (:mod:`soakkit.sim.bookdepth`), drawn after everything else, so the trades and quotes
    are those of the same seed without depth; 0 (the default): an L1 tape. ``conflate_ms``
    (1..:data:`~soakkit.sim.depth.MAX_CONFLATE_MS`): at most one depth row per that many
    milliseconds, the book at the last quote row of each, as venues conflate their depth
    streams; 0: a depth row with every quote row.
    """
    if minutes < 1:
        raise ValueError("minutes must be >= 1")
    if not 0 <= levels <= MAX_LEVELS:
        raise ValueError(f"levels must be 0..{MAX_LEVELS}")
    if not 0 <= conflate_ms <= MAX_CONFLATE_MS:
        raise ValueError(f"conflate_ms must be 0..{MAX_CONFLATE_MS}")
    if levels and not market.order_book:
        raise ValueError(f"market {market.name!r} is not an order book: it has no depth "
                         "to write (a calibrated market has)")
    if not market.order_book:
        return simulate_classic(mode, minutes, rng, market, start_mid)
    regimes = regime_schedule(mode, minutes, rng, np.asarray(market.transitions), market.seen)
    col = market.column
    inst = Instrument(market.tick, market.lot, market.kind, market.contract_size)
    opening = market.mid0 if start_mid is None else start_mid
    # USD sizes and bps converted at the window's opening price, where it trades
    usd_per_lot = float(inst.usd_per_lot(opening))
    bps_ticks = opening * 1e-4 / market.tick  # ticks per bp at the opening price

    def lots(usd: np.ndarray) -> np.ndarray:
        return np.asarray(np.maximum(1, np.round(usd / usd_per_lot)), dtype=np.int64)

    jump_t, jump_dir, jump_bps = _jumps(market, regimes, rng)
    takers = taker_flow(regimes, col, size_laws(market), rng, jump_t, jump_dir)
    makers = maker_flow(regimes, col, rng)
    t_min = np.minimum((takers.t // 60).astype(np.int64), minutes - 1)
    pulled = rng.random(takers.t.size) < col("trade_fade_share")[regimes[t_min]]
    starts = np.arange(minutes, dtype=np.float64) * 60.0  # re-centre on each minute's regime
    t = np.concatenate((takers.t, takers.t[pulled], makers.t, jump_t, starts[1:]))
    m_kind = np.select([makers.kind == flow.ADD, makers.kind == flow.CANCEL,
                        makers.kind == flow.IMPROVE, makers.kind == flow.FADE],
                       [lob.ADD_MSG, lob.CANCEL_MSG, lob.IMPROVE, lob.FADE]).astype(np.int8)
    kind = np.concatenate((np.full(takers.t.size, TAKER, np.int8),
                           np.full(int(pulled.sum()), lob.FADE, np.int8), m_kind,
                           np.full(jump_t.size + minutes - 1, JUMP, np.int8)))
    side = np.concatenate((takers.side, -takers.side[pulled], makers.side, jump_dir,
                           np.ones(minutes - 1, np.int8)))
    m_lots = np.where(makers.kind == flow.ADD, lots(makers.usd), 0)
    size = np.concatenate((lots(takers.usd), np.zeros(int(pulled.sum()), np.int64),
                           m_lots.astype(np.int64),
                           np.round(jump_bps * bps_ticks).astype(np.int64),
                           np.zeros(minutes - 1, np.int64)))
    keep = np.concatenate((np.zeros(takers.t.size + int(pulled.sum())), makers.keep,
                           np.zeros(jump_t.size + minutes - 1)))
    order = np.argsort(t, kind="stable")
    t, kind, side, size, keep = t[order], kind[order], side[order], size[order], keep[order]
    n = t.size + 1  # index 0: the opening book
    ev_min = np.minimum((t // 60).astype(np.int64), minutes - 1)
    reg = np.concatenate((regimes[:1], regimes[ev_min]))

    base = np.maximum(1, np.round(2.0 * col("half_spread_bps") * bps_ticks)).astype(np.int64)
    gap_ticks = _gaps(col("gap_bps")[reg] * bps_ticks, rng)
    revealed = np.stack([lots(_law_draw(market, "deep", reg, rng)) for _ in range(2)], axis=1)
    fresh = np.stack([lots(_law_draw(market, "depth", reg, rng)) for _ in range(2)], axis=1)
    follow = rng.random(n) < col("follow_share")[reg]
    walks = max(64, int((kind == TAKER).sum() // 4))
    walk_reg = regimes[rng.integers(0, minutes, walks)]
    walk_depth = lots(_law_draw(market, "walk", walk_reg, rng))
    walk_gap = _gaps(col("walk_gap_bps")[walk_reg] * bps_ticks, rng)
    mid_ticks = opening / market.tick
    book = run_book(BookInputs(
        kind=np.concatenate(([JUMP], kind)).astype(np.int8),
        side=np.concatenate(([1], side)).astype(np.int8),
        lots=np.concatenate(([0], size)), keep=np.concatenate(([0.0], keep)),
        base=base[reg], gap=gap_ticks,
        revealed=revealed, fresh=fresh, follow=follow,
        walk_depth=walk_depth.tolist(), walk_gap=walk_gap.tolist(),
        walk_growth=col("walk_growth")[reg],
        bid0=int(np.floor(mid_ticks - base[regimes[0]] / 2.0))))

    # prints: each taker order against the maker conveyor of the side it takes from
    taker_at = np.flatnonzero(kind == TAKER) + 1  # index of each taker event
    o_side = side[taker_at - 1].astype(np.int64)
    o_lots = size[taker_at - 1]
    touch = np.where(o_side > 0, book.ask_px[taker_at - 1], book.bid_px[taker_at - 1])
    owner, px, qty = [np.arange(taker_at.size)], [touch], [o_lots]
    swept = np.isin(taker_at, np.fromiter(book.sweeps, dtype=np.int64, count=len(book.sweeps)))
    if swept.any():
        keep = ~swept
        owner, px, qty = [owner[0][keep]], [touch[keep]], [o_lots[keep]]
        for o in np.flatnonzero(swept).tolist():
            walked = book.sweeps[int(taker_at[o])]
            owner.append(np.full(len(walked), o))
            px.append(np.array([p for p, _ in walked], dtype=np.int64))
            qty.append(np.array([q for _, q in walked], dtype=np.int64))
    level_owner = np.concatenate(owner)
    by_order = np.argsort(level_owner, kind="stable")
    maker_law_reg = reg[taker_at]
    maker_median = float(np.median(col("maker_median_usd")[maker_law_reg])) if \
        taker_at.size else 1.0
    maker_sigma = float(np.median(col("maker_size_sigma")[maker_law_reg])) if \
        taker_at.size else 1.0
    prints = split_prints(o_side, level_owner[by_order], np.concatenate(px)[by_order],
                          np.concatenate(qty)[by_order],
                          lambda k: lots(maker_median * np.exp(
                              maker_sigma * rng.standard_normal(k))))
    keep_px = prints.lots > 0
    ns = np.concatenate(([0], np.round(t * NS).astype(np.int64)))
    changed = np.ones(n, dtype=bool)  # rows that change nothing are no message
    changed[1:] = ((book.bid_px[1:] != book.bid_px[:-1]) | (book.ask_px[1:] != book.ask_px[:-1])
                   | (book.bid_qty[1:] != book.bid_qty[:-1])
                   | (book.ask_qty[1:] != book.ask_qty[:-1]))
    depth = None
    if levels:
        depth = book_depth(
            book, np.concatenate(([JUMP], kind)), reg,
            conflated(np.flatnonzero(changed), ns, conflate_ms), ns, levels,
            col("walk_growth"), lambda r: lots(_law_draw(market, "walk", r, rng)),
            lambda r: _gaps(col("walk_gap_bps")[r] * bps_ticks, rng))
    return MarketTape(
        duration_s=minutes * 60.0, tick=market.tick, lot=market.lot,
        regime_by_minute=regimes,
        trade_ns=ns[taker_at][prints.order[keep_px]],
        trade_side=o_side[prints.order[keep_px]].astype(np.int8),
        trade_px=prints.price[keep_px], trade_qty=prints.lots[keep_px].astype(np.float64),
        quote_ns=ns[changed], bid_px=book.bid_px[changed],
        bid_qty=book.bid_qty[changed].astype(np.float64), ask_px=book.ask_px[changed],
        ask_qty=book.ask_qty[changed].astype(np.float64),
        bursts=int(takers.meta.max(initial=-1) + 1), jumps=int(jump_t.size),
        kind=market.kind, contract_size=market.contract_size,
        latency=replace(market.latency, keyed=True),  # latency draws keyed by event
        depth=depth)

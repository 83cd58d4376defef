"""The order-book market's regime constants (:func:`soakkit.sim.market.simulate_market`).

A market whose regimes are :class:`BookSpec` is generated as an order book: taker orders in
metaorders with heavy-tailed sizes that print once per resting maker order they meet,
best levels that hold what makers added and takers left, prices that move when a level
runs out (:mod:`soakkit.sim.flow`, :mod:`soakkit.sim.lob`, :mod:`soakkit.sim.prints`).
``soakkit calibrate`` fits one per regime to a tape. The built-in market
(:data:`soakkit.sim.regimes.DEFAULT_MARKET`) keeps the classic generator
(:mod:`soakkit.sim.classic`) so that its runs, the notebook goldens and the tuning
evidence built on them stay as they were; :data:`BOOK_REGIMES` are the order-book
generator's own defaults (the ratios a calibration uses to derive a regime a tape never
showed, and a built-in order-book market for tests and comparisons).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["BOOK_REGIMES", "BookSpec"]


@dataclass(frozen=True)
class BookSpec:
    """Market behaviour in one regime (what ``soakkit calibrate`` fits to a tape).

    Sizes are notionals in USD at the opening price; each size law is a split lognormal
    with an optional Pareto tail (:class:`soakkit.sim.sizes.SizeLaw`).
    """

    order_rate_per_s: float  #: taker orders per second (metaorder children)
    order_median_usd: float  #: taker order notional: median
    order_size_sigma: float  #: ... lognormal sigma below the median
    order_sigma_hi: float  #: ... lognormal sigma above it (to the 95th percentile)
    order_tail_alpha: float  #: ... Pareto index beyond the 95th percentile (0: none)
    meta_len_alpha: float  #: metaorder length tail: P(L >= l) = l^-alpha
    meta_gap_s: float  #: mean time between a metaorder's child orders
    maker_median_usd: float  #: resting maker order (one print each): median notional
    maker_size_sigma: float  #: ... lognormal sigma
    half_spread_bps: float  #: half the usual spread (the book's spread between moves)
    depth_usd: float  #: depth of a level that improves the spread: median
    depth_sigma_lo: float  #: ... lognormal sigma below the median
    depth_sigma_hi: float  #: ... and above it
    deep_depth_usd: float  #: depth of a level behind the best (revealed when the best goes)
    deep_sigma_lo: float  #: ... lognormal sigma below the median
    deep_sigma_hi: float  #: ... and above it
    book_rate_per_s: float  #: other makers' adds and cancels at each side's best, per s
    cancel_share: float  #: share of those that are cancels
    add_median_usd: float  #: an add's size: median
    add_sigma_lo: float  #: ... lognormal sigma below the median
    add_sigma_hi: float  #: ... and above it
    cancel_frac_median: float  #: share of the level a cancel takes: median
    cancel_frac_sigma_lo: float  #: ... lognormal sigma of -log(1 - share) below its median
    cancel_frac_sigma_hi: float  #: ... and above it
    gap_bps: float  #: mean distance to the level revealed when the best goes (exponential)
    walk_depth_usd: float  #: depth of the first level a sweeping taker order walks: median
    walk_sigma_lo: float  #: ... lognormal sigma below the median
    walk_sigma_hi: float  #: ... and above it
    walk_gap_bps: float  #: mean distance between the levels a sweep walks (exponential)
    fade_rate_per_s: float  #: whole best levels pulled per second and side
    trade_fade_share: float  #: share of taker orders after which their level is pulled
    improve_rate_per_s: float  #: improvements per second that close a widened spread
    follow_share: float  #: share of closing improvements that follow the move
    jump_rate_per_min: float  #: price jumps per minute (each starts a metaorder its way)
    jump_bps: float  #: mean absolute jump size (exponential)
    walk_growth: float = 0.0  #: the k-th level a sweep walks holds walk depth × k^this


#: The order-book generator's regimes, by name, at the built-in market's scale (a liquid
#: mid-cap perpetual: spreads of a few bps, best levels of a few thousand USD, tens of orders
#: per second); the shapes (metaorders, heavy-tailed sizes, levels that go when their queue
#: runs out) are those ``soakkit calibrate`` finds on real captures, which replaces them all
#: with constants fitted to the user's own tape.
BOOK_REGIMES: Mapping[str, BookSpec] = {
    "calm": BookSpec(
        order_rate_per_s=20.0, order_median_usd=400.0, order_size_sigma=0.9, order_sigma_hi=0.9,
        order_tail_alpha=2.5, meta_len_alpha=1.6, meta_gap_s=0.3, maker_median_usd=300.0,
        maker_size_sigma=1.0, half_spread_bps=3.0, depth_usd=6_000.0, depth_sigma_lo=0.5,
        depth_sigma_hi=0.5, deep_depth_usd=6_000.0, deep_sigma_lo=0.5, deep_sigma_hi=0.5,
        book_rate_per_s=12.0, cancel_share=0.45, add_median_usd=1_800.0, add_sigma_lo=0.8,
        add_sigma_hi=0.8, cancel_frac_median=0.1, cancel_frac_sigma_lo=1.0,
        cancel_frac_sigma_hi=1.0, gap_bps=1.0, walk_depth_usd=6_000.0, walk_sigma_lo=0.5,
        walk_sigma_hi=0.5, walk_gap_bps=1.0, fade_rate_per_s=0.3, trade_fade_share=0.05,
        improve_rate_per_s=5.0, follow_share=0.7, jump_rate_per_min=0.0, jump_bps=0.0),
    "volatile": BookSpec(
        order_rate_per_s=35.0, order_median_usd=500.0, order_size_sigma=1.0, order_sigma_hi=1.0,
        order_tail_alpha=2.2, meta_len_alpha=1.5, meta_gap_s=0.2, maker_median_usd=350.0,
        maker_size_sigma=1.0, half_spread_bps=3.5, depth_usd=5_000.0, depth_sigma_lo=0.5,
        depth_sigma_hi=0.5, deep_depth_usd=5_000.0, deep_sigma_lo=0.5, deep_sigma_hi=0.5,
        book_rate_per_s=20.0, cancel_share=0.47, add_median_usd=1_500.0, add_sigma_lo=0.8,
        add_sigma_hi=0.8, cancel_frac_median=0.1, cancel_frac_sigma_lo=1.0,
        cancel_frac_sigma_hi=1.0, gap_bps=1.2, walk_depth_usd=5_000.0, walk_sigma_lo=0.5,
        walk_sigma_hi=0.5, walk_gap_bps=1.2, fade_rate_per_s=0.8, trade_fade_share=0.08,
        improve_rate_per_s=5.0, follow_share=0.75, jump_rate_per_min=0.2, jump_bps=8.0),
    "spike": BookSpec(
        order_rate_per_s=45.0, order_median_usd=600.0, order_size_sigma=1.1, order_sigma_hi=1.1,
        order_tail_alpha=2.0, meta_len_alpha=1.4, meta_gap_s=0.15, maker_median_usd=400.0,
        maker_size_sigma=1.0, half_spread_bps=4.5, depth_usd=4_000.0, depth_sigma_lo=0.5,
        depth_sigma_hi=0.5, deep_depth_usd=4_000.0, deep_sigma_lo=0.5, deep_sigma_hi=0.5,
        book_rate_per_s=30.0, cancel_share=0.5, add_median_usd=1_200.0, add_sigma_lo=0.8,
        add_sigma_hi=0.8, cancel_frac_median=0.1, cancel_frac_sigma_lo=1.0,
        cancel_frac_sigma_hi=1.0, gap_bps=1.5, walk_depth_usd=4_000.0, walk_sigma_lo=0.5,
        walk_sigma_hi=0.5, walk_gap_bps=1.5, fade_rate_per_s=1.5, trade_fade_share=0.12,
        improve_rate_per_s=4.0, follow_share=0.8, jump_rate_per_min=1.5, jump_bps=20.0),
}

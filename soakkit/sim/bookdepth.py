"""The order-book market's depth rows: the levels behind its best, for an L2 tape.

The generator (:mod:`soakkit.sim.lob`) holds each side's best level and, when it runs
out, the level that shows next: ``gap`` ticks further with the revealed depth, or the
levels a sweeping taker order walks (each holding k^``walk_growth`` times a walk-depth
draw). A depth row writes what the book holds after every quote row, the ``N`` best
levels of each side:

* **level 0** is the quote row's best level (its price and quantity, the same row time);
* **the levels behind it** stay as they are while the side's best price stays (the
  generator has no events behind the best), and are set again each time it moves: the
  first of them are the levels the next move away from the spread shows — the level
  revealed when the best is taken or faded, at its price and with the quantity it has when
  it shows, or every level a sweep walks, with what the sweep takes there — so an order
  resting behind the best meets the queue the market will show; the rest, and every level
  when the side's next move is an improvement, a jump or the end of the tape, are drawn
  from the walk laws (gaps of the regime's ``walk_gap_bps``, the k-th level holding
  k^``walk_growth`` times a ``walk_depth_usd`` draw), as a sweep would find them.

Rows are those of the quotes (one depth row per quote row, at the same time), so depth
updates = quote updates; or, conflated (:func:`conflated`), the last quote row of each
stretch of ``conflate_ms`` milliseconds that has one, as venues send their depth streams
(Binance's USDⓈ-M depth diffs in the development capture: about one every 50 ms, while
the book ticker sends every change). Bids whose price would reach 0 are left empty.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from soakkit.sim.depth import DepthBook
from soakkit.sim.lob import FADE, TAKER, Book

__all__ = ["book_depth", "conflated"]

#: draws for regimes ``reg`` (one per entry): walk-level depths (lots) or gaps (ticks)
Draw = Callable[[np.ndarray], np.ndarray]


def conflated(rows: np.ndarray, ns: np.ndarray, conflate_ms: int) -> np.ndarray:
    """Of the quote rows ``rows`` (indices into ``ns``), the first (the opening book) and
    the last of each ``conflate_ms`` milliseconds that has one (all of them when 0)."""
    if conflate_ms <= 0 or rows.size == 0:
        return rows
    bucket = ns[rows] // (conflate_ms * 1_000_000)
    last = np.append(bucket[1:] != bucket[:-1], True)
    last[0] = True  # the opening book
    return np.asarray(rows[last])


def book_depth(book: Book, kind: np.ndarray, reg: np.ndarray, rows: np.ndarray,
               ns: np.ndarray, levels: int, growth: np.ndarray, walk_depth: Draw,
               walk_gap: Draw) -> DepthBook:
    """The depth rows of ``book`` at the indices ``rows`` (the quote rows; module doc).

    ``kind`` and ``reg``: each index's event kind and regime (index 0 the opening);
    ``ns``: each index's time; ``growth``: ``walk_growth`` per regime; ``walk_depth`` and
    ``walk_gap`` draw the filler levels (called bids first, then asks).
    """
    sides = [_side(s, px, qty, book.sweeps, kind, reg, rows, levels, growth, walk_depth,
                   walk_gap)
             for s, px, qty in ((1, book.bid_px, book.bid_qty),
                                (-1, book.ask_px, book.ask_qty))]
    return DepthBook(np.asarray(ns[rows], dtype=np.int64), sides[0][0], sides[0][1],
                     sides[1][0], sides[1][1])


def _side(s: int, px: np.ndarray, qty: np.ndarray, sweeps: dict[int, list[tuple[int, int]]],
          kind: np.ndarray, reg: np.ndarray, rows: np.ndarray, levels: int,
          growth: np.ndarray, walk_depth: Draw, walk_gap: Draw
          ) -> tuple[np.ndarray, np.ndarray]:
    """One side's (rows, levels) prices (ticks) and quantities (lots)."""
    starts = np.concatenate(([0], np.flatnonzero(px[1:] != px[:-1]) + 1))
    behind = levels - 1
    seg_reg = np.repeat(reg[starts], behind)
    gap = walk_gap(seg_reg).reshape(starts.size, behind).astype(np.int64)
    depth = walk_depth(seg_reg).reshape(starts.size, behind).astype(np.float64)
    k = np.arange(1, behind + 1, dtype=np.float64)
    depth = np.maximum(1.0, np.round(depth * k[None, :] ** growth[reg[starts]][:, None]))
    # the levels the next move away shows (its end e: where the next segment starts)
    ends = starts[1:]
    away = (s * (px[ends] - px[ends - 1]) < 0) & np.isin(kind[ends], (TAKER, FADE))
    if behind:
        for j in np.flatnonzero(away).tolist():
            e = int(ends[j])
            new = int(px[e])
            walked = sweeps.get(e, [])[1:]
            known = [(p, float(d)) for p, d in walked if p != new]
            known.append((new, float(qty[e]) + sum(d for p, d in walked if p == new)))
            known = known[:behind]
            offsets = [s * (int(px[starts[j]]) - p) for p, _ in known]
            gap[j, :len(known)] = np.diff(offsets, prepend=0)
            depth[j, :len(known)] = [d for _, d in known]
    seg = np.searchsorted(starts, rows, side="right") - 1
    prices = np.empty((rows.size, levels), np.int64)
    sizes = np.empty((rows.size, levels), np.float64)
    prices[:, 0], sizes[:, 0] = px[rows], qty[rows]
    prices[:, 1:] = px[starts[seg]][:, None] - s * np.cumsum(gap, axis=1)[seg]
    sizes[:, 1:] = depth[seg]
    gone = prices <= 0
    prices[gone], sizes[gone] = 0, 0.0
    return prices, sizes

"""L2 depth: the top N levels of both sides of the book after every depth update.

An L2 tape (``depth.parquet`` beside the L1 tables, ``docs/SIMULATOR.md``, "L2 depth")
carries, per depth update, the ``N`` best price levels of each side with their displayed
quantities. The L1 quote rows stay the authority on the best level (they come from the
venue's book-ticker stream, updated on every change); the depth rows tell what is queued
*behind* it, which an L1 tape cannot: the queue ahead of an order resting behind the best
level, and how that level changes while the order waits.

What a row knows: every price at or better than its worst displayed level (absent there
means empty). A row with fewer than ``N`` levels shows the whole side. Beyond the worst
displayed level nothing is known (NaN). Prices are integer ticks, quantities float lots;
bids are stored descending, asks ascending, a missing level has quantity 0. Functions
that work on one side take *bid-like* prices: bids as they are, asks negated (so "better"
is "greater" on both sides, as in :mod:`soakkit.sim.matching`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["MAX_CONFLATE_MS", "MAX_LEVELS", "DepthBook", "LevelEvents"]

MAX_LEVELS = 100  #: the most levels per side a tape may carry
MAX_CONFLATE_MS = 60_000  #: the longest a generated depth stream waits between rows (ms)


@dataclass(frozen=True)
class LevelEvents:
    """Changes of the displayed quantity at one side's price levels, in time order."""

    ns: np.ndarray  #: int64
    px: np.ndarray  #: int64 bid-like ticks
    qty: np.ndarray  #: float64 lots after the change (0: the level emptied)
    fresh: np.ndarray  #: bool: the level was not known in the row before (came into view)


@dataclass(frozen=True)
class _SideIndex:
    keys: np.ndarray  #: row * span - bid-like price of every present level (ascending)
    qty: np.ndarray  #: its quantity
    span: int
    lo: int
    hi: int
    worst: np.ndarray  #: per row: worst displayed bid-like price, or a very low number


_NONE = np.iinfo(np.int64).min // 4


@dataclass(frozen=True)
class DepthBook:
    """The top ``levels`` price levels of each side after every depth update (see module doc).

    A :meth:`window` of a book shares the whole book's lookups and level events (computed
    once per tape, then sliced), so replaying many windows costs one pass over the depth.
    """

    ns: np.ndarray  #: int64 row times, sorted
    bid_px: np.ndarray  #: int64 (rows, levels) ticks, best first
    bid_qty: np.ndarray  #: float64 (rows, levels) lots, 0 where no level
    ask_px: np.ndarray
    ask_qty: np.ndarray
    local_ns: np.ndarray | None = None  #: when each row was received (same clock as ns)
    base: DepthBook | None = None  #: the whole book this is a window of
    row0: int = 0  #: the base row of this window's first row
    origin_ns: int = 0  #: the base time this window's times count from
    end_ns: int = 0  #: the window's end, on the base's clock

    @property
    def rows(self) -> int:
        return int(self.ns.size)

    @property
    def levels(self) -> int:
        return int(self.bid_px.shape[1])

    def row_at(self, ns: np.ndarray) -> np.ndarray:
        """Index of the row in force at each time (-1 before the first row)."""
        return np.asarray(np.searchsorted(self.ns, ns, side="right") - 1)

    def window(self, start: int, end: int) -> DepthBook:
        """Rows of ``[start, end)`` with times from ``start``; the row in force at ``start``
        opens the window at time 0 (there is none when the depth starts later). A window of
        a window is the base's window at those times (a trial's window of an iteration)."""
        if self.base is not None:
            return self.base.window(self.origin_ns + start, self.origin_ns + end)
        r0 = max(int(np.searchsorted(self.ns, start, side="right")) - 1, 0)
        r1 = int(np.searchsorted(self.ns, end, side="left"))
        rows = slice(r0, max(r1, r0))
        ns = self.ns[rows] - start
        if ns.size:
            ns[0] = max(int(ns[0]), 0)
        local = None if self.local_ns is None else np.maximum(self.local_ns[rows] - start, ns)
        return DepthBook(ns, self.bid_px[rows], self.bid_qty[rows], self.ask_px[rows],
                         self.ask_qty[rows], local, self, r0, start, end)

    def side(self, side: int) -> tuple[np.ndarray, np.ndarray]:
        """Bid-like prices and quantities of ``side`` (+1 bids, -1 asks)."""
        if side > 0:
            return self.bid_px, self.bid_qty
        return -self.ask_px, self.ask_qty

    @cached_property
    def _bids(self) -> _SideIndex:
        return self._index(1)

    @cached_property
    def _asks(self) -> _SideIndex:
        return self._index(-1)

    def _index(self, side: int) -> _SideIndex:
        px, qty = self.side(side)
        present = qty > 0
        if not present.any():
            empty = np.zeros(0, np.int64)
            return _SideIndex(empty, np.zeros(0), 1, 0, 0, np.full(self.rows, _NONE))
        lo, hi = int(px[present].min()), int(px[present].max())
        span = hi - lo + 3
        row = np.broadcast_to(np.arange(self.rows, dtype=np.int64)[:, None], px.shape)
        keys = row[present] * span - px[present]
        full = present[:, -1]
        worst = np.where(full, px[:, -1], _NONE)
        return _SideIndex(keys, qty[present], span, lo, hi, np.asarray(worst, np.int64))

    def level_qty(self, side: int, rows: np.ndarray, px: np.ndarray) -> np.ndarray:
        """Displayed lots at bid-like ``px`` in ``rows``: 0 where known empty, NaN where the
        row cannot tell (beyond its worst displayed level, or no row yet: ``rows`` < 0)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.base is not None:
            return self.base.level_qty(side, np.where(rows >= 0, rows + self.row0, -1), px)
        ix = self._bids if side > 0 else self._asks
        px = np.asarray(px, dtype=np.int64)
        safe = np.maximum(rows, 0)
        probe = safe * ix.span - np.clip(px, ix.lo - 1, ix.hi + 1)
        at = np.searchsorted(ix.keys, probe)
        found = at < ix.keys.size
        found[found] = ix.keys[at[found]] == probe[found]
        out = np.where(found, ix.qty[np.minimum(at, max(ix.qty.size - 1, 0))]
                       if ix.qty.size else 0.0, 0.0)
        known = (rows >= 0) & (px >= ix.worst[safe]) if self.rows else np.zeros(rows.size, bool)
        return np.asarray(np.where(known, out, np.nan), dtype=np.float64)

    @cached_property
    def _events(self) -> tuple[LevelEvents, LevelEvents]:
        return self._changes(1), self._changes(-1)

    def level_events(self, side: int) -> LevelEvents:
        """Every change of a known level's quantity from one row to the next (row 0, the
        book as the data opens, is the starting state, not an event)."""
        if self.base is None:
            return self._events[0 if side > 0 else 1]
        whole = self.base.level_events(side)
        lo, hi = np.searchsorted(whole.ns, [self.origin_ns, self.end_ns], side="right")
        hi = np.searchsorted(whole.ns, self.end_ns, side="left")
        return LevelEvents(whole.ns[lo:hi] - self.origin_ns, whole.px[lo:hi], whole.qty[lo:hi],
                           whole.fresh[lo:hi])

    def _changes(self, side: int) -> LevelEvents:
        px, qty = self.side(side)
        if self.rows < 2:
            z = np.zeros(0, np.int64)
            return LevelEvents(z, z, np.zeros(0), np.zeros(0, bool))
        present = qty > 0
        # rows showing the prices of the row before (often most of them): a level's change
        # is its quantity's, level by level, with no lookup; they come in (row, best
        # first) order, which is the events' order
        same = (px[1:] == px[:-1]).all(axis=1) & (present[1:] == present[:-1]).all(axis=1)
        f_mask = same[:, None] & present[1:] & (qty[1:] != qty[:-1])
        f_row, f_col = np.nonzero(f_mask)
        f_row += 1
        # the other rows k, against row k - 1: the levels shown in row k, and those shown
        # in row k - 1 but not in row k (emptied: 0, or out of view: NaN)
        k = np.flatnonzero(~same) + 1
        a_row, a_col = np.nonzero(present[k])
        a_row, a_px = k[a_row], px[k[a_row], a_col]
        a_new, a_old = qty[a_row, a_col], self.level_qty(side, a_row - 1, a_px)
        b_row, b_col = np.nonzero(present[k - 1])
        b_row = k[b_row]
        b_px, b_old = px[b_row - 1, b_col], qty[b_row - 1, b_col]
        b_new = self.level_qty(side, b_row, b_px)
        gone = ~(b_new > 0)
        rows = np.concatenate((a_row, b_row[gone]))
        prices = np.concatenate((a_px, b_px[gone]))
        new = np.concatenate((a_new, b_new[gone]))
        old = np.concatenate((a_old, b_old[gone]))
        keep = ~np.isnan(new) & (np.isnan(old) | (old != new))
        order = np.lexsort((-prices[keep], rows[keep]))
        rows, prices = rows[keep][order], prices[keep][order]
        new, fresh = new[keep][order], np.isnan(old[keep][order])
        # the two sets of rows are apart: placed by row
        n_fast = f_row.size
        at_fast = np.searchsorted(rows, f_row) + np.arange(n_fast)
        at_slow = np.searchsorted(f_row, rows) + np.arange(rows.size)
        total = n_fast + rows.size
        out_row = np.empty(total, np.int64)
        out_px = np.empty(total, np.int64)
        out_qty = np.empty(total)
        out_fresh = np.zeros(total, bool)
        out_row[at_fast], out_px[at_fast], out_qty[at_fast] = f_row, px[f_row, f_col], \
            qty[f_row, f_col]
        out_row[at_slow], out_px[at_slow], out_qty[at_slow] = rows, prices, new
        out_fresh[at_slow] = fresh
        return LevelEvents(self.ns[out_row], out_px, out_qty, out_fresh)

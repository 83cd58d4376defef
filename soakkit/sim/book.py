"""Building the top N levels of a book from snapshots and diffs (for L2 tapes).

Depth streams send *diffs* (price, new quantity; 0 removes the level) and, now and then,
a *snapshot* of the whole side (a REST depth snapshot, Tardis' ``is_snapshot`` rows). The
builder keeps every level it was told of, in two sorted price lists, and after each
message records the best ``levels`` of each side: the rows of a
:class:`~soakkit.sim.depth.DepthBook`. Prices are integer ticks, quantities lots.

A book built from diffs alone (a capture without a snapshot) holds only the levels that
changed since the recording began: a level that sat untouched is missing, so the tape
would show that price empty. Importers say so in their report and start the depth at
the first snapshot when there is one. A level left *through* the other side's best (a
stale one: the diff removing it was lost) is dropped when the row is recorded and
counted (:attr:`BookBuilder.uncrossed`).
"""

from __future__ import annotations

import bisect

import numpy as np

from soakkit.sim.depth import DepthBook

__all__ = ["BookBuilder"]


class BookBuilder:
    """Both sides of a book, updated level by level; :meth:`record` keeps the top rows."""

    def __init__(self, levels: int) -> None:
        self.levels = levels
        self._qty: tuple[dict[int, float], dict[int, float]] = ({}, {})  # bids, asks
        self._keys: tuple[list[int], list[int]] = ([], [])  # -bid px ascending, ask px asc.
        self._rows: list[tuple[int, int, list[int], list[float], list[int], list[float]]] = []
        self.uncrossed = 0  #: stale levels dropped because they crossed the other side
        self._last = 1  #: the side updated last

    def clear(self, side: int) -> None:
        """Forget one side (+1 bids, -1 asks) before a snapshot of it."""
        k = 0 if side > 0 else 1
        self._qty[k].clear()
        self._keys[k].clear()

    def update(self, side: int, px: int, qty: float) -> None:
        """Set the level at ``px`` ticks to ``qty`` lots (0 or less removes it)."""
        k = 0 if side > 0 else 1
        book, keys = self._qty[k], self._keys[k]
        key = -px if side > 0 else px
        self._last = side
        if qty > 0:
            if px not in book:
                bisect.insort(keys, key)
            book[px] = qty
        elif px in book:
            del book[px]
            del keys[bisect.bisect_left(keys, key)]

    def _uncross(self) -> None:
        """Drop the other side's levels that the last updated side now crosses (stale)."""
        bids, asks = self._keys
        last = self._last
        while bids and asks and -bids[0] >= asks[0]:
            if last > 0:
                self.update(-1, asks[0], 0.0)
            else:
                self.update(1, -bids[0], 0.0)
            self.uncrossed += 1
        self._last = last

    def top(self) -> tuple[list[int], list[float], list[int], list[float]]:
        """The best ``levels`` of each side now: bid prices, quantities, ask prices,
        quantities (best first)."""
        self._uncross()
        n = self.levels
        bid_px = [-k for k in self._keys[0][:n]]
        ask_px = self._keys[1][:n]
        return (bid_px, [self._qty[0][p] for p in bid_px], ask_px,
                [self._qty[1][p] for p in ask_px])

    def record(self, ns: int, local_ns: int) -> None:
        """Keep the current top ``levels`` of both sides as a row at ``ns``."""
        self._rows.append((ns, local_ns, *self.top()))

    def book(self, with_local: bool) -> DepthBook:
        """The recorded rows as a :class:`DepthBook` (missing levels: price 0, quantity 0)."""
        rows, n = len(self._rows), self.levels
        arrays = [np.zeros((rows, n), np.int64), np.zeros((rows, n)),
                  np.zeros((rows, n), np.int64), np.zeros((rows, n))]
        for i, (_, _, bid_px, bid_qty, ask_px, ask_qty) in enumerate(self._rows):
            arrays[0][i, :len(bid_px)] = bid_px
            arrays[1][i, :len(bid_qty)] = bid_qty
            arrays[2][i, :len(ask_px)] = ask_px
            arrays[3][i, :len(ask_qty)] = ask_qty
        ns = np.array([r[0] for r in self._rows], dtype=np.int64)
        local = np.array([r[1] for r in self._rows], dtype=np.int64) if with_local else None
        return DepthBook(ns, arrays[0], arrays[1], arrays[2], arrays[3], local)

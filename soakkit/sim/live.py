"""Queue matching of one order at a time, event by event: the event-driven engine's matcher.

:func:`soakkit.sim.matching.find_opportunities` computes the fill opportunities of many
orders at once, which needs each order's whole life (price, arrival, cancel) up front: the
vectorised legacy quoter knows it. A strategy driven by events decides each order when it
sends it and its cancel later, so :class:`LiveOrder` follows one order through the side's
events as time advances, with exactly the rules of :mod:`soakkit.sim.matching` (same
classification, L2 depth changes behind the best included, the queue model's
:meth:`~soakkit.sim.queue.QueueModel.front_after`, same rounding);
``tests/test_live_matching.py`` checks that both give the same opportunities for random
orders on random L1 tapes and on a recorded L2 tape. Plain Python: a resting order sees a
few events per loop tick, where numpy's per-call cost would dominate.
"""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np

from soakkit.sim.matching import side_timeline
from soakkit.sim.queue import QueueModel
from soakkit.sim.tape import MarketTape

__all__ = ["LiveOrder", "SideEvents"]

_LEVEL, _THROUGH, _CROSS, _DEPTH, _GONE = 0, 1, 2, 3, 4
_INF = math.inf


class SideEvents:
    """One side's timeline (:func:`~soakkit.sim.matching.side_timeline`) as Python lists."""

    def __init__(self, tape: MarketTape, side: int) -> None:
        tl = side_timeline(tape, side)
        self.tape = tape
        self.side = side
        self.ns: list[int] = tl.ns.tolist()
        self.is_trade: list[bool] = tl.is_trade.tolist()
        self.px: list[int] = tl.px.tolist()
        self.qty: list[float] = tl.qty.tolist()
        self.opp: list[int] = tl.opp.tolist()
        #: L2 tapes: a depth change behind the best, and whether its level came into view
        self.is_level: list[bool] | None = None if tl.is_level is None else tl.is_level.tolist()
        self.fresh: list[bool] | None = None if tl.fresh is None else tl.fresh.tolist()
        self.quote_ns: list[int] = tape.quote_ns.tolist()
        if side > 0:
            own_px, own_qty, opp_px = tape.bid_px, tape.bid_qty, tape.ask_px
        else:
            own_px, own_qty, opp_px = -tape.ask_px, tape.ask_qty, -tape.bid_px
        self.book_px: list[int] = own_px.tolist()
        self.book_qty: list[float] = own_qty.tolist()
        self.book_opp: list[int] = opp_px.tolist()


class LiveOrder:
    """A resting order at ``price`` ticks on ``events.side``, matched as time advances.

    On creation (its arrival at the matching engine) it reads the book in force: a post-only
    order that would cross is :attr:`expired`; :attr:`front0` is the queue ahead (+inf:
    behind the best level). :meth:`advance` then takes the side's events up to a time and
    returns the new fill opportunities: ``(ns, cumulative whole lots available)``, the
    cumulative amount +inf when the whole order fills.
    """

    __slots__ = ("_cursor", "_done", "_events", "_front", "_last_q", "_p", "_prev_kind",
                 "_queue", "_rounded", "_seen", "_through", "_through_all", "_traded", "_whole",
                 "expired", "front0")

    def __init__(self, events: SideEvents, price: int, arrive_ns: int, queue: QueueModel,
                 whole: bool, *, through_fills_all: bool = False) -> None:
        self._events = events
        self._p = p = price * events.side  # bid-like
        q0 = max(bisect_right(events.quote_ns, arrive_ns) - 1, 0)
        own_px, own_qty = events.book_px[q0], events.book_qty[q0]
        self.expired = events.book_opp[q0] <= p
        if own_px == p:
            self.front0, self._last_q = float(own_qty), float(own_qty)
        elif own_px < p:
            self.front0, self._last_q = 0.0, 0.0
        else:
            self.front0, self._last_q = _INF, math.nan
            depth = events.tape.depth
            if depth is not None:  # behind the best: what an L2 tape shows at our price
                shown = float(depth.level_qty(events.side, depth.row_at(np.array([arrive_ns])),
                                              np.array([p]))[0])
                if not math.isnan(shown):
                    self.front0 = self._last_q = shown
        self._front = self.front0
        self._cursor = len(events.ns) if self.expired else bisect_right(events.ns, arrive_ns)
        self._queue = queue
        self._whole = whole
        self._through_all = whole or through_fills_all
        self._traded = self._seen = self._through = 0.0
        self._rounded = 0.0
        self._done = self.expired
        self._prev_kind = -1

    def advance(self, until_ns: int) -> list[tuple[int, float]]:
        """Take the events at or before ``until_ns``; the opportunities among them."""
        ev = self._events
        ns, is_trade, px, qty, opp = ev.ns, ev.is_trade, ev.px, ev.qty, ev.opp
        is_level, fresh = ev.is_level, ev.fresh
        out: list[tuple[int, float]] = []
        i, n, p = self._cursor, len(ns), self._p
        while i < n and ns[i] <= until_ns:
            e = i
            i += 1
            if self._done:
                continue
            x = px[e]
            if is_level is not None and is_level[e]:  # a depth change behind the best
                if x != p:
                    continue
                kind = _DEPTH
            elif is_trade[e]:
                if x == p:
                    kind = _LEVEL
                elif x < p:
                    kind = _THROUGH
                else:
                    continue
            elif opp[e] <= p:
                kind = _CROSS
            elif x == p:
                kind = _DEPTH
            elif x < p:
                kind = _GONE
            else:
                continue
            if kind == _GONE and self._prev_kind == _GONE:
                continue  # a level already gone stays gone
            self._prev_kind = kind
            if kind == _LEVEL:
                self._traded += qty[e]
            elif kind == _THROUGH:
                self._through += qty[e]
                if self._through_all:
                    self._done = True
            elif kind == _CROSS:
                self._done = True
            else:
                moved = self._traded - self._seen
                new = 0.0 if kind == _GONE else qty[e]
                prev = math.nan if fresh is not None and fresh[e] else self._last_q
                self._front = self._queue.front_after(self._front - moved, prev, new, moved)
                self._seen = self._traded
                self._last_q = new
            if self._done:
                avail = _INF
            else:
                avail = max(-(self._front - (self._traded - self._seen)), 0.0) + self._through
            rounded = math.floor(avail + 0.5) if avail != _INF else _INF
            if rounded > self._rounded:
                if self._whole:
                    self._done = True
                    rounded = _INF
                self._rounded = rounded
                out.append((ns[e], rounded))
        self._cursor = i
        return out

    @property
    def finished(self) -> bool:
        """No more opportunities can come (filled through, crossed, expired)."""
        return self._done
